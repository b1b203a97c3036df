/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_DELTA_H
#define SHAWK_CMDB_DELTA_H

#include "core/flow.h"
#include "core/u64map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What the flushes of one CMDB connection wrote, flow by flow, so that the
 * next flush sends only the flows whose rows it would change (issue 19's
 * fleet). The server rewrites a flow when it has new connections, another
 * count, an earlier first_seen or other process/container/pod attributes,
 * or when its last_seen enters a history bucket its row has not reached
 * (sql/flush/unique.sql); otherwise the row and its history already say
 * everything. At steady state that is the flows with new connections and,
 * once per bucket, every live flow: sending the others (90 % of them in
 * five flushes of six at 1 m buckets and 10 s intervals) cost the server a
 * key lookup and a comparison each, per agent and per flush.
 *
 * The once-per-bucket refresh is spread over the bucket: buckets are the
 * same for every agent, and a fleet refreshing every live flow in the
 * interval after each turn sent ten times its usual rows then (500k rows
 * of flows and of history in 10 s at 1000 agents, 500 flows each). Given
 * the flush interval, a flow whose only news is its new bucket is sent by
 * the first flush at or after its own offset into the bucket (a hash of
 * its key, within the bucket's width less two intervals, so that a flush
 * still comes inside the bucket); until then it is "owed": a compact copy
 * (its key, count and when it was seen in the bucket) is kept, and sent
 * instead if the flow is gone from a later batch (it was active in the
 * bucket: the history must say so). A flow still owed when a later bucket
 * begins is sent with its first_seen lowered to when it was first seen in
 * the owed bucket, so both buckets get their row. At most
 * CMDB_DELTA_OWED_MAX flows are owed at once (~150 B each); past that
 * they are sent at the turn, as without an interval.
 *
 * Only flushes that committed are remembered, and a new connection starts
 * with nothing remembered (the sink opens one after any failure): a batch
 * that failed, or whose COMMIT went unanswered, is sent whole again. If a
 * row is deleted behind the agent's back (by hand; retention only deletes
 * flows unseen for its period), the flow comes back at the next bucket,
 * when it is sent again.
 *
 * Flows are remembered by a 64-bit hash of their key (two keys with the
 * same hash, about n^2 / 2^65 for n flows, would share what is
 * remembered: a change of one could be missed until the next bucket).
 * What is remembered is one entry per flow, updated in place by each
 * commit (~100 B a flow kept between flushes at 100k flows: the entry,
 * the map and the selection's per-flow hash, digest and flag, besides
 * the owed arrays); a steady state allocates nothing.
 * Pure: no libpq, tested without a server.
 */
#define CMDB_DELTA_OWED_MAX 16384

/* A flow owed its bucket's refresh: enough to write it if it is gone. */
struct cmdb_delta_owed {
	struct flow_key key;
	uint64_t hash; /* of key */
	uint64_t gen;  /* the last selection that saw it in its batch */
	int64_t first_ms, last_ms; /* seen in the owed bucket */
	uint32_t connections;
};

/* What the committed flushes wrote of one flow (by the hash of its key). */
struct cmdb_delta_known {
	uint64_t hash;	 /* of its key */
	uint64_t digest; /* of its written state but the bucket (delta.c) */
	int64_t bucket;	 /* the history bucket of the last_seen written */
	int64_t first_ms; /* the earliest first_seen written */
	uint64_t gen;	 /* the last commit whose batch held it */
};

/* Per flow of the current selection: its key hash and digest, computed
 * once for the selection and its commit. */
struct cmdb_delta_seen {
	uint64_t hash, digest;
};

struct cmdb_delta {
	/* The flows known as written (known[0..n_known)), updated in place
	 * by each commit; at: key hash -> index into known. */
	struct cmdb_delta_known *known;
	size_t n_known, known_cap;
	struct u64map at;
	uint64_t commits;
	/* The flows owed their bucket's refresh (owed_at: key hash ->
	 * index), and those the current selection defers (next). */
	struct cmdb_delta_owed *owed, *next;
	size_t n_owed, n_next, owed_cap, next_cap;
	struct u64map owed_at;
	uint64_t gen;
	/* Per flow of the current selection: deferred (not sent), and its
	 * hash and digest (seen); kept between flushes (17 B a flow). */
	bool *deferred;
	struct cmdb_delta_seen *seen;
	size_t deferred_cap, seen_cap;
	/* The flows of the current selection, for its commit to find seen
	 * valid (NULL: none). */
	const struct flow *sel_flows;
	size_t sel_n;
	/* The selected batch (shallow copies of the caller's flows, and
	 * owed flows gone from it, without strings), unless it is the
	 * caller's flows as they are. */
	struct flow *sel;
	size_t sel_cap;
};

void cmdb_delta_init(struct cmdb_delta *d);
void cmdb_delta_clear(struct cmdb_delta *d);

/*
 * Selects from flows[0..n) those the CMDB does not have as they are, for
 * history buckets of bucket_s seconds (> 0), with flushes every
 * interval_ms (0: unknown, or the agent's final flush: nothing deferred,
 * every live flow refreshed at the turn, the owed ones with it), and
 * the owed flows gone from flows. Sets *ret to them (valid until the next
 * call; they borrow the flows' strings). Returns their number or -ENOMEM.
 */
long cmdb_delta_select(struct cmdb_delta *d, const struct flow *flows,
		       size_t n, uint32_t bucket_s, int64_t interval_ms,
		       const struct flow **ret);

/*
 * The batch of flows[0..n) (the same flows, unchanged, that were given to
 * the last cmdb_delta_select) committed: remembers them, and forgets flows not in
 * it; the flows it deferred are owed. On -ENOMEM everything is forgotten
 * (the next flush sends all).
 */
int cmdb_delta_commit(struct cmdb_delta *d, const struct flow *flows,
		      size_t n, uint32_t bucket_s);

/* The selection is no longer used: frees it when large (a node with
 * 100k flows would keep ~20 MB between flushes). */
void cmdb_delta_done(struct cmdb_delta *d);

/* Forgets what was written: the next flush sends every flow, and the
 * owed flows gone from it. */
void cmdb_delta_forget(struct cmdb_delta *d);

/*
 * The owed flows, moved out of a delta whose connection is lost into the
 * next connection's (the sink keeps them meanwhile), so that a flow owed
 * its bucket's row and gone just as the CMDB went away is still written.
 */
struct cmdb_owed {
	struct cmdb_delta_owed *v;
	size_t n;
};

/* NULL when nothing is owed (or on OOM: then it is lost). */
struct cmdb_owed *cmdb_delta_take_owed(struct cmdb_delta *d);
/* Consumes o (NULL: nothing). -ENOMEM: o is lost. */
int cmdb_delta_give_owed(struct cmdb_delta *d, struct cmdb_owed *o);
void cmdb_owed_free(struct cmdb_owed *o);

#endif
