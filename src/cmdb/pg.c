// SPDX-License-Identifier: MIT
#include "cmdb/pg_internal.h"

#include "core/clock.h"
#include "core/duration.h"
#include "core/util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	/* The message of the abandonment is the one to keep. */
	if (db->abandoned)
		return -ETIMEDOUT;
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

/* ---- waiting with a deadline ------------------------------------------ */

void cmdb_deadline_start(struct cmdb *db)
{
	db->deadline_ms = db->timeout_ms ? now_monotonic_ms() + db->timeout_ms
					 : 0;
}

void cmdb_deadline_stop(struct cmdb *db)
{
	db->deadline_ms = 0;
}

/* Drops the connection: the server may hold our transaction until it
 * notices (its statement_timeout, TCP keepalives); never us. */
static void abandon(struct cmdb *db, const char *why)
{
	if (db->abandoned)
		return;
	snprintf(db->err, sizeof(db->err), "%s: connection abandoned", why);
	db->abandoned = true;
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
}

/*
 * Waits until the socket is ready for events, the deadline passes or the
 * cancel fd is readable. Returns 0 (ready, or interrupted: re-check) or
 * -ETIMEDOUT (the connection was abandoned).
 */
static int wait_io(struct cmdb *db, short events, short *ret_revents)
{
	struct pollfd p[2] = {
		{ .fd = PQsocket(db->conn), .events = events },
		{ .fd = db->cancel_fd, .events = POLLIN },
	};
	int timeout = -1;
	if (!db->conn || p[0].fd < 0) {
		abandon(db, "no connection");
		return -ETIMEDOUT;
	}
	if (db->deadline_ms) {
		int64_t left = db->deadline_ms - now_monotonic_ms();
		if (left <= 0) {
			char why[64];
			snprintf(why, sizeof(why), "no answer within %lldms",
				 (long long)db->timeout_ms);
			abandon(db, why);
			return -ETIMEDOUT;
		}
		timeout = duration_poll_timeout(left);
	}
	int n = poll(p, db->cancel_fd >= 0 ? 2 : 1, timeout);
	if (n > 0 && db->cancel_fd >= 0 && (p[1].revents & POLLIN)) {
		abandon(db, "stopped while waiting for the CMDB");
		return -ETIMEDOUT;
	}
	*ret_revents = n > 0 ? p[0].revents : 0;
	return 0;
}

/* Sends what libpq has queued (non-blocking connections). 0 or -1. */
static int flush_out(struct cmdb *db)
{
	int r;
	while (db->conn && (r = PQflush(db->conn)) == 1) {
		short rev = 0;
		if (wait_io(db, POLLIN | POLLOUT, &rev) < 0)
			return -1;
		if ((rev & POLLIN) && !PQconsumeInput(db->conn))
			return -1;
	}
	return db->conn && r == 0 ? 0 : -1;
}

PGresult *cmdb_pq_get_result(struct cmdb *db)
{
	if (!db->conn || flush_out(db) < 0)
		return NULL;
	while (PQisBusy(db->conn)) {
		short rev = 0;
		if (wait_io(db, POLLIN, &rev) < 0)
			return NULL;
		if (rev && !PQconsumeInput(db->conn))
			break; /* PQgetResult reports it */
	}
	return PQgetResult(db->conn);
}

/* PQexec's loop over the results: the last one, stopping at COPY. */
static PGresult *exec_finish(struct cmdb *db)
{
	PGresult *last = NULL, *res;
	while ((res = cmdb_pq_get_result(db))) {
		PQclear(last);
		last = res;
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
		    st == PGRES_COPY_BOTH || PQstatus(db->conn) == CONNECTION_BAD)
			break;
	}
	if (db->abandoned) {
		PQclear(last);
		return NULL;
	}
	return last;
}

PGresult *cmdb_pq_exec(struct cmdb *db, const char *sql)
{
	if (!db->conn)
		return NULL;
	if (db->timeout_ms == 0 && db->cancel_fd < 0)
		return PQexec(db->conn, sql);
	if (!PQsendQuery(db->conn, sql))
		return NULL;
	return exec_finish(db);
}

PGresult *cmdb_pq_exec_params(struct cmdb *db, const char *sql, int n,
			      const char *const *params)
{
	if (!db->conn)
		return NULL;
	if (db->timeout_ms == 0 && db->cancel_fd < 0)
		return PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL,
				    0);
	if (!PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0))
		return NULL;
	return exec_finish(db);
}

PGresult *cmdb_pq_prepare(struct cmdb *db, const char *name, const char *sql,
			  int n)
{
	if (!db->conn)
		return NULL;
	if (db->timeout_ms == 0 && db->cancel_fd < 0)
		return PQprepare(db->conn, name, sql, n, NULL);
	if (!PQsendPrepare(db->conn, name, sql, n, NULL))
		return NULL;
	return exec_finish(db);
}

PGresult *cmdb_pq_exec_prepared(struct cmdb *db, const char *name, int n,
				const char *const *params)
{
	if (!db->conn)
		return NULL;
	if (db->timeout_ms == 0 && db->cancel_fd < 0)
		return PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
	if (!PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, 0))
		return NULL;
	return exec_finish(db);
}

int cmdb_pq_put_copy_data(struct cmdb *db, const char *buf, int len)
{
	int r;
	/* Non-blocking: 0 means "buffers full, try again". */
	while (db->conn && (r = PQputCopyData(db->conn, buf, len)) == 0) {
		short rev = 0;
		if (wait_io(db, POLLOUT | POLLIN, &rev) < 0)
			return -1;
		if ((rev & POLLIN) && !PQconsumeInput(db->conn))
			return -1;
	}
	return db->conn ? r : -1;
}

