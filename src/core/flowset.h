/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_FLOWSET_H
#define SHAWK_CORE_FLOWSET_H

#include "core/flow.h"

#include <stddef.h>
#include <stdint.h>

/*
 * Flows in insertion order with a hash index on their key (open
 * addressing, load at most 1/2): the flow table's interval and the CMDB
 * sink's buffer. All zero is an empty set. No bound of its own: callers
 * check count against theirs before inserting.
 */
struct flow_set {
	struct flow *flows;
	size_t count, cap;
	uint32_t *index;  /* flow position + 1, 0 = empty */
	size_t index_cap; /* a power of two, 0 before the first insert */
};

/* Sizes the index for n flows up front. Returns 0 or -ENOMEM. */
int flow_set_reserve(struct flow_set *s, size_t n);

/*
 * The flow with key k, or NULL. *ret_slot (may be NULL) receives where k
 * goes in the index, for flow_set_insert() while the set is unchanged.
 */
struct flow *flow_set_find(const struct flow_set *s, const struct flow_key *k,
			   size_t *ret_slot);

/*
 * Appends a zeroed flow with key k, which the set must not hold (slot:
 * from flow_set_find() on the unchanged set, or FLOW_SET_ANY_SLOT).
 * Returns the flow (valid until the next insert/drop/clear) or NULL on OOM.
 */
#define FLOW_SET_ANY_SLOT SIZE_MAX
struct flow *flow_set_insert(struct flow_set *s, const struct flow_key *k,
			     size_t slot);

/* Frees the first n flows (the oldest); the others move up. Returns 0. */
int flow_set_drop_first(struct flow_set *s, size_t n);

/* Frees every flow's strings; keeps the memory for the next interval. */
void flow_set_clear(struct flow_set *s);

/* flow_set_clear() and the memory: s is all zero afterwards. */
void flow_set_done(struct flow_set *s);

#endif
