// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's per-connection lookup (a one-shot polling scan):
 * instead of dumping a netns's table, the scan's tuples are looked up by
 * the lookup a probe offers (conntrack/ct.h struct ct_lookup_ops; the
 * BPF kfunc one in probe/ebpf_ctlookup.c), in every netns with entries,
 * the largest table first; a netns whose lookup fails is dumped
 * (stage_conntrack.c keeps the dumps, the events and the tables).
 */
#include "agent/stage_conntrack_int.h"
#include "core/log.h"
#include "core/util.h"
#include "probe/netns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A scan that looks tuples up instead of dumping: a one-shot polling
 * one, the lookup offered (and not refused). */
bool ct_lookup_offered(const struct stage_conntrack *c)
{
	return !c->events && c->polling &&
	       (c->lk_state == CT_LK_UNTRIED || c->lk_state == CT_LK_OK);
}

/* Opens the offered lookup once; whether it is usable now. */
bool ct_lookup_ready(struct stage_conntrack *c)
{
	if (c->lk_state == CT_LK_UNTRIED) {
		int r = c->lk.open(c->lk.ctx, c->lk_why, sizeof(c->lk_why));
		if (r == 0) {
			c->lk_state = CT_LK_OK;
		} else if (r != -ENOMEM) {
			c->lk_state = CT_LK_REFUSED;
			c->lk_err = r;
		}
	}
	return c->lk_state == CT_LK_OK;
}

bool ct_lookup_wanted(struct stage_conntrack *c)
{
	return ct_lookup_offered(c) && ct_lookup_ready(c);
}

/* The entry count of h's netns this scan (one small request; cached for
 * the scan). 0, or -errno. */
static int count_ns(struct stage_conntrack *c, struct netns_handle *h,
		    struct ct_ns *s)
{
	if (s->count_gen == c->gen)
		return 0;
	uint32_t entries = 0, max = 0;
	int r = ct_count(h->diag_fd, &entries, &max);
	if (r < 0)
		return r;
	if (max && entries >= max)
		c->stats.full++;
	s->entries = entries;
	s->count_gen = c->gen;
	return 0;
}

/* prepare()'s share when the lookup is on: the entry counts. */
void ct_count_netns(struct stage_conntrack *c)
{
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		struct ct_ns *s = ct_ns_find(c, h->ino);
		if (s && h->diag_fd >= 0)
			(void)count_ns(c, h, s);
	}
}

struct lookup_job {
	struct stage_conntrack *c;
	uint64_t ino;
	size_t nq;
	int err; /* of a hit's table insertion (-ENOMEM) */
	size_t early; /* the netns looked in early: its tuples that count */
	uint32_t *map; /* lookup_rest(): its tuples' index in the queries */
};

/* One tuple found: a NAT entry goes into the table, and its tuple is
 * not looked up in the next netns. */
static void lookup_hit(void *ud, size_t i, const struct ct_entry *e)
{
	struct lookup_job *j = ud;
	struct stage_conntrack *c = j->c;
	if (!e->nat)
		return;
	if (c->lk_n == c->lk_cap) {
		size_t nc = c->lk_cap ? c->lk_cap * 2 : 1024;
		struct ct_entry *v = realloc(c->lk_v, nc * sizeof(*v));
		if (!v) {
			j->err = -ENOMEM;
			return;
		}
		c->lk_v = v;
		c->lk_cap = nc;
	}
	struct ct_entry *v = &c->lk_v[c->lk_n++];
	*v = *e;
	v->netns = j->ino;
	v->dead_gen = 0;
	c->ans[ct_queries_rec(&c->queries, i)] = (uint32_t)c->lk_n;
	ct_queries_resolve(&c->queries, i);
}

static void rest_hit(void *ud, size_t i, const struct ct_entry *e)
{
	struct lookup_job *j = ud;
	lookup_hit(j, j->map[i], e);
}

