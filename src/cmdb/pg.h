/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PG_H
#define SHAWK_CMDB_PG_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A connection to the CMDB. libpq stays inside src/cmdb/: callers only see
 * this opaque handle, -errno codes and a one-line message.
 */
struct cmdb;

/*
 * Connects to url (a libpq URI or key=value string; TLS parameters such as
 * sslmode pass through). connect_timeout defaults to 2 s so an unreachable
 * server cannot stall the probe loop; the URL may override it.
 * Returns 0 and a handle to free with cmdb_free(), or -ENOMEM, or
 * -ECONNREFUSED with the reason in err (errsz bytes, may be NULL).
 */
int cmdb_connect(const char *url, struct cmdb **ret, char *err, size_t errsz);

/*
 * What the agent's connection may cost: every connect, flush and pods write
 * ends within timeout_ms (0: no limit) — the connection is dropped when the
 * server does not answer in time — and at once when cancel_fd (-1: none)
 * becomes readable (shutdown). The connection also gets TCP keepalives and
 * a TCP user timeout of timeout_ms.
 */
struct cmdb_limits {
	int64_t timeout_ms;
	int cancel_fd;
};

/*
 * cmdb_connect() within l's limits (NULL: none). Returns as cmdb_connect(),
 * or -ETIMEDOUT when the server did not complete the connection in time.
 */
int cmdb_connect_limited(const char *url, const struct cmdb_limits *l,
			 struct cmdb **ret, char *err, size_t errsz);
void cmdb_free(struct cmdb *db);

/*
 * Checks that url parses as a libpq URI (postgresql:// or postgres://) or
 * key=value string, without connecting. Returns 0, or -EINVAL with a
 * one-line reason in err (errsz bytes), or -ENOMEM.
 */
int cmdb_url_check(const char *url, char *err, size_t errsz);

/* The last error when a query meets a missing table: what to run. */
#define CMDB_NO_SCHEMA_MSG                                                   \
	"the CMDB has no shawk schema (or an older one): run `shawk "       \
	"create-scheme` first"

/*
 * Returns 0 when the shawk schema is there, -ENOENT when it is not (the
 * last error then names `shawk create-scheme`), or -EIO / -ENOTCONN.
 */
int cmdb_schema_check(struct cmdb *db);

/* Frees *db and sets it to NULL (a _cleanup_ attribute, or a reset). */
void cmdb_freep(struct cmdb **db);

/* False once the server went away; the handle must then be reconnected. */
bool cmdb_is_connected(const struct cmdb *db);

/* The last error as one line (never NULL; "" when none). */
const char *cmdb_last_error(const struct cmdb *db);

/*
 * Runs one statement (sql) or several (without parameters), outside the
 * agent's paths: bench and test set-up, the benchmark's row-by-row
 * reference. params are n text values for $1..$n (NULL: SQL NULL).
 * Returns 0 or -ENOTCONN / -EIO (see cmdb_last_error); rows are dropped.
 */
int cmdb_exec_sql(struct cmdb *db, const char *sql);
int cmdb_exec_params(struct cmdb *db, const char *sql, int n,
		     const char *const *params);

/*
 * Runs sql, one statement that returns one integer value (tests and
 * benchmarks), into *ret. Returns 0 or -EIO / -ENOTCONN.
 */
int cmdb_query_int64(struct cmdb *db, const char *sql, int64_t *ret);

/*
 * Applies sql_files[] from the current schema version up to target (0: the
 * newest), each in its own transaction, under an advisory lock so two runs
 * cannot interleave. Writes the version before and after. Returns the
 * number of files applied (0 when up to date) or -EIO / -EINVAL (target
 * beyond the files this binary carries, or a database newer than it).
 */
int cmdb_schema_apply(struct cmdb *db, unsigned target, unsigned *ret_before,
		      unsigned *ret_after);

#endif
