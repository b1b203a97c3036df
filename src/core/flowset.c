// SPDX-License-Identifier: MIT
#include "core/flowset.h"

#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_MIN 64

static size_t slot_of(const struct flow_set *s, const struct flow_key *k)
{
	size_t i = hash_bytes(k, sizeof(*k), 0) & (s->index_cap - 1);
	while (s->index[i])
		i = (i + 1) & (s->index_cap - 1);
	return i;
}

/* Indexes every flow again into an index of ncap slots. */
static int index_rebuild(struct flow_set *s, size_t ncap)
{
	if (ncap != s->index_cap) {
		uint32_t *ni = calloc(ncap, sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		free(s->index);
		s->index = ni;
		s->index_cap = ncap;
	} else if (s->index) {
		memset(s->index, 0, ncap * sizeof(*s->index));
	}
	for (size_t i = 0; i < s->count; i++)
		s->index[slot_of(s, &s->flows[i].key)] = (uint32_t)(i + 1);
	return 0;
}

int flow_set_reserve(struct flow_set *s, size_t n)
{
	size_t want = pow2_ceil(n * 2 < INDEX_MIN ? INDEX_MIN : n * 2);
	return want > s->index_cap ? index_rebuild(s, want) : 0;
}

struct flow *flow_set_find(const struct flow_set *s, const struct flow_key *k,
			   size_t *ret_slot)
{
	size_t i = 0;
	if (s->index_cap) {
		i = hash_bytes(k, sizeof(*k), 0) & (s->index_cap - 1);
		for (; s->index[i]; i = (i + 1) & (s->index_cap - 1)) {
			struct flow *f = &s->flows[s->index[i] - 1];
			if (memcmp(&f->key, k, sizeof(*k)) == 0)
				return f;
		}
	}
	if (ret_slot)
		*ret_slot = i;
	return NULL;
}

struct flow *flow_set_insert(struct flow_set *s, const struct flow_key *k,
			     size_t slot)
{
	if (s->count == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		struct flow *nf = realloc(s->flows, ncap * sizeof(*nf));
		if (!nf)
			return NULL;
		s->flows = nf;
		s->cap = ncap;
	}
	if ((s->count + 1) * 2 > s->index_cap) {
		size_t ncap = s->index_cap ? s->index_cap * 2 : INDEX_MIN;
		if (index_rebuild(s, ncap) < 0)
			return NULL;
		slot = FLOW_SET_ANY_SLOT;
	}
	if (slot == FLOW_SET_ANY_SLOT)
		slot = slot_of(s, k);
	struct flow *f = &s->flows[s->count];
	memset(f, 0, sizeof(*f));
	f->key = *k;
	s->index[slot] = (uint32_t)(++s->count);
	return f;
}

int flow_set_drop_first(struct flow_set *s, size_t n)
{
	if (n > s->count)
		n = s->count;
	for (size_t i = 0; i < n; i++)
		flow_clear(&s->flows[i]);
	memmove(s->flows, s->flows + n, (s->count - n) * sizeof(*s->flows));
	s->count -= n;
	/* Same size: cannot fail. */
	return index_rebuild(s, s->index_cap);
}

void flow_set_clear(struct flow_set *s)
{
	for (size_t i = 0; i < s->count; i++)
		flow_clear(&s->flows[i]);
	s->count = 0;
	if (s->index)
		memset(s->index, 0, s->index_cap * sizeof(*s->index));
}

void flow_set_done(struct flow_set *s)
{
	flow_set_clear(s);
	free(s->flows);
	free(s->index);
	memset(s, 0, sizeof(*s));
}
