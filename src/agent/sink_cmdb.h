/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SINK_CMDB_H
#define SHAWK_AGENT_SINK_CMDB_H

#include "core/config.h"
#include "core/sink.h"

/*
 * The CMDB sink: writes each interval's flows in one transaction; while
 * PostgreSQL is unreachable keeps them in memory (merged by key, at most
 * cfg->max_pending_flows) and reconnects with exponential backoff. Logs
 * state changes once each. cfg must outlive the sink. NULL on OOM.
 */
struct sink *sink_cmdb_new(const struct probe_config *cfg);

/*
 * Records this node's pods from w (NULL: none) in the CMDB pods table
 * after each write, whether or not there were flows. w must outlive the
 * sink. s must come from sink_cmdb_new().
 */
struct pod_watch;
void sink_cmdb_set_pods(struct sink *s, struct pod_watch *w);

#endif
