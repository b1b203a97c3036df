// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's early lookups (a one-shot polling scan with the
 * per-connection lookup): the kernel's lookups cost ~0.6 us a tuple on a
 * large table, about as much as the rest of the stage together, so they
 * run on prepare()'s thread, inside the netns with most entries, while
 * the source still reads the sockets. partial() hands over the records
 * read so far that look active (no listener seen on their port yet) in
 * blocks of CT_EARLY_BLOCK tuples; the thread looks each block up as it
 * comes. scan() then takes the answer of every tuple that is still its
 * records' (ct_early_marks()) and looks up only the rest
 * (stage_conntrack_lookup.c).
 */
#include "agent/stage_conntrack_int.h"
#include "core/log.h"
#include "core/util.h"
#include "probe/netns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int ct_early_init(struct ct_early *e)
{
	if (u64map_init(&e->listeners, 0) < 0)
		return -ENOMEM;
	if (pthread_mutex_init(&e->mu, NULL) != 0)
		return -ENOMEM;
	if (pthread_cond_init(&e->cv, NULL) != 0) {
		pthread_mutex_destroy(&e->mu);
		return -ENOMEM;
	}
	e->sync = true;
	return 0;
}

static void drop_blocks(struct ct_early *e)
{
	for (size_t i = 0; i < e->nblk; i++)
		free(e->blk[i]);
	e->nblk = e->taken = 0;
	free(e->cur);
	e->cur = NULL;
}

void ct_early_release(struct ct_early *e)
{
	drop_blocks(e);
	free(e->mark);
	e->mark = NULL;
	e->cap_mark = 0;
}

void ct_early_free(struct ct_early *e)
{
	drop_blocks(e);
	free(e->blk);
	free(e->v);
	free(e->vslot);
	free(e->mark);
	u64map_free(&e->listeners);
	if (e->sync) {
		pthread_cond_destroy(&e->cv);
		pthread_mutex_destroy(&e->mu);
	}
}

void ct_early_begin(struct stage_conntrack *c)
{
	struct ct_early *e = &c->early;
	drop_blocks(e);
	u64map_clear(&e->listeners);
	e->seen = 0;
	e->end = e->closed = false;
	e->ino = 0;
	e->looked = 0;
	e->err = 0;
	e->found = 0;
	e->cpu_us = 0;
	e->nv = 0;
	e->on = e->sync && ct_lookup_offered(c);
}

/* Hands the block being filled to the thread; false when it takes no
 * more (then partial() stops). */
static bool hand_over(struct ct_early *e)
{
	bool ok = false;
	pthread_mutex_lock(&e->mu);
	if (!e->closed && e->nblk == e->cap_blk) {
		size_t nc = e->cap_blk ? e->cap_blk * 2 : 32;
		void *v = realloc(e->blk, nc * sizeof(*e->blk));
		if (v) {
			e->blk = v;
			e->cap_blk = nc;
		}
	}
	if (!e->closed && e->nblk < e->cap_blk) {
		e->blk[e->nblk++] = e->cur;
		e->cur = NULL;
		pthread_cond_signal(&e->cv);
		ok = true;
	}
	pthread_mutex_unlock(&e->mu);
	return ok;
}

/* Record i: a listener is remembered; a tuple that looks active goes in
 * the block being filled. False: no more (out of memory, thread gone). */
static bool take(struct ct_early *e, const struct sock_record *rec, size_t i)
{
	if (ct_rec_listens(rec))
		return u64map_put(&e->listeners,
				  ct_listener_key(rec->netns, rec->proto,
						  rec->lport),
				  1) >= 0;
	/* As ct_queries_build() classifies, with the listeners seen so
	 * far: one seen later makes it passive, and scan() drops it. */
	if (!ct_rec_lookable(rec) || rec->dir == SOCK_DIR_PASSIVE ||
	    (rec->dir != SOCK_DIR_ACTIVE &&
	     u64map_get(&e->listeners, ct_listener_key(rec->netns, rec->proto,
						       rec->lport))))
		return true;
	if (!e->cur) {
		if (!(e->cur = malloc(sizeof(*e->cur))))
			return false;
		e->cur->n = 0;
	}
	struct ct_early_block *b = e->cur;
	b->rec[b->n] = (uint32_t)i;
	ct_query_of(&b->q[b->n++], rec);
	return b->n < CT_EARLY_BLOCK || hand_over(e);
}

