/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_SINK_H
#define SHAWK_CORE_SINK_H

#include "core/flow.h"
#include "core/stats.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Where each interval's flows go: stdout (text/json/none) or the CMDB.
 * write() borrows flows for the call only: a sink that must keep them (to
 * retry after an outage) copies them. It returns 0 when the flows are
 * delivered or safely queued, -errno otherwise (they are then lost, and the
 * sink has logged why).
 */
struct sink {
	const char *name;
	int (*write)(struct sink *s, const struct flow *flows, size_t n,
		     int64_t now_ms);
	/* Delivers what is queued, waiting at most until deadline_ms
	 * (CLOCK_MONOTONIC). Returns 0 or -errno (-ETIMEDOUT). May be NULL. */
	int (*drain)(struct sink *s, int64_t deadline_ms);
	/* Makes a write() or drain() running on another thread return soon,
	 * and every later one fail fast (shutdown). Thread-safe. May be
	 * NULL. */
	void (*cancel)(struct sink *s);
	/* A sink that writes on its own thread: since when (CLOCK_MONOTONIC
	 * ms) the write in course there runs; 0 when none. Thread-safe. May
	 * be NULL. (Waiting flows of an outage do not count: the agent is not
	 * stuck, and a liveness probe must not restart it for that.) */
	int64_t (*busy_since)(const struct sink *s);
	/* Reports the sink's counters (see core/stats.h). May be NULL. */
	void (*stats)(const struct sink *s, stat_fn fn, void *userdata);
	void (*free)(struct sink *s);
};

static inline void sink_free(struct sink *s)
{
	if (s)
		s->free(s);
}

static inline void sink_freep(struct sink **s)
{
	sink_free(*s);
}

#endif
