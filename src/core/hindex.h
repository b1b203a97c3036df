/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_HINDEX_H
#define SHAWK_CORE_HINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A hash index over an array its user owns and only appends to: the
 * index finds an element by its key without storing the key. Open
 * addressing, linear probing, load at most 1/2; a slot holds an array
 * index + 1 (0: empty). The user hashes and compares its elements
 * (callbacks), so one table serves any key: graph vertices, edges and
 * processes, the metrics' workload index (pods by uid and address);
 * flow-keyed arrays (core/flow.c, cmdb/pending.c) have the same shape.
 * Where the key is one u64, core/u64map.h stores it instead.
 */
struct hindex {
	uint32_t *slot;
	size_t cap; /* a power of two, or 0 before the first reserve */
};

#define HINDEX_NONE UINT32_MAX

typedef uint64_t (*hindex_hash_fn)(uint32_t idx, const void *ud);
typedef bool (*hindex_eq_fn)(uint32_t idx, const void *key);

void hindex_free(struct hindex *x);

/* Empties the index and keeps its room (the array was emptied too). */
void hindex_clear(struct hindex *x);

/*
 * Makes room for n entries at load 1/2, rehashing the entries present
 * with hash(idx, ud) when it grows. Returns 0 or -ENOMEM (x unchanged).
 */
int hindex_reserve(struct hindex *x, size_t n, hindex_hash_fn hash,
		   const void *ud);

/* Adds array index idx under hash h; room must have been reserved. */
void hindex_add(struct hindex *x, uint64_t h, uint32_t idx);

/*
 * The array index of the element with hash h for which eq(idx, key)
 * holds, or HINDEX_NONE. Inline so that eq, a constant at each call site,
 * is inlined too.
 */
static inline uint32_t hindex_find(const struct hindex *x, uint64_t h,
				   hindex_eq_fn eq, const void *key)
{
	if (!x->cap)
		return HINDEX_NONE;
	for (size_t s = h & (x->cap - 1); x->slot[s];
	     s = (s + 1) & (x->cap - 1))
		if (eq(x->slot[s] - 1, key))
			return x->slot[s] - 1;
	return HINDEX_NONE;
}

#endif
