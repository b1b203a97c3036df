/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_DELTA_H
#define SHAWK_CMDB_DELTA_H

#include "core/flow.h"
#include "core/u64map.h"

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
 * Pure: no libpq, tested without a server.
 */
struct cmdb_delta {
	/* flow key hash -> digest of its written state (see delta.c) */
	struct u64map state;
	/* flow key hash -> the earliest first_seen written, epoch ms */
	struct u64map first;
	/* The selected batch (shallow copies of the caller's flows). */
	struct flow *sel;
	size_t sel_cap;
};

void cmdb_delta_init(struct cmdb_delta *d);
void cmdb_delta_clear(struct cmdb_delta *d);

/*
 * Selects from flows[0..n) those the CMDB does not have as they are, for
 * history buckets of bucket_s seconds (> 0). Sets *ret to them (valid
 * until the next call; they borrow the flows' strings). Returns their
 * number or -ENOMEM.
 */
long cmdb_delta_select(struct cmdb_delta *d, const struct flow *flows,
		       size_t n, uint32_t bucket_s, const struct flow **ret);

/*
 * The batch of flows[0..n) (the same flows that were given to
 * cmdb_delta_select) committed: remembers them, and forgets flows not in
 * it. On -ENOMEM everything is forgotten (the next flush sends all).
 */
int cmdb_delta_commit(struct cmdb_delta *d, const struct flow *flows,
		      size_t n, uint32_t bucket_s);

/* The selection is no longer used: frees it when large (a node with
 * 100k flows would keep ~20 MB between flushes). */
void cmdb_delta_done(struct cmdb_delta *d);

/* Forgets everything: the next flush sends every flow. */
void cmdb_delta_forget(struct cmdb_delta *d);

#endif