int cmdb_pq_put_copy_end(struct cmdb *db, const char *errmsg)
{
	int r;
	while (db->conn && (r = PQputCopyEnd(db->conn, errmsg)) == 0) {
		short rev = 0;
		if (wait_io(db, POLLOUT | POLLIN, &rev) < 0)
			return -1;
		if ((rev & POLLIN) && !PQconsumeInput(db->conn))
			return -1;
	}
	if (!db->conn || r < 0)
		return -1;
	return flush_out(db) < 0 ? -1 : 1;
}

int cmdb_exec(struct cmdb *db, const char *sql)
{
	_cleanup_(pqclearp) PGresult *res = cmdb_pq_exec(db, sql);
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
		cmdb_pq_exec_params(db, sql, n, params);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	return 0;
}

int cmdb_query_int64(struct cmdb *db, const char *sql, int64_t *ret)
{
	/* Like its neighbours: the extended protocol (one statement) and
	 * the deadline-aware call, failures through cmdb_fail(). */
	_cleanup_(pqclearp) PGresult *res =
		cmdb_pq_exec_params(db, sql, 0, NULL);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1 || PQnfields(res) != 1)
		return cmdb_fail(db, res);
	*ret = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	return 0;
}

/* NOTICEs (CREATE ... IF NOT EXISTS and the like) are not for the user. */
static void notice_ignore(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Keepalives and a TCP user timeout: a peer that vanished (no RST) is
 * noticed by the kernel even between our own deadlines. */
static void limit_keywords(const struct cmdb_limits *l, const char **keys,
			   const char **vals, size_t *n, char *tcp_user,
			   size_t tcp_user_sz, char *ct, size_t ct_sz,
			   char *opts, size_t opts_sz)
{
	/* The server gives up too (a lock it waits for, a statement that
	 * runs long), so a dropped connection's work does not linger. */
	snprintf(opts, opts_sz, "-c statement_timeout=%lld -c lock_timeout=%lld",
		 (long long)l->timeout_ms, (long long)l->timeout_ms);
	keys[*n] = "options";
	vals[(*n)++] = opts;
	/* libpq's connect_timeout counts whole seconds, at least 2. */
	long secs = (long)((l->timeout_ms + 999) / 1000);
	snprintf(ct, ct_sz, "%ld", secs < 2 ? 2 : secs);
	snprintf(tcp_user, tcp_user_sz, "%lld", (long long)l->timeout_ms);
	static const char *const k[] = { "keepalives", "keepalives_idle",
					 "keepalives_interval",
					 "keepalives_count" };
	static const char *const v[] = { "1", "5", "2", "3" };
	for (size_t i = 0; i < ARRAY_SIZE(k); i++) {
		keys[*n] = k[i];
		vals[(*n)++] = v[i];
	}
	keys[*n] = "tcp_user_timeout";
	vals[(*n)++] = tcp_user;
	keys[*n] = "connect_timeout";
	vals[(*n)++] = ct;
}

/* Connects without blocking past the deadline (or the cancel fd). */
static int connect_async(struct cmdb *db, const char *const *keys,
			 const char *const *vals)
{
	db->conn = PQconnectStartParams(keys, vals, 1);
	if (!db->conn)
		return -ENOMEM;
	if (PQstatus(db->conn) == CONNECTION_BAD)
		return -ECONNREFUSED;
	cmdb_deadline_start(db);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	for (;;) {
		short ev = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		short rev = 0;
		if (st == PGRES_POLLING_OK)
			break;
		if (st == PGRES_POLLING_FAILED)
			return -ECONNREFUSED;
		if (wait_io(db, ev, &rev) < 0)
			return -ETIMEDOUT;
		if (rev)
			st = PQconnectPoll(db->conn);
	}
	cmdb_deadline_stop(db);
	return PQsetnonblocking(db->conn, 1) == 0 ? 0 : -ECONNREFUSED;
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
	return cmdb_connect_limited(url, NULL, ret, err, errsz);
}

int cmdb_connect_limited(const char *url, const struct cmdb_limits *l,
			 struct cmdb **ret, char *err, size_t errsz)
{
	/* Keywords are processed in order and the last one wins, so these
	 * defaults come before dbname (the expanded URL), which may override
	 * them. */
	const char *keys[12] = { "connect_timeout", "client_encoding",
				 "fallback_application_name" };
	const char *vals[12] = { "2", "UTF8", "shawk" };
	size_t n = 3;
	char tcp_user[24], ct[24], opts[96];
	struct cmdb *db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->cancel_fd = -1;
	if (l && l->timeout_ms > 0) {
		db->timeout_ms = l->timeout_ms;
		limit_keywords(l, keys, vals, &n, tcp_user, sizeof(tcp_user), ct,
			       sizeof(ct), opts, sizeof(opts));
	}
	if (l)
		db->cancel_fd = l->cancel_fd;
	keys[n] = "dbname";
	vals[n++] = url;
	keys[n] = NULL;
	vals[n] = NULL;
	int r = 0;
	if (db->timeout_ms || db->cancel_fd >= 0) {
		r = connect_async(db, keys, vals);
	} else {
		db->conn = PQconnectdbParams(keys, vals, 1);
		if (!db->conn)
			r = -ENOMEM;
		else if (PQstatus(db->conn) != CONNECTION_OK)
			r = -ECONNREFUSED;
	}
	if (r == -ENOMEM && !db->conn) {
		free(db);
		return r;
	}
	if (r < 0) {
		if (err && errsz && db->abandoned)
			strscpy(err, db->err, errsz);
		else if (err && errsz)
			connect_error(err, errsz, PQerrorMessage(db->conn));
		cmdb_free(db);
		return r == -ETIMEDOUT ? r : -ECONNREFUSED;
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
	cmdb_delta_clear(&db->delta);
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