/*
 * The netns looked in while the source read (stage_conntrack_early.c):
 * its entries found are the scan's first answers (the early netns comes
 * first: nothing found before), the active tuples it looked up are
 * answered, and only the others (read last, or classified otherwise)
 * and the passive ones are looked up now. Entries found for a tuple no
 * record has any more stay unanswered.
 */
static int lookup_rest(struct lookup_job *j)
{
	struct stage_conntrack *c = j->c;
	struct ct_queries *q = &c->queries;
	struct ct_early *e = &c->early;
	struct ct_entry *v = c->lk_v;
	size_t cap = c->lk_cap;
	c->lk_v = e->v;
	c->lk_cap = e->cap_v;
	c->lk_n = e->nv;
	e->v = v;
	e->cap_v = cap;
	e->nv = 0;
	_cleanup_(freep) struct ct_query *rq = malloc((q->n ? q->n : 1) *
						       sizeof(*rq));
	_cleanup_(freep) uint32_t *map = malloc((q->n ? q->n : 1) *
						sizeof(*map));
	if (!rq || !map)
		return -ENOMEM;
	size_t nr = 0;
	for (size_t i = 0; i < q->n; i++) {
		uint32_t m = i < q->nact ? e->mark[q->arec[i]] : 0;
		if (!m) {
			rq[nr] = q->q[i];
			map[nr++] = (uint32_t)i;
		} else if (m != CT_EARLY_MISS) {
			c->ans[q->arec[i]] = m;
			ct_queries_resolve(q, i);
		}
	}
	c->stats.lookup_hits += e->found;
	j->nq = j->early + nr;
	j->map = map;
	ssize_t hits = nr ? c->lk.lookup(c->lk.ctx, rq, nr, rest_hit, j) : 0;
	if (hits < 0)
		return (int)hits;
	c->stats.lookup_hits += (uint64_t)hits;
	return 0;
}

/* Inside the netns: its addresses pick the passive tuples, then the
 * lookup. */
static int lookup_in_ns(void *arg)
{
	struct lookup_job *j = arg;
	struct stage_conntrack *c = j->c;
	if (c->queries.npas) {
		struct addrs_job a = { 0 };
		int r = ct_local_addrs(&a);
		if (r == 0)
			(void)ct_queries_select(&c->queries, &a);
		free(a.addr);
		if (r < 0)
			return r;
	}
	if (j->early)
		return lookup_rest(j);
	j->nq = c->queries.n;
	if (!j->nq)
		return 0;
	ssize_t hits = c->lk.lookup(c->lk.ctx, c->queries.q, j->nq,
				    lookup_hit, j);
	if (hits < 0)
		return (int)hits;
	c->stats.lookup_hits += (uint64_t)hits;
	return 0;
}

/* One netns by lookups; -errno when they failed (the caller dumps). */
static int lookup_ns(struct stage_conntrack *c, struct netns_handle *h,
		     struct ct_ns *s, size_t early)
{
	struct lookup_job j = { .c = c, .ino = h->ino, .early = early };
	ct_table_set_context(c->ct, h->ino, c->gen);
	int r = netns_run(h, lookup_in_ns, &j);
	(void)ct_queries_compact(&c->queries);
	if (j.err)
		return j.err;
	if (r < 0)
		return r;
	c->stats.lookups += j.nq;
	c->stats.lookup_netns++;
	s->done = CT_DUMP_ALL;
	return 0;
}

struct ns_order {
	struct netns_handle *h;
	struct ct_ns *s;
};

/* The netns with the most entries first: a node's (kube-proxy's) table
 * resolves most tuples, and the others look up what is left. */
static int by_entries(const void *a, const void *b)
{
	const struct ns_order *x = a, *y = b;
	uint32_t ex = x->s->count_gen ? x->s->entries : 0;
	uint32_t ey = y->s->count_gen ? y->s->entries : 0;
	return ex < ey ? 1 : ex > ey ? -1 : 0;
}

