// SPDX-License-Identifier: MIT
#include "core/hindex.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void hindex_free(struct hindex *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = 0;
}

void hindex_clear(struct hindex *x)
{
	if (x->cap)
		memset(x->slot, 0, x->cap * sizeof(*x->slot));
}

static void put(uint32_t *slot, size_t cap, uint64_t h, uint32_t v)
{
	size_t s = h & (cap - 1);
	while (slot[s])
		s = (s + 1) & (cap - 1);
	slot[s] = v;
}

int hindex_reserve(struct hindex *x, size_t n, hindex_hash_fn hash,
		   const void *ud)
{
	size_t ncap = x->cap;
	while (n * 2 > ncap)
		ncap = ncap ? ncap * 2 : 256;
	if (ncap == x->cap)
		return 0;
	uint32_t *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < x->cap; i++)
		if (x->slot[i])
			put(ns, ncap, hash(x->slot[i] - 1, ud), x->slot[i]);
	free(x->slot);
	x->slot = ns;
	x->cap = ncap;
	return 0;
}

void hindex_add(struct hindex *x, uint64_t h, uint32_t idx)
{
	put(x->slot, x->cap, h, idx + 1);
}
