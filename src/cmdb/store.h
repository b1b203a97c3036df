/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_STORE_H
#define SHAWK_CMDB_STORE_H

#include "cmdb/pg.h"
#include "core/flow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Identifies a flush: (node_name, boot_id) is one probe process, seq grows
 * with each batch it commits. A batch retried with the same seq after a
 * lost COMMIT acknowledgement is recognised and skipped.
 */
struct cmdb_batch {
	const char *node_name; /* this node: the local side of every flow */
	uint64_t boot_id;
	uint64_t seq;
	/* The node's kernel boot (a hash of its boot_id file): with netns and
	 * socket cookie, what identifies a connection (seen_conns). */
	uint64_t kernel_boot;
	/* History (sql/007_history.sql): bucket width in seconds and how far
	 * back it is kept (0: 60 s and 30 days). Flows seen before their
	 * last_seen minus retention get no history. */
	uint32_t bucket_s;
	int64_t retention_ms;
	/* The agent's flush interval: spreads each flow's once-per-bucket
	 * refresh over the bucket (cmdb/delta.h). 0: unknown, every live
	 * flow is refreshed by the first flush of a bucket. */
	int64_t interval_ms;
	/* No history, every flow rewritten: the flush as it was before the
	 * history, for benchmarks to compare against. */
	bool history_off;
	/* unique.sql planned at every flush, never prepared: the flush as
	 * it was before, for benchmarks to compare against. */
	bool plan_each;
	/* Every flow sent at every flush, not only those the CMDB does not
	 * have as they are (cmdb/delta.h): for benchmarks to compare. */
	bool send_all;
	/* The last flush of the agent's flows (it stops): nothing is left
	 * for a later flush, every flow owed its bucket's row (cmdb/delta.h)
	 * is sent with these; with no flows, the owed ones alone. */
	bool final;
};

/*
 * Writes flows in one transaction with a constant number of round trips
 * (BEGIN with the creation of missing history partitions, batch claim,
 * three binary COPYs into session temporary tables, two more when new
 * connections carry identities (their COPY and the statement that counts
 * those an earlier process counted already), a savepoint, one statement
 * that writes flows, history and nodes from them, COMMIT; two more if
 * another writer inserted one of the flows meanwhile),
 * whatever n is. With history, only the flows whose rows would change are
 * sent (cmdb/delta.h); none: BEGIN, the claim and COMMIT alone.
 * The commit is asynchronous (synchronous_commit off): a server crash may
 * lose the last acknowledged flush, never part of one.
 * No flows and nothing owed: no transaction (returns 0).
 * Returns n, -EALREADY when this batch was committed
 * before, -ENOMEM, -ENOTCONN (connection lost) or -EIO (see
 * cmdb_last_error). *ret_in_doubt is always written: true when the
 * connection broke after COMMIT was sent, so the batch may or may not have
 * been applied and must be retried with the same seq.
 */
int cmdb_store_flush(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt);

/* Whether db's flushes owe flows a history bucket's row (cmdb/delta.h):
 * what a final flush of no flows writes. */
bool cmdb_store_owes(const struct cmdb *db);

/*
 * The flows db's flushes owe a history bucket's row (cmdb/delta.h), taken
 * from a connection about to be freed (NULL: none), and given to the next
 * one (consumed; before its first flush). Free with cmdb_owed_free().
 */
struct cmdb_owed;
struct cmdb_owed *cmdb_store_take_owed(struct cmdb *db);
void cmdb_store_give_owed(struct cmdb *db, struct cmdb_owed *o);

#endif