/* The scan's answers start empty; its tuples are built. 0 or -ENOMEM. */
static int lookup_begin(struct stage_conntrack *c)
{
	int r = ct_queries_build(&c->queries, c->recs, c->nrecs);
	if (r < 0)
		return r;
	if (c->nrecs > c->ans_cap) {
		uint32_t *v = realloc(c->ans, c->nrecs * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->ans = v;
		c->ans_cap = c->nrecs;
	}
	if (c->nrecs)
		memset(c->ans, 0, c->nrecs * sizeof(*c->ans));
	c->lk_recs = c->recs;
	c->lk_nrecs = c->nrecs;
	c->lk_n = 0;
	c->lk_indexed = false;
	c->lk_dumped = false;
	c->lk_scan = true;
	c->stats.lookup_netns = 0;
	return 0;
}

/* The netns to look in (order, room for every netns), largest table
 * first; their count. */
static size_t lookup_order(struct stage_conntrack *c, struct ns_order *order)
{
	size_t k = 0;
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		struct ct_ns *s = ct_ns_find(c, h->ino);
		if (!s)
			continue;
		if (s->done_gen != c->gen) {
			s->done_gen = c->gen;
			s->done = 0;
			s->ok = true;
		}
		if (h->diag_fd < 0) {
			c->stats.dump_errors++;
			if (!c->last_err)
				c->last_err = -EPROTONOSUPPORT;
			continue;
		}
		(void)count_ns(c, h, s); /* failed: looked up last */
		order[k++] = (struct ns_order){ h, s };
	}
	qsort(order, k, sizeof(*order), by_entries);
	/* The netns looked in early first (the largest, unless a tie). */
	for (size_t i = 1; i < k; i++)
		if (order[i].h->ino == c->early.ino) {
			struct ns_order t = order[i];
			memmove(order + 1, order, i * sizeof(*order));
			order[0] = t;
		}
	return k;
}

/* A netns whose lookup failed: dumped. 0, or -ENOMEM. */
static int lookup_failed(struct stage_conntrack *c, struct netns_handle *h,
			 struct ct_ns *s, int err)
{
	c->stats.lookup_errors++;
	log_debug("conntrack: lookup in netns %llu: %s; dumped",
		  (unsigned long long)h->ino, strerror(-err));
	unsigned kinds = ct_kinds_wanted(c, h, s, true) & ~s->done;
	c->lk_dumped = true;
	int r = kinds ? ct_dump_ns(c, h, s, kinds) : 0;
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		ct_dump_failed(c, h, s, r);
		return 1; /* not counted as done */
	}
	return 0;
}

/*
 * 3'. The scan's entries by lookups: in every netns with entries, every
 * record's tuple not resolved yet (the passive ones where their peer is
 * an address of that netns). A netns whose lookup fails is dumped
 * instead. 0 or -ENOMEM.
 */
int ct_lookup_netns(struct stage_conntrack *c)
{
	int r = lookup_begin(c);
	if (r < 0)
		return r;
	size_t nn = netns_set_count(c->ns);
	struct ns_order *order = calloc(nn ? nn : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	size_t k = lookup_order(c, order);
	ssize_t early = ct_early_marks(c, c->recs, c->nrecs);
	if (early < 0) {
		free(order);
		return (int)early;
	}
	for (size_t i = 0; i < k && r == 0; i++) {
		struct netns_handle *h = order[i].h;
		struct ct_ns *s = order[i].s;
		bool first_early = early && h->ino == c->early.ino;
		if (s->count_gen == c->gen && s->entries == 0) {
			c->stats.skipped_empty++;
			c->stats.netns++;
			continue;
		}
		if (!c->queries.nact && !c->queries.npas) {
			c->stats.netns++; /* nothing left to look up */
			continue;
		}
		r = lookup_ns(c, h, s, first_early ? (size_t)early : 0);
		if (r < 0 && r != -ENOMEM) {
			r = lookup_failed(c, h, s, r);
			if (r > 0) {
				r = 0;
				continue;
			}
		}
		if (r == 0)
			c->stats.netns++;
	}
	free(order);
	ct_early_release(&c->early);
	return r == -ENOMEM ? r : 0;
}
