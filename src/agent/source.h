/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SOURCE_H
#define SHAWK_AGENT_SOURCE_H

#include "core/config.h"
#include "core/stats.h"
#include "probe/procmap.h"
#include "probe/source.h"

#include <stdbool.h>

/*
 * A source as the agent's loop sees it: the record producer (probe's
 * struct source: scan(), records(), snapshot, request_poll()) plus what
 * the loop needs around it, so that the loop never asks which source it
 * has. Each kind of source has one adapter here (source_poll.c,
 * source_stream.c) that knows its probe-side type and its log lines.
 */
struct agent_source {
	struct source *src; /* owned */
	/* After every scan: logs what changed (warnings once each). With
	 * final, at exit: the source's totals. May be NULL. */
	void (*report)(struct agent_source *as, bool final);
	/* Reports the source's counters (see core/stats.h). */
	void (*stats)(const struct agent_source *as, stat_fn fn, void *ud);
	/* After every flush (end of an interval). May be NULL. */
	void (*flushed)(struct agent_source *as);
	void (*free)(struct agent_source *as);
};

/*
 * Starts the source cfg asks for (--mode; --once always polls), logging
 * the choice and why a wanted one cannot start. pm (socket -> process)
 * must outlive the source. Returns 0 and *ret, or -errno (logged).
 */
int agent_source_open(const struct probe_config *cfg, struct procmap *pm,
		      struct agent_source **ret);

/* The adapters; each returns 0 and *ret or -errno with a reason in why
 * (why_sz bytes) where they say so. */
int source_poll_open(const struct probe_config *cfg, struct procmap *pm,
		     struct agent_source **ret);
int source_stream_open(const struct probe_config *cfg, struct procmap *pm,
		       struct agent_source **ret, char *why, size_t why_sz);

static inline void agent_source_free(struct agent_source *as)
{
	if (as)
		as->free(as);
}

static inline void agent_source_freep(struct agent_source **as)
{
	agent_source_free(*as);
}

#endif
