// SPDX-License-Identifier: MIT
#include "cmdb/pg_internal.h"

#include "cmdb/sql_embed.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary key ("SHWK" = 0x5348574b) naming the create-scheme lock. */
#define SCHEMA_LOCK_SQL "SELECT pg_advisory_lock(1397249867)"

static void one_line(char *dst, size_t dstsz, const char *msg)
{
	size_t o = 0;
	for (const char *p = msg ? msg : ""; *p && o + 1 < dstsz; p++) {
		char c = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
		if (c == ' ' && (o == 0 || dst[o - 1] == ' '))
			continue;
		dst[o++] = c;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* PostgreSQL's SQLSTATE for a table or view that does not exist. */
#define SQLSTATE_UNDEFINED_TABLE "42P01"

int cmdb_fail(struct cmdb *db, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
				: NULL;
	if (state && !strcmp(state, SQLSTATE_UNDEFINED_TABLE)) {
		/* Not the raw "relation ... does not exist": say what to do. */
		snprintf(db->err, sizeof(db->err), "%s", CMDB_NO_SCHEMA_MSG);
		return -EIO;
	}
	if (!msg || !*msg)
		msg = PQerrorMessage(db->conn);
	one_line(db->err, sizeof(db->err), msg);
	if (!*db->err)
		strscpy(db->err, "unknown PostgreSQL error", sizeof(db->err));
	return PQstatus(db->conn) == CONNECTION_OK ? -EIO : -ENOTCONN;
}

int cmdb_exec(struct cmdb *db, const char *sql)
{
	_cleanup_(pqclearp) PGresult *res = PQexec(db->conn, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	return 0;
}

int cmdb_exec_sql(struct cmdb *db, const char *sql)
{
	return cmdb_exec(db, sql);
}

int cmdb_exec_params(struct cmdb *db, const char *sql, int n,
		     const char *const *params)
{
	_cleanup_(pqclearp) PGresult *res =
		PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	return 0;
}

/* NOTICEs (CREATE ... IF NOT EXISTS and the like) are not for the user. */
static void notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

int cmdb_url_check(const char *url, char *err, size_t errsz)
{
	char *perr = NULL;
	bool uri = !strncmp(url, "postgresql://", 13) ||
		   !strncmp(url, "postgres://", 11);
	/* Any other scheme ("mysql://") would be read as a key=value string
	 * and fail there with a less helpful message. */
	if (!uri && strstr(url, "://")) {
		snprintf(err, errsz, "not a PostgreSQL URI: expected "
				     "postgresql://... or key=value pairs");
		return -EINVAL;
	}
	PQconninfoOption *o = PQconninfoParse(url, &perr);
	if (!o) {
		char m[200];
		one_line(m, sizeof(m), perr ? perr : "out of memory");
		snprintf(err, errsz, "not a PostgreSQL URI or key=value "
				     "string (%s)", m);
		PQfreemem(perr);
		return perr ? -EINVAL : -ENOMEM;
	}
	PQconninfoFree(o);
	return 0;
}

/* libpq's "connection to server on socket ... failed: FATAL: database
 * "x" does not exist" names the server twice; keep what refused. */
static void connect_error(char *dst, size_t dstsz, const char *msg)
{
	char line[512];
	one_line(line, sizeof(line), msg);
	const char *fatal = strstr(line, "FATAL: ");
	if (fatal && strstr(fatal, "does not exist"))
		snprintf(dst, dstsz, "%s (check the database and user in the "
				     "--cmdb URL)", fatal + 7);
	else if (fatal && strstr(fatal, "authentication failed"))
		snprintf(dst, dstsz, "login refused: %s", fatal + 7);
	else
		strscpy(dst, line, dstsz);
}

int cmdb_connect(const char *url, struct cmdb **ret, char *err, size_t errsz)
{
	/* Keywords are processed in order and the last one wins, so these
	 * defaults come before dbname (the expanded URL), which may override
	 * them. */
	const char *const keys[] = { "connect_timeout", "client_encoding",
				     "fallback_application_name", "dbname",
				     NULL };
	const char *const vals[] = { "2", "UTF8", "shawk", url, NULL };
	struct cmdb *db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (!db->conn) {
		free(db);
		return -ENOMEM;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		if (err && errsz)
			connect_error(err, errsz, PQerrorMessage(db->conn));
		cmdb_free(db);
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(db->conn, notice_ignore, NULL);
	*ret = db;
	return 0;
}

void cmdb_free(struct cmdb *db)
{
	if (!db)
		return;
	if (db->conn)
		PQfinish(db->conn);
	free(db);
}

void cmdb_freep(struct cmdb **db)
{
	cmdb_free(*db);
	*db = NULL;
}

bool cmdb_is_connected(const struct cmdb *db)
{
	return db && PQstatus(db->conn) == CONNECTION_OK;
}

const char *cmdb_last_error(const struct cmdb *db)
{
	return db ? db->err : "";
}

int cmdb_schema_check(struct cmdb *db)
{
	/* Two statements: a query naming a missing table fails to parse. */
	_cleanup_(pqclearp) PGresult *res = PQexec(
		db->conn, "SELECT to_regclass('shawk_schema_version') IS NULL");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	bool missing = !strcmp(PQgetvalue(res, 0, 0), "t");
	if (!missing) {
		_cleanup_(pqclearp) PGresult *v = PQexec(
			db->conn, "SELECT NOT EXISTS (SELECT 1 FROM "
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

static int schema_version(struct cmdb *db, unsigned *ret)
{
	_cleanup_(pqclearp) PGresult *res = PQexec(
		db->conn, "SELECT coalesce(max(version), 0) FROM "
			  "shawk_schema_version");
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	*ret = (unsigned)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
	return 0;
}

static int apply_one(struct cmdb *db, unsigned version)
{
	const struct sql_file *f = &sql_files[version - 1];
	char vbuf[16];
	const char *params[] = { vbuf, f->name };
	PGresult *res;
	int r;

	snprintf(vbuf, sizeof(vbuf), "%u", version);
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
	unsigned cur = 0, applied = 0;
	int r;

	if (target == 0)
		target = (unsigned)sql_files_count;
	if (target > sql_files_count) {
		snprintf(db->err, sizeof(db->err),
			 "schema version %u unknown: this binary carries "
			 "versions 1 to %zu",
			 target, sql_files_count);
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
	if ((r = schema_version(db, &cur)) < 0)
		goto out;
	if (cur > sql_files_count) {
		snprintf(db->err, sizeof(db->err),
			 "the CMDB has schema version %u, newer than this "
			 "binary (%zu): upgrade shawk",
			 cur, sql_files_count);
		r = -EINVAL;
		goto out;
	}
	if (ret_before)
		*ret_before = cur;
	for (unsigned v = cur + 1; v <= target; v++) {
		if ((r = apply_one(db, v)) < 0)
			goto out;
		applied++;
	}
	if (ret_after)
		*ret_after = cur > target ? cur : target;
	r = (int)applied;
out:
	if (cmdb_is_connected(db))
		PQclear(PQexec(db->conn, "SELECT pg_advisory_unlock_all()"));
	return r;
}
