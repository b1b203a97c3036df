/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PG_INTERNAL_H
#define SHAWK_CMDB_PG_INTERNAL_H

/* Shared by the files of src/cmdb only: the one place libpq is included. */
#include "cmdb/delta.h"
#include "cmdb/pg.h"

#include <libpq-fe.h>

struct cmdb {
	PGconn *conn; /* NULL once abandoned at a deadline */
	char err[256];
	/* The flush's staging table exists in this session. */
	bool flush_table;
	unsigned flushes; /* since, for the staging tables' VACUUM */
	/* The flush's unique.sql is prepared in this session (store.c). */
	bool flush_prepared;
	/* What this session's flushes committed, flow by flow (delta.h). */
	struct cmdb_delta delta;
	/* Limits (cmdb_connect_limited): each flush or pods write must end
	 * within timeout_ms; cancel_fd readable ends the wait at once. Both
	 * off (0, -1) for the CLI's connections: libpq blocks as it likes. */
	int64_t timeout_ms;
	int cancel_fd;
	int64_t deadline_ms; /* monotonic; 0: none (the operation in course) */
	bool abandoned;	     /* the last wait ran out: connection dropped */
};

/*
 * The deadline-aware libpq calls every agent path uses (the same results
 * as PQexec, PQexecParams, PQputCopyData, PQputCopyEnd, PQgetResult).
 * Past db->deadline_ms, or when db->cancel_fd becomes readable, the
 * connection is dropped (db->conn NULL, db->abandoned) and they fail: a
 * server that stopped answering without closing cannot hold the caller.
 */
PGresult *cmdb_pq_exec(struct cmdb *db, const char *sql);
PGresult *cmdb_pq_exec_params(struct cmdb *db, const char *sql, int n,
			      const char *const *params);
/* PQprepare and PQexecPrepared, the same way. */
PGresult *cmdb_pq_prepare(struct cmdb *db, const char *name, const char *sql,
			  int n);
PGresult *cmdb_pq_exec_prepared(struct cmdb *db, const char *name, int n,
				const char *const *params);
int cmdb_pq_put_copy_data(struct cmdb *db, const char *buf, int len);
int cmdb_pq_put_copy_end(struct cmdb *db, const char *errmsg);
PGresult *cmdb_pq_get_result(struct cmdb *db);

/* Starts an operation's deadline (now + db->timeout_ms; none when 0) and
 * clears it. */
void cmdb_deadline_start(struct cmdb *db);
void cmdb_deadline_stop(struct cmdb *db);

/*
 * Records PQ's message for res (or the connection's) as the last error and
 * returns -ETIMEDOUT when the connection was abandoned at its deadline,
 * -ENOTCONN when it is gone, -EIO otherwise.
 */
int cmdb_fail(struct cmdb *db, const PGresult *res);

/* Runs a statement without parameters; returns 0 or cmdb_fail(). */
int cmdb_exec(struct cmdb *db, const char *sql);

static inline void pqclearp(PGresult **r)
{
	if (*r)
		PQclear(*r);
}

#endif
