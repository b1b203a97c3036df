// SPDX-License-Identifier: MIT
/*
 * The agent's flush: one transaction, a constant number of round trips.
 * The rows are encoded by flush_data.c, the statements are
 * sql/flush/NAME.sql (flush_sql.h); this file runs them in order and
 * handles what the server answers.
 */
#include "cmdb/store.h"

#include "cmdb/flush_data.h"
#include "cmdb/flush_sql.h"
#include "cmdb/pg_internal.h"
#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS ((int64_t)86400 * 1000)
/* The largest batch written by the prepared unique.sql (flush_write). */
#define PREPARED_MAX_FLOWS 2000
/* Flushes between two TRUNCATEs of the staging tables (flush_begin). */
#define TRUNCATE_EVERY 16

/* What a batch writes to the history: buckets of bucket_s seconds from
 * lo_ms (its earliest first_seen, but no older than its latest last_seen
 * minus the retention) to hi_ms (its latest last_seen). */
struct history_range {
	uint32_t bucket_s;
	int64_t lo_ms, hi_ms;
};

static void history_range(const struct cmdb_batch *b, const struct flow *flows,
			  size_t n, struct history_range *h)
{
	int64_t retention = b->retention_ms > 0 ? b->retention_ms : 30 * DAY_MS;
	h->bucket_s = b->history_off ? 0 : b->bucket_s ? b->bucket_s : 60;
	h->lo_ms = INT64_MAX;
	h->hi_ms = INT64_MIN;
	for (size_t i = 0; i < n; i++) {
		if (flows[i].first_seen_ms < h->lo_ms)
			h->lo_ms = flows[i].first_seen_ms;
		if (flows[i].last_seen_ms > h->hi_ms)
			h->hi_ms = flows[i].last_seen_ms;
	}
	if (h->lo_ms < h->hi_ms - retention)
		h->lo_ms = h->hi_ms - retention;
}

static bool is_unique_violation(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return state && !strcmp(state, "23505");
}

static void rollback(struct cmdb *db)
{
	if (cmdb_is_connected(db) &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(cmdb_pq_exec(db, "ROLLBACK"));
}

/*
 * Bytes per CopyData message. The server reads each message whole into a
 * buffer of its size: 1 MiB messages were mmap'd and page-faulted afresh
 * by every COPY (~240 faults of ~25 us each on this VM for 10k flows);
 * 64 KiB stays below glibc's mmap threshold and is reused.
 */
#define COPY_CHUNK (64u << 10)

/* Streams one encoded COPY into its staging table: one round trip. */
static int copy_in(struct cmdb *db, const char *sql, const char *data,
		   size_t len)
{
	PGresult *res = cmdb_pq_exec(db, sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		int r = cmdb_fail(db, res);
		PQclear(res);
		return r;
	}
	PQclear(res);
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
		if (cmdb_pq_put_copy_data(db, data + off, (int)chunk) != 1) {
			cmdb_pq_put_copy_end(db, "shawk: copy failed");
			break;
		}
		off += chunk;
	}
	cmdb_pq_put_copy_end(db, NULL);
	int r = 0;
	while ((res = cmdb_pq_get_result(db))) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = cmdb_fail(db, res);
		PQclear(res);
	}
	if (r == 0 && db->abandoned)
		r = cmdb_fail(db, NULL);
	return r;
}

/* The staging tables, before a batch's transaction. */
static int flush_tables(struct cmdb *db, bool generic)
{
	/* Once per connection, outside the batch's transaction so that a
	 * rolled-back batch does not take the table with it. Every
	 * TRUNCATE_EVERY flushes, the dead rows flush_begin()'s DELETEs left go
	 * (sql/flush/tables.sql: why not ON COMMIT DELETE ROWS). Not a
	 * VACUUM: it records the emptied tables as holding 0 rows, and a
	 * large batch (planned for its size) was then planned with nested
	 * loops over "1 row": minutes for 100k flows. Before a batch
	 * planned for its size (large: rare), always: its COPYs and the
	 * scans of the staging tables would otherwise step over up to
	 * fifteen earlier batches' dead rows. */
	if (!db->flush_table) {
		int r = cmdb_exec(db, cmdb_flush_sql_tables);
		if (r == 0)
			db->flush_table = true;
		return r;
	}
	if (++db->flushes % TRUNCATE_EVERY == 0 || !generic)
		return cmdb_exec(db, "TRUNCATE shawk_flush_flows,"
				     " shawk_flush_passive, shawk_flush_active,"
				     " shawk_flush_conns");
	return 0;
}

