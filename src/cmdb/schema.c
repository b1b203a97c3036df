// SPDX-License-Identifier: MIT
/* The CMDB's schema: which version it is at, and create-scheme's upgrade
 * through the numbered sql/ files embedded in the binary. */
#include "cmdb/pg_internal.h"

#include "cmdb/sql_embed.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary key ("SHWK" = 0x5348574b) naming the create-scheme lock. */
#define SCHEMA_LOCK_SQL "SELECT pg_advisory_lock(1397249867)"

int cmdb_schema_check(struct cmdb *db)
{
	/* Two statements: a query naming a missing table fails to parse.
	 * Both within the connection's deadline, if it has one (the
	 * probe's start-up check must not wait on a stalled CMDB). */
	cmdb_deadline_start(db);
	_cleanup_(pqclearp) PGresult *res = cmdb_pq_exec(
		db, "SELECT to_regclass('shawk_schema_version') IS NULL");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	bool missing = !strcmp(PQgetvalue(res, 0, 0), "t");
	if (!missing) {
		_cleanup_(pqclearp) PGresult *v = cmdb_pq_exec(
			db, "SELECT NOT EXISTS (SELECT 1 FROM "
			    "shawk_schema_version)");
		if (!v || PQresultStatus(v) != PGRES_TUPLES_OK)
			return cmdb_fail(db, v);
		missing = !strcmp(PQgetvalue(v, 0, 0), "t");
	}
	if (missing) {
		snprintf(db->err, sizeof(db->err), "%s", CMDB_NO_SCHEMA_MSG);
		return -ENOENT;
	}
	return 0;
}

/* The version a schema file carries: the number its name starts with
 * ("007_history.sql" is 7). Numbers may skip (a file merged later fills
 * the gap): versions are not positions in sql_files[]. */
static unsigned file_version(const struct sql_file *f)
{
	return (unsigned)strtoul(f->name, NULL, 10);
}

static unsigned newest_version(void)
{
	unsigned v = 0;
	for (size_t i = 0; i < sql_files_count; i++)
		if (file_version(&sql_files[i]) > v)
			v = file_version(&sql_files[i]);
	return v;
}

/* The versions applied so far, as a bitmap (versions 1 to 999). */
#define MAX_VERSION 999
static int schema_versions(struct cmdb *db, bool applied[MAX_VERSION + 1],
			   unsigned *ret_max)
{
	_cleanup_(pqclearp) PGresult *res = cmdb_pq_exec(
		db, "SELECT version FROM shawk_schema_version");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	*ret_max = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		unsigned v = (unsigned)strtoul(PQgetvalue(res, i, 0), NULL, 10);
		if (v <= MAX_VERSION)
			applied[v] = true;
		if (v > *ret_max)
			*ret_max = v;
	}
	return 0;
}

static int apply_one(struct cmdb *db, const struct sql_file *f)
{
	char vbuf[16];
	const char *params[] = { vbuf, f->name };
	PGresult *res;
	int r;

	snprintf(vbuf, sizeof(vbuf), "%u", file_version(f));
	if ((r = cmdb_exec(db, "BEGIN")) < 0)
		return r;
	/* Multi-statement text: PQexec runs it inside our transaction. */
	if ((r = cmdb_exec(db, f->text)) < 0)
		goto fail;
	res = PQexecParams(db->conn,
			   "INSERT INTO shawk_schema_version (version, name) "
			   "VALUES ($1, $2)",
			   2, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = cmdb_fail(db, res);
		PQclear(res);
		goto fail;
	}
	PQclear(res);
	if ((r = cmdb_exec(db, "COMMIT")) < 0)
		goto fail;
	return 0;
fail:;
	/* Keep the first error (ROLLBACK's own would hide it), named after
	 * the file. */
	char msg[sizeof(db->err)];
	snprintf(msg, sizeof(msg), "%s: %.*s", f->name,
		 (int)(sizeof(msg) - 64), db->err);
	PQclear(PQexec(db->conn, "ROLLBACK"));
	strscpy(db->err, msg, sizeof(db->err));
	return r;
}

int cmdb_schema_apply(struct cmdb *db, unsigned target, unsigned *ret_before,
		      unsigned *ret_after)
{
	bool applied[MAX_VERSION + 1] = { 0 };
	unsigned cur = 0, newest = newest_version(), after;
	int r, count = 0;

	if (target == 0)
		target = newest;
	bool known = false;
	for (size_t i = 0; i < sql_files_count; i++)
		known |= file_version(&sql_files[i]) == target;
	if (!known) {
		snprintf(db->err, sizeof(db->err),
			 "schema version %u unknown: this binary carries "
			 "versions 1 to %u",
			 target, newest);
		return -EINVAL;
	}
	/* Session lock: concurrent runs (e.g. one per agent at start-up)
	 * wait here instead of racing on CREATE TABLE. */
	if ((r = cmdb_exec(db, SCHEMA_LOCK_SQL)) < 0)
		return r;
	r = cmdb_exec(db, "CREATE TABLE IF NOT EXISTS shawk_schema_version ("
			  " version integer PRIMARY KEY,"
			  " name text NOT NULL,"
			  " applied_at timestamptz NOT NULL DEFAULT now())");
	if (r < 0)
		goto out;
	if ((r = schema_versions(db, applied, &cur)) < 0)
		goto out;
	if (cur > newest) {
		snprintf(db->err, sizeof(db->err),
			 "the CMDB has schema version %u, newer than this "
			 "binary (%u): upgrade shawk",
			 cur, newest);
		r = -EINVAL;
		goto out;
	}
	if (ret_before)
		*ret_before = cur;
	/* Every file up to target not applied yet, in order: also one whose
	 * number is below the current version (merged after a later one). */
	after = cur;
	for (size_t i = 0; i < sql_files_count; i++) {
		unsigned v = file_version(&sql_files[i]);
		if (v > target || v == 0 || v > MAX_VERSION || applied[v])
			continue;
		if ((r = apply_one(db, &sql_files[i])) < 0)
			goto out;
		applied[v] = true;
		if (v > after)
			after = v;
		count++;
	}
	if (ret_after)
		*ret_after = after;
	r = count;
out:
	if (cmdb_is_connected(db))
		PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock_all()"));
	return r;
}
