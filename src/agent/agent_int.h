/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_AGENT_INT_H
#define SHAWK_AGENT_AGENT_INT_H

/* The agent's state, shared by agent.c (the loop) and agent_new.c (how it
 * is put together from a config). */
#include "agent/agent.h"
#include "agent/stages.h"
#include "core/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_SINKS_MAX 4
/* The sinks' last delivery attempt: an unreachable CMDB must not block
 * shutdown (or a --once run) for long. */
#define AGENT_DRAIN_MS 5000
/* From SIGTERM, what the final scan, flush and drain may take together:
 * leaves room for the rest of the exit within 5 s (the pod watch's thread
 * lets go within a second). */
#define AGENT_SHUTDOWN_MS 3000

struct agent {
	const struct probe_config *cfg;
	struct procmap *pm;
	struct agent_source *src;
	struct stage_list stages;
	struct flow_table *flows;
	struct sink *sinks[AGENT_SINKS_MAX];
	size_t nsinks;
	/* The last scan's records when the source has no array of its own. */
	struct sock_record *recs;
	size_t n, cap;
	uint64_t dropped_records; /* over SOCK_RECORDS_MAX in one scan */
	bool warned_drops;
	struct agent_metrics *metrics; /* --metrics-listen; NULL: off */
};

#endif