/*
 * Opens the batch's transaction and claims its seq. Returns 0, -EALREADY
 * (the batch was committed before: rolled back) or an error from
 * cmdb_fail() (a failed claim rolled back).
 */
static int flush_begin(struct cmdb *db, const struct cmdb_batch *b,
		       const struct history_range *h, bool generic)
{
	char boot[24], seq[24], begin[640];
	int r;

	/* bigint is signed: the random boot id is stored as its bit pattern. */
	snprintf(boot, sizeof(boot), "%" PRId64, (int64_t)b->boot_id);
	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);

	if ((r = flush_tables(db, generic)) < 0)
		return r;
	/* One round trip. The flows GROUP BY (duplicate keys) of a large
	 * batch would spill to disk at the default 4MB work_mem.
	 * Asynchronous commit: this is telemetry, and a server crash loses at most the last flush (never
	 * a torn one); the agent rewrites its current flows next interval. */
	/* No JIT: the history's generate_series() is estimated at 1000 rows
	 * per flow, so a large batch looks costly enough to compile, and
	 * compiling took longer than the statement (100k flows: 9.6 s with
	 * the history against 1.3 s without).
	 * The same round trip creates the history partitions the batch needs
	 * (its days, and tomorrow's ahead) when missing: their DDL waits for
	 * no flush but the one that creates them. */
	/* A batch written by the prepared unique.sql (flush_write) runs its
	 * generic plan from the first execution on. No sequential scan of
	 * the CMDB's tables (the staging tables have no other path): each
	 * staged row is looked up by its key (unique.sql's LATERAL), and a
	 * table that looked empty when the statement was planned (a new
	 * CMDB, a generic plan made at the first flush) was otherwise
	 * scanned once per staged row while the statement filled it:
	 * quadratic, 1 s for 10k new flows. A larger batch is planned for
	 * its own size (unique_join.sql): the planner chooses its joins, a
	 * hash join over a scan of the table costing less than a probe per
	 * staged row. */
	int w = snprintf(begin, sizeof(begin),
			 "BEGIN; SET LOCAL work_mem = '256MB';"
			 " SET LOCAL synchronous_commit = off; SET LOCAL jit = off;"
			 " DELETE FROM shawk_flush_flows; DELETE FROM shawk_flush_passive;"
			 " DELETE FROM shawk_flush_active; DELETE FROM shawk_flush_conns%s",
			 generic ? "; SET LOCAL enable_seqscan = off;"
				   " SET LOCAL plan_cache_mode = force_generic_plan"
				 : "");
	if (h->bucket_s)
		snprintf(begin + w, sizeof(begin) - (size_t)w,
			 "; SELECT shawk_history_prepare(to_timestamp(%" PRId64
			 " / 1000.0), to_timestamp(%" PRId64 " / 1000.0))",
			 h->lo_ms, h->hi_ms + DAY_MS);
	if ((r = cmdb_exec(db, begin)) < 0)
		return r;
	const char *claim[] = { b->node_name, boot, seq };
	_cleanup_(pqclearp) PGresult *res =
		cmdb_pq_exec_params(db, cmdb_flush_sql_claim, 3, claim);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = cmdb_fail(db, res);
		if (cmdb_is_connected(db))
			rollback(db);
		return r;
	}
	if (PQntuples(res) != 1) {
		rollback(db);
		return -EALREADY;
	}
	return 0;
}

