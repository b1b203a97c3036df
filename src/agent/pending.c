// SPDX-License-Identifier: MIT
#include "agent/pending.h"

#include "core/flowset.h"
#include "core/util.h"

#include <string.h>

struct pending {
	struct flow_set set; /* insertion order: oldest first */
	uint64_t dropped;
};

struct pending *pending_new(void)
{
	return calloc(1, sizeof(struct pending));
}

void pending_clear(struct pending *p)
{
	flow_set_clear(&p->set);
}

void pending_free(struct pending *p)
{
	if (!p)
		return;
	flow_set_done(&p->set);
	free(p);
}

void pending_freep(struct pending **p)
{
	pending_free(*p);
}

size_t pending_count(const struct pending *p)
{
	return p->set.count;
}

const struct flow *pending_flows(const struct pending *p)
{
	return p->set.flows;
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

/* Drops the oldest eighth (at least one) so eviction is amortised O(1). */
static void drop_oldest(struct pending *p)
{
	size_t k = p->set.count / 8 ? p->set.count / 8 : 1;
	if (k > p->set.count)
		k = p->set.count;
	flow_set_drop_first(&p->set, k);
	p->dropped += k;
}

static int merge(struct flow *dst, const struct flow *src)
{
	dst->connections = src->connections;
	dst->new_connections += src->new_connections;
	if (src->first_seen_ms < dst->first_seen_ms)
		dst->first_seen_ms = src->first_seen_ms;
	if (src->last_seen_ms > dst->last_seen_ms)
		dst->last_seen_ms = src->last_seen_ms;
	if (src->pid && (!dst->pid || src->pid < dst->pid))
		dst->pid = src->pid;
	return flow_add_conn_ids(dst, src->conn_ids, src->n_conn_ids);
}

int pending_add(struct pending *p, const struct flow *f, size_t limit)
{
	struct flow copy;
	size_t slot;

	if (limit == 0)
		limit = 1;
	struct flow *e = flow_set_find(&p->set, &f->key, &slot);
	if (e)
		return merge(e, f);
	if (p->set.count >= limit) {
		while (p->set.count >= limit)
			drop_oldest(p);
		slot = FLOW_SET_ANY_SLOT;
	}
	if (flow_copy(&copy, f) < 0)
		return -ENOMEM;
	e = flow_set_insert(&p->set, &f->key, slot);
	if (!e) {
		flow_clear(&copy);
		return -ENOMEM;
	}
	*e = copy;
	return 0;
}
