// SPDX-License-Identifier: MIT
#include "agent/stages.h"

#include <errno.h>

int stage_list_add(struct stage_list *l, struct stage *st)
{
	if (!st)
		return -ENOMEM;
	if (l->n == STAGES_MAX) {
		stage_free(st);
		return -E2BIG;
	}
	l->v[l->n++] = st;
	return 0;
}

void stage_list_prepare(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->prepare)
			l->v[i]->prepare(l->v[i]);
}

bool stage_list_partials(const struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->partial)
			return true;
	return false;
}

void stage_list_partial(void *ud, const struct sock_record *recs, size_t n)
{
	struct stage_list *l = ud;
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->partial)
			l->v[i]->partial(l->v[i], recs, n);
}

int stage_list_scan(struct stage_list *l, const struct sock_record *recs,
		    size_t n)
{
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = l->v[i];
		int r = st->scan ? st->scan(st, recs, n) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int stage_list_enrich(uint32_t pid, const struct sock_record *rec,
		      struct flow_owner *o, void *userdata)
{
	struct stage_list *l = userdata;
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = l->v[i];
		int r = st->enrich ? st->enrich(st, pid, rec, o) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

bool stage_list_translate(const struct sock_record *rec, uint8_t dir,
			  struct flow_nat *ret, void *userdata)
{
	struct stage_list *l = userdata;
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = l->v[i];
		if (st->translate && st->translate(st, rec, dir, ret))
			return true;
	}
	return false;
}

bool stage_list_translates(const struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->translate)
			return true;
	return false;
}

bool stage_list_plain_peer(struct stage_list *l, const struct sock_record *rec)
{
	bool any = false;
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = l->v[i];
		if (!st->translate)
			continue;
		if (!st->plain_peer || !st->plain_peer(st, rec))
			return false;
		any = true;
	}
	return any;
}

ssize_t stage_list_nat_sources(struct stage_list *l, const struct net_addr **ret)
{
	ssize_t n = -1;
	for (size_t i = 0; i < l->n; i++) {
		struct stage *st = l->v[i];
		if (!st->translate)
			continue;
		if (!st->nat_sources || n >= 0)
			return -1;
		n = st->nat_sources(st, ret);
		if (n < 0)
			return -1;
	}
	return n;
}

void stage_list_report(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i]->report)
			l->v[i]->report(l->v[i]);
}

void stage_list_clear(struct stage_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		stage_free(l->v[i]);
	l->n = 0;
}
