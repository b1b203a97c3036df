/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_AGENT_H
#define SHAWK_AGENT_AGENT_H

#include "core/config.h"
#include "core/stats.h"

/*
 * The running agent (`shawk probe`): a source's socket records go through
 * the stages (process, cgroup -> pod) into the flow table, whose flows go
 * to the sinks (stdout or CMDB) at every flush. See docs/architecture.md.
 */
struct agent;

/*
 * Builds the pipeline cfg describes (cfg must outlive the agent): opens
 * the process map, the stages, the sink and the source, logging what it
 * enables. Returns 0 and *ret, or -errno after logging why.
 */
int agent_new(const struct probe_config *cfg, struct agent **ret);
void agent_free(struct agent *a);
void agent_freep(struct agent **a);

/*
 * Runs a built agent: with cfg->once one scan and one flush (the sinks
 * drain for at most 5s); otherwise scans and flushes on their intervals
 * until SIGINT/SIGTERM, then scans and flushes a last time. Returns 0, or
 * -errno after logging why.
 */
int agent_loop(struct agent *a);

/* agent_new() + agent_loop() + agent_free(). */
int agent_run(const struct probe_config *cfg);

/*
 * Every counter of the agent's parts: the source, each stage, the flow
 * table and each sink, `object` naming the part ("polling", "process",
 * "flow_table", "cmdb", ...). For the debug log and a metrics sink.
 */
typedef void (*agent_stat_fn)(const char *object, const char *name,
			      enum stat_kind kind, uint64_t value,
			      const char *help, void *userdata);
void agent_stats(const struct agent *a, agent_stat_fn fn, void *userdata);

/* The source's name ("streaming", "polling"). */
const char *agent_source_name(const struct agent *a);

#endif
