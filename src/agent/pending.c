// SPDX-License-Identifier: MIT
#include "agent/pending.h"

#include "core/util.h"

#include <string.h>

struct pending {
	struct flow *flows; /* insertion order: oldest first */
	size_t count, cap;
	uint32_t *index; /* open addressing: flow index + 1, 0 = empty */
	size_t index_cap;
	uint64_t dropped;
};

struct pending *pending_new(void)
{
	return calloc(1, sizeof(struct pending));
}

void pending_clear(struct pending *p)
{
	for (size_t i = 0; i < p->count; i++)
		flow_clear(&p->flows[i]);
	p->count = 0;
	if (p->index)
		memset(p->index, 0, p->index_cap * sizeof(*p->index));
}

void pending_free(struct pending *p)
{
	if (!p)
		return;
	pending_clear(p);
	free(p->flows);
	free(p->index);
	free(p);
}

void pending_freep(struct pending **p)
{
	pending_free(*p);
}

size_t pending_count(const struct pending *p)
{
	return p->count;
}

const struct flow *pending_flows(const struct pending *p)
{
	return p->flows;
}

uint64_t pending_dropped(const struct pending *p)
{
	return p->dropped;
}

void pending_swap(struct pending *a, struct pending *b)
{
	struct pending t = *a;
	*a = *b;
	*b = t;
}

static size_t slot_of(const struct pending *p, const struct flow_key *k)
{
	return hash_bytes(k, sizeof(*k), 0) & (p->index_cap - 1);
}

static int index_rebuild(struct pending *p, size_t want)
{
	/* Load factor at most 1/2 keeps probe sequences short. */
	size_t ncap = pow2_ceil(want * 2 < 64 ? 64 : want * 2);
	if (ncap != p->index_cap) {
		uint32_t *ni = calloc(ncap, sizeof(*ni));
		if (!ni)
			return -ENOMEM;
		free(p->index);
		p->index = ni;
		p->index_cap = ncap;
	} else {
		memset(p->index, 0, ncap * sizeof(*p->index));
	}
	for (size_t i = 0; i < p->count; i++) {
		size_t s = slot_of(p, &p->flows[i].key);
		while (p->index[s])
			s = (s + 1) & (p->index_cap - 1);
		p->index[s] = (uint32_t)(i + 1);
	}
	return 0;
}

/* Drops the oldest eighth (at least one) so eviction is amortised O(1). */
static int drop_oldest(struct pending *p)
{
	size_t k = p->count / 8 ? p->count / 8 : 1;
	if (k > p->count)
		k = p->count;
	for (size_t i = 0; i < k; i++)
		flow_clear(&p->flows[i]);
	memmove(p->flows, p->flows + k, (p->count - k) * sizeof(*p->flows));
	p->count -= k;
	p->dropped += k;
	return index_rebuild(p, p->count + 1);
}

static void merge(struct flow *dst, const struct flow *src)
{
	dst->connections = src->connections;
	dst->new_connections += src->new_connections;
	if (src->first_seen_ms < dst->first_seen_ms)
		dst->first_seen_ms = src->first_seen_ms;
	if (src->last_seen_ms > dst->last_seen_ms)
		dst->last_seen_ms = src->last_seen_ms;
	if (src->pid && (!dst->pid || src->pid < dst->pid))
		dst->pid = src->pid;
}

int pending_add(struct pending *p, const struct flow *f, size_t limit)
{
	int r;
	if (limit == 0)
		limit = 1;
	if (p->index_cap) {
		size_t s = slot_of(p, &f->key);
		while (p->index[s]) {
			struct flow *e = &p->flows[p->index[s] - 1];
			if (memcmp(&e->key, &f->key, sizeof(f->key)) == 0) {
				merge(e, f);
				return 0;
			}
			s = (s + 1) & (p->index_cap - 1);
		}
	}
	while (p->count >= limit)
		if ((r = drop_oldest(p)) < 0)
			return r;
	if (p->count == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 256;
		struct flow *nf = realloc(p->flows, ncap * sizeof(*nf));
		if (!nf)
			return -ENOMEM;
		p->flows = nf;
		p->cap = ncap;
	}
	if ((p->count + 1) * 2 > p->index_cap &&
	    (r = index_rebuild(p, p->count + 1)) < 0)
		return r;
	if ((r = flow_copy(&p->flows[p->count], f)) < 0)
		return r;
	size_t s = slot_of(p, &f->key);
	while (p->index[s])
		s = (s + 1) & (p->index_cap - 1);
	p->index[s] = (uint32_t)(++p->count);
	return 0;
}