/*
 * Writes the staged rows into the CMDB's tables: normally one statement.
 * The split update/insert fails with a unique violation if another writer
 * inserted one of these flows (two agents with the same node name) or
 * nodes (shared between agents) meanwhile, or if two flows have the same
 * key after all: the batch then goes again, from the savepoint, through
 * ON CONFLICT and a GROUP BY, which takes all of these. Returns 0 or an
 * error from cmdb_fail().
 */
static int flush_write(struct cmdb *db, const char *node_name, bool dups,
		       bool prepared, const struct history_range *h)
{
	char bucket[16], lo[24];
	const char *params[] = { node_name, bucket, lo };
	PGresult *res;
	int r;

	snprintf(bucket, sizeof(bucket), "%u", h->bucket_s);
	snprintf(lo, sizeof(lo), "%" PRId64, h->lo_ms);
	if (!dups && (r = cmdb_exec(db, "SAVEPOINT shawk_flows")) < 0)
		return r;
	/* An agent's usual batch goes through unique.sql prepared once per
	 * connection: planning its fifteen CTEs took 3-4 ms of the server's
	 * CPU at every flush, a fifth of a 500-flow flush's (issue 19's
	 * fleet). Its generic plan (flush_begin) is made at the first
	 * execution and again whenever the tables' statistics change (an
	 * ANALYZE invalidates it). A larger batch (the first of a busy
	 * node, after an outage) is planned for its own size, with plain
	 * joins (unique_join.sql), as before. */
	if (prepared && !db->flush_prepared) {
		res = cmdb_pq_prepare(db, "shawk_flush_unique",
				      cmdb_flush_sql_unique, 3);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
			r = cmdb_fail(db, res);
			PQclear(res);
			return r;
		}
		PQclear(res);
		db->flush_prepared = true;
	}
	if (prepared)
		res = cmdb_pq_exec_prepared(db, "shawk_flush_unique", 3,
					    params);
	else
		res = cmdb_pq_exec_params(db,
					  dups ? cmdb_flush_sql_grouped :
						 cmdb_flush_sql_unique_join,
					  3, params);
	if (!dups && res && PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    is_unique_violation(res)) {
		PQclear(res);
		if ((r = cmdb_exec(db, "ROLLBACK TO SAVEPOINT shawk_flows")) < 0)
			return r;
		res = cmdb_pq_exec_params(db, cmdb_flush_sql_grouped, 3,
					  params);
	}
	r = !res || PQresultStatus(res) != PGRES_TUPLES_OK ? cmdb_fail(db, res)
							  : 0;
	PQclear(res);
	return r;
}

/* Returns 0 or an error from cmdb_fail(). */
static int flush_commit(struct cmdb *db)
{
	_cleanup_(pqclearp) PGresult *res = cmdb_pq_exec(db, "COMMIT");
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return cmdb_fail(db, res);
	return 0;
}

