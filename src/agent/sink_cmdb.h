/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SINK_CMDB_H
#define SHAWK_AGENT_SINK_CMDB_H

#include "cmdb/pg.h"
#include "cmdb/pods_store.h"
#include "cmdb/store.h"
#include "core/config.h"
#include "core/sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The CMDB sink: writes each interval's flows in one transaction; while
 * PostgreSQL is unreachable keeps them in memory (merged by key, at most
 * cfg->max_pending_flows) and reconnects with exponential backoff. Logs
 * state changes once each. Every connect, flush and pods write ends within
 * cfg->cmdb_timeout_ms: a flush that gets no answer in time is abandoned
 * (its connection dropped, counted, logged once per outage) and its flows
 * stay pending — in doubt when COMMIT was sent, retried with the same
 * batch seq. cancel() (thread-safe) makes the call in course and all later
 * ones give up at once. Calls run on one thread (sink_async's). cfg must
 * outlive the sink. NULL on OOM.
 */
struct sink *sink_cmdb_new(const struct probe_config *cfg);

/*
 * What the sink calls outside itself: the CMDB (cmdb/pg.h, cmdb/store.h,
 * cmdb/pods_store.h, same contracts) and the monotonic clock. The real
 * ones are sink_cmdb_pg; tests put a fake store in their place.
 */
struct cmdb_prune_result;
struct sink_cmdb_ops {
	int (*connect)(const char *url, const struct cmdb_limits *l,
		       struct cmdb **ret, char *err, size_t errsz);
	bool (*is_connected)(const struct cmdb *db);
	const char *(*last_error)(const struct cmdb *db);
	int (*flush)(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt);
	int (*store_pods)(struct cmdb *db, const char *node_name,
			  struct cmdb_pod_rows *r, int64_t now_ms);
	/* Retention (cmdb/prune.h); NULL: the sink never prunes. */
	int (*prune)(struct cmdb *db, int64_t retention_ms, uint32_t batch,
		     int64_t every_ms, struct cmdb_prune_result *ret);
	int (*store_services)(struct cmdb *db, struct cmdb_service_rows *r,
			      int64_t now_ms);
	/* The flows a lost connection owed a history bucket's row, for the
	 * next one (cmdb_store_take_owed/give_owed); NULL: not carried. */
	struct cmdb_owed *(*take_owed)(struct cmdb *db);
	void (*give_owed)(struct cmdb *db, struct cmdb_owed *o);
	/* Whether db owes flows their row (cmdb_store_owes): a final flush
	 * of no flows has them to write. NULL: never. */
	bool (*owes)(const struct cmdb *db);
	void (*free)(struct cmdb *db); /* accepts NULL */
	int64_t (*now_ms)(void);       /* CLOCK_MONOTONIC */
	void (*sleep_ms)(int64_t ms);
};

extern const struct sink_cmdb_ops sink_cmdb_pg;

/* sink_cmdb_new() through ops (which must outlive the sink). */
struct sink *sink_cmdb_new_ops(const struct probe_config *cfg,
			       const struct sink_cmdb_ops *ops);

/*
 * Records this node's pods from w (NULL: none) in the CMDB pods table
 * after each write, whether or not there were flows, and the cluster's
 * Services w holds whenever it fetched a new list. w must outlive the
 * sink. s must come from sink_cmdb_new().
 */
struct pod_watch;
void sink_cmdb_set_pods(struct sink *s, struct pod_watch *w);

#endif