void ct_partial(struct stage *st, const struct sock_record *recs, size_t n)
{
	struct ct_early *e = &((struct stage_conntrack *)st)->early;
	if (!e->on)
		return;
	if (n < e->seen)
		e->seen = n; /* read again from there: new records follow */
	for (size_t i = e->seen; i < n && e->on; i++)
		e->on = take(e, &recs[i], i);
	e->seen = n;
}

void ct_early_close(struct ct_early *e)
{
	if (!e->sync)
		return;
	pthread_mutex_lock(&e->mu);
	e->closed = true;
	pthread_mutex_unlock(&e->mu);
}

void ct_early_end(struct ct_early *e)
{
	if (!e->sync)
		return;
	if (e->on && e->cur && e->cur->n)
		(void)hand_over(e);
	e->on = false;
	pthread_mutex_lock(&e->mu);
	e->end = true;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

struct early_job {
	struct ct_early *e;
	uint32_t first; /* the block's first slot */
};

/* A NAT entry found (the thread's): kept with its slot. */
static void early_hit(void *ud, size_t i, const struct ct_entry *ent)
{
	struct early_job *j = ud;
	struct ct_early *e = j->e;
	if (!ent->nat || e->err)
		return;
	if (e->nv == e->cap_v) {
		size_t nc = e->cap_v ? e->cap_v * 2 : 4096;
		struct ct_entry *v = realloc(e->v, nc * sizeof(*v));
		if (v)
			e->v = v;
		uint32_t *s = v ? realloc(e->vslot, nc * sizeof(*s)) : NULL;
		if (!s) {
			e->err = -ENOMEM;
			return;
		}
		e->vslot = s;
		e->cap_v = nc;
	}
	struct ct_entry *v = &e->v[e->nv];
	*v = *ent;
	v->netns = e->ino;
	v->dead_gen = 0;
	e->vslot[e->nv++] = j->first + (uint32_t)i;
}

/* The calling thread's CPU time so far, in us (0: unknown). */
static uint64_t thread_cpu_us(void)
{
	struct rusage u;
	if (getrusage(RUSAGE_THREAD, &u) < 0)
		return 0;
	return (uint64_t)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000 +
	       (uint64_t)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/* Inside the netns: every block as it comes, until ct_early_end(). */
static int early_loop(void *arg)
{
	struct stage_conntrack *c = arg;
	struct ct_early *e = &c->early;
	uint64_t t0 = thread_cpu_us();
	for (;;) {
		pthread_mutex_lock(&e->mu);
		while (e->taken == e->nblk && !e->end)
			pthread_cond_wait(&e->cv, &e->mu);
		if (e->taken == e->nblk) {
			pthread_mutex_unlock(&e->mu);
			e->cpu_us = thread_cpu_us() - t0;
			return 0;
		}
		size_t bi = e->taken++;
		struct ct_early_block *b = e->blk[bi];
		pthread_mutex_unlock(&e->mu);
		if (e->err)
			continue; /* nothing early counts: drain */
		struct early_job j = { e, (uint32_t)(bi * CT_EARLY_BLOCK) };
		ssize_t h = c->lk.lookup(c->lk.ctx, b->q, b->n, early_hit, &j);
		if (h < 0) {
			e->err = (int)h;
			continue;
		}
		e->found += (uint64_t)h;
		e->looked++;
	}
}

void ct_early_serve(struct stage_conntrack *c)
{
	struct ct_early *e = &c->early;
	struct netns_handle *best = NULL;
	uint32_t most = 0;
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		struct ct_ns *s = ct_ns_find(c, h->ino);
		if (s && h->diag_fd >= 0 && s->count_gen == c->gen &&
		    s->entries > most) {
			most = s->entries;
			best = h;
		}
	}
	if (best) {
		e->ino = best->ino;
		int r = netns_run(best, early_loop, c);
		if (r < 0)
			e->err = r;
		log_debug("conntrack: %zu blocks looked up while the sockets "
			  "were read (%llu found), %.1f ms CPU", e->looked,
			  (unsigned long long)e->found, (double)e->cpu_us / 1e3);
	}
	ct_early_close(e);
}

/* Whether slot k of block b is still the tuple of its record. */
static bool slot_valid(const struct ct_early_block *b, size_t k,
		       const struct sock_record *recs, size_t n)
{
	uint32_t r = b->rec[k];
	if (r >= n || !ct_rec_lookable(&recs[r]))
		return false;
	struct ct_query t;
	ct_query_of(&t, &recs[r]);
	return !memcmp(&t, &b->q[k], sizeof(t));
}

static const struct ct_early_block *slot_block(const struct ct_early *e,
					       uint32_t slot, size_t *k)
{
	*k = slot % CT_EARLY_BLOCK;
	return e->blk[slot / CT_EARLY_BLOCK];
}

static uint64_t query_key(const struct ct_query *q)
{
	uint64_t h = hash_bytes(q, sizeof(*q), 0);
	return h ? h : 1; /* 0 is the map's empty key */
}

/*
 * The slots no longer at their record's place (the source dropped records
 * before them, e.g. a netns read again) are found by their tuple: a map
 * of the lost slots (value: the slot, and its hit + 1 in the high half),
 * then every record left without a mark. 0 or -ENOMEM.
 */
static int marks_by_tuple(struct ct_early *e, const struct sock_record *recs,
			  size_t n, size_t *valid)
{
	struct u64map m;
	if (u64map_init(&m, 0) < 0)
		return -ENOMEM;
	int r = 0;
	for (size_t bi = 0; bi < e->nblk && r >= 0; bi++)
		for (size_t k = 0; k < e->blk[bi]->n && r >= 0; k++)
			if (!e->blk[bi]->placed[k])
				r = u64map_put(&m, query_key(&e->blk[bi]->q[k]),
					       bi * CT_EARLY_BLOCK + k);
	for (size_t h = 0; h < e->nv && r >= 0; h++) {
		size_t k;
		const struct ct_early_block *b = slot_block(e, e->vslot[h], &k);
		uint64_t *v = u64map_get(&m, query_key(&b->q[k]));
		if (v && (uint32_t)*v == e->vslot[h])
			*v |= (uint64_t)(h + 1) << 32;
	}
	for (size_t i = 0; i < n && r >= 0 && m.count; i++) {
		struct ct_query t;
		if (e->mark[i] || !ct_rec_lookable(&recs[i]))
			continue;
		ct_query_of(&t, &recs[i]);
		const uint64_t *v = u64map_get(&m, query_key(&t));
		size_t k;
		if (!v || memcmp(&slot_block(e, (uint32_t)*v, &k)->q[k], &t,
				 sizeof(t)))
			continue;
		e->mark[i] = *v >> 32 ? (uint32_t)(*v >> 32) : CT_EARLY_MISS;
		(*valid)++;
	}
	u64map_free(&m);
	return r < 0 ? -ENOMEM : 0;
}

ssize_t ct_early_marks(struct stage_conntrack *c,
		       const struct sock_record *recs, size_t n)
{
	struct ct_early *e = &c->early;
	if (!e->ino || e->err || !e->nblk || e->looked != e->nblk)
		return 0;
	if (n > e->cap_mark) {
		uint32_t *m = realloc(e->mark, n * sizeof(*m));
		if (!m)
			return -ENOMEM;
		e->mark = m;
		e->cap_mark = n;
	}
	memset(e->mark, 0, n * sizeof(*e->mark));
	size_t valid = 0, lost = 0;
	for (size_t bi = 0; bi < e->nblk; bi++) {
		struct ct_early_block *b = e->blk[bi];
		for (size_t k = 0; k < b->n; k++) {
			b->placed[k] = slot_valid(b, k, recs, n);
			if (!b->placed[k]) {
				lost++;
				continue;
			}
			e->mark[b->rec[k]] = CT_EARLY_MISS;
			valid++;
		}
	}
	for (size_t h = 0; h < e->nv; h++) {
		size_t k;
		const struct ct_early_block *b = slot_block(e, e->vslot[h], &k);
		if (b->placed[k])
			e->mark[b->rec[k]] = (uint32_t)h + 1;
	}
	size_t placed = valid;
	if (lost && marks_by_tuple(e, recs, n, &valid) < 0)
		return -ENOMEM;
	log_debug("conntrack: early answers: %zu by place, %zu by tuple, %zu "
		  "not the records' any more", placed, valid - placed,
		  lost - (valid - placed));
	return (ssize_t)valid;
}