/* One transaction writing flows[0..n): cmdb_store_flush() (store.h). */
static int store_batch(struct cmdb *db, const struct cmdb_batch *b,
		       const struct flow *flows, size_t n, bool *ret_in_doubt)
{
	static const char *const copy_sql[] = {
		cmdb_flush_sql_copy_flows,
		cmdb_flush_sql_copy_passive,
		cmdb_flush_sql_copy_active,
	};
	_cleanup_(cmdb_flush_data_clear) struct cmdb_flush_data d;
	struct history_range h;
	const char *data[4];
	size_t len[4];
	int r;

	*ret_in_doubt = false;
	cmdb_flush_data_init(&d);
	if (n == 0)
		return 0;
	if ((r = cmdb_flush_data_encode(&d, flows, n, b->kernel_boot)) < 0)
		return r;
	bool conns = d.conns.rows > 0;
	if (!(data[0] = pgcopy_finish(&d.flows, &len[0])) ||
	    !(data[1] = pgcopy_finish(&d.passive, &len[1])) ||
	    !(data[2] = pgcopy_finish(&d.active, &len[2])) ||
	    !(data[3] = pgcopy_finish(&d.conns, &len[3])))
		return -ENOMEM;

	history_range(b, flows, n, &h);
	/* One deadline for the whole transaction (none for the CLI). */
	cmdb_deadline_start(db);
	bool prepared = !d.dups && !b->plan_each && n <= PREPARED_MAX_FLOWS;
	if ((r = flush_begin(db, b, &h, prepared)) < 0)
		goto out;
	for (size_t i = 0; i < 3 && r == 0; i++)
		r = copy_in(db, copy_sql[i], data[i], len[i]);
	if (r == 0 && conns)
		r = copy_in(db, cmdb_flush_sql_copy_conns, data[3], len[3]);
	if (r == 0 && conns)
		r = cmdb_exec_params(db, cmdb_flush_sql_seen, 1, &b->node_name);
	if (r == 0)
		r = flush_write(db, b->node_name, d.dups, prepared, &h);
	if (r < 0) {
		if (cmdb_is_connected(db))
			rollback(db);
		goto out;
	}
	if ((r = flush_commit(db)) < 0) {
		/* An error reply means it rolled back; silence (a broken or
		 * abandoned connection) means we cannot know. */
		*ret_in_doubt = r == -ENOTCONN || r == -ETIMEDOUT;
		goto out;
	}
	r = (int)n;
out:
	cmdb_deadline_stop(db);
	return r;
}

/*
 * A flush with nothing to write (every flow as the CMDB has it): the
 * batch's claim alone, in its transaction. It keeps what a flush tells
 * besides its rows: flush_batches (seq, flushed_at: the agent is alive),
 * and a CMDB that stopped answering is found at this flush's deadline,
 * not at the next bucket's.
 */
static int store_claim(struct cmdb *db, const struct cmdb_batch *b,
		       bool *ret_in_doubt)
{
	struct history_range h = { .bucket_s = 0 };
	cmdb_deadline_start(db);
	int r = flush_begin(db, b, &h, false);
	if (r == 0 && (r = flush_commit(db)) < 0)
		*ret_in_doubt = r == -ENOTCONN || r == -ETIMEDOUT;
	cmdb_deadline_stop(db);
	return r;
}

int cmdb_store_flush(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt)
{
	/* Without history every flow is rewritten at every flush, as before
	 * the history: nothing to leave out. */
	uint32_t bucket_s = b->bucket_s ? b->bucket_s : 60;
	const struct flow *sel = flows;
	long m = (long)n;
	int r;

	bool delta = !b->history_off && !b->send_all;
	*ret_in_doubt = false;
	/* Nothing to write, nothing owed: no transaction. (Owed flows are
	 * sent when gone from a batch, even from one of no flows.) */
	if (n == 0 && !(delta && cmdb_store_owes(db)))
		return 0;
	/* A final flush defers nothing: as without an interval, every flow
	 * due at its bucket's turn is sent now (cmdb/delta.h). */
	if (delta &&
	    (m = cmdb_delta_select(&db->delta, flows, n, bucket_s,
				    b->final ? 0 : b->interval_ms, &sel)) < 0)
		return (int)m;
	r = m > 0 ? store_batch(db, b, sel, (size_t)m, ret_in_doubt)
		  : store_claim(db, b, ret_in_doubt);
	cmdb_delta_done(&db->delta);
	if (r < 0) {
		/* Whatever happened to it, nothing more is assumed written. */
		cmdb_delta_forget(&db->delta);
		return r;
	}
	if (delta)
		cmdb_delta_commit(&db->delta, flows, n, bucket_s);
	return (int)n;
}

bool cmdb_store_owes(const struct cmdb *db)
{
	return db && db->delta.n_owed > 0;
}

struct cmdb_owed *cmdb_store_take_owed(struct cmdb *db)
{
	return db ? cmdb_delta_take_owed(&db->delta) : NULL;
}

void cmdb_store_give_owed(struct cmdb *db, struct cmdb_owed *o)
{
	if (cmdb_delta_give_owed(&db->delta, o) < 0)
		log_debug("cmdb: out of memory: owed history rows dropped");
}
