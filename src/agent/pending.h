/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_PENDING_H
#define SHAWK_AGENT_PENDING_H

#include "core/flow.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Flows waiting for the CMDB (an outage, or a batch in doubt), merged by
 * flow key so a long outage costs one entry per distinct flow, not one per
 * interval. Pure memory: no I/O, no libpq.
 */
struct pending;

/* NULL on OOM. */
struct pending *pending_new(void);
void pending_free(struct pending *p);
void pending_freep(struct pending **p);

/*
 * Deep-copies f in, or merges it into the entry with the same key: counts
 * of new connections add up, connections is the latest interval's,
 * first/last seen widen. When the set already holds limit entries the
 * oldest eighth is dropped first (counted, see pending_dropped).
 * Returns 0 or -ENOMEM (f is then not kept).
 */
int pending_add(struct pending *p, const struct flow *f, size_t limit);

size_t pending_count(const struct pending *p);
/* Valid until the next add/clear. */
const struct flow *pending_flows(const struct pending *p);

/* Frees every entry (keeps the drop counter). */
void pending_clear(struct pending *p);

/* Swaps the contents of a and b (drop counters included). */
void pending_swap(struct pending *a, struct pending *b);

/* Flows dropped so far because the set was full. */
uint64_t pending_dropped(const struct pending *p);

#endif
