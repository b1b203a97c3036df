// SPDX-License-Identifier: MIT
/*
 * The flows a flush need not send (delta.h): what the last committed
 * flushes wrote, as a digest per flow key, its bucket and the earliest
 * first_seen, in one entry per flow updated in place; and the flows owed
 * their bucket's refresh.
 *
 * A flush of 100k flows looks each up once when selecting and once when
 * committing, and computes its key hash and digest once (the selection
 * keeps them for the commit): rebuilding three maps of n entries at every
 * commit and hashing every flow twice cost 0.4-1 us a flow at 100k
 * (cmdb_bench delta), now 0.2-0.3 us (docs/cmdb.md).
 */
#include "cmdb/delta.h"

#include "core/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cmdb_delta_init(struct cmdb_delta *d)
{
	memset(d, 0, sizeof(*d));
}

void cmdb_delta_forget(struct cmdb_delta *d)
{
	u64map_free(&d->at);
	free(d->known);
	d->known = NULL;
	d->n_known = d->known_cap = 0;
	d->sel_flows = NULL;
}

void cmdb_delta_clear(struct cmdb_delta *d)
{
	cmdb_delta_forget(d);
	u64map_free(&d->owed_at);
	free(d->owed);
	free(d->next);
	free(d->deferred);
	free(d->seen);
	free(d->sel);
	cmdb_delta_init(d);
}

static const struct cmdb_delta_known *known_get(const struct cmdb_delta *d,
						uint64_t k)
{
	const uint64_t *i = u64map_get(&d->at, k);
	return i ? &d->known[*i] : NULL;
}

/* Never 0 (the map's empty slot). */
static uint64_t key_hash(const struct flow_key *key)
{
	uint64_t h = hash_bytes(key, sizeof(*key), 0x64656c7461);
	return h ? h : 1;
}

static uint64_t str_hash(const char *s, uint64_t seed)
{
	/* NULL (unknown) differs from "" (known empty). */
	return s ? hash_bytes(s, strlen(s), seed) : seed * 0x9e3779b97f4a7c15ULL;
}

static int64_t bucket_of(int64_t ms, int64_t width)
{
	return ms >= 0 ? ms / width : (ms + 1) / width - 1;
}

/*
 * What the server compares a flow's row with (unique.sql's u and the
 * nodes' _node_changed.sql), but first_seen (compared by order) and the
 * history bucket of last_seen (apart): the interval's count and what the
 * flow's nodes carry of its process, container and pod.
 */
static uint64_t digest(const struct flow *f)
{
	struct {
		uint64_t cgroup_id;
		uint32_t connections, pid;
	} v = { .cgroup_id = f->cgroup_id,
		.connections = f->connections,
		.pid = f->pid };
	const char *s[] = { f->cmdline,	     f->cgroup,
			    f->container_id,  f->container_name,
			    f->pod_namespace, f->pod_name,
			    f->pod_uid };
	uint64_t h = hash_bytes(&v, sizeof(v), 0x7374617465);
	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		h = hash_u64(h ^ str_hash(s[i], i + 1));
	return h;
}

/* Whether a flow whose only news is its new bucket is due to be sent at
 * last_ms: at or after its offset into the bucket (delta.h). */
static bool refresh_due(uint64_t k, int64_t last_ms, int64_t width,
			int64_t interval_ms)
{
	if (interval_ms <= 0)
		return true;
	int64_t span = width - 2 * interval_ms;
	if (span <= 0)
		return true;
	int64_t into = last_ms - bucket_of(last_ms, width) * width;
	return into >= (int64_t)(hash_u64(k ^ 0x6f776564) % (uint64_t)span);
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	if (n <= *cap)
		return 0;
	void *q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* An owed flow gone from the batch, as a flow to send: no strings (the
 * server keeps what its rows have), no new connection. */
static struct flow owed_flow(const struct cmdb_delta_owed *o)
{
	return (struct flow){ .key = o->key,
			      .connections = o->connections,
			      .first_seen_ms = o->first_ms,
			      .last_seen_ms = o->last_ms };
}

/*
 * What to do with in (key hash k, digest dig), known as written: 1 to send
 * it (with its first_seen lowered to *first, which covers an owed bucket),
 * 0 to leave it out, 2 to defer it (owed). o: its owed entry or NULL.
 */
static int choose(const struct cmdb_delta *d, const struct flow *in,
		  uint64_t k, uint64_t dig, const struct cmdb_delta_owed *o,
		  int64_t width, int64_t interval_ms, int64_t *first)
{
	const struct cmdb_delta_known *e = known_get(d, k);
	int64_t b = bucket_of(in->last_seen_ms, width);

	*first = in->first_seen_ms;
	if (o && bucket_of(o->last_ms, width) < b && o->first_ms < *first)
		*first = o->first_ms;
	if (in->new_connections || !e || e->digest != dig ||
	    in->first_seen_ms < e->first_ms)
		return 1;
	if (b <= e->bucket)
		return 0;
	if (o && bucket_of(o->last_ms, width) < b)
		return 1; /* its owed bucket ended unrefreshed: both now */
	if (!refresh_due(k, in->last_seen_ms, width, interval_ms) &&
	    d->n_next < CMDB_DELTA_OWED_MAX)
		return 2;
	return 1;
}

/* The selection stops being the caller's flows: its first m are copied
 * into d->sel. Returns false (no longer the same). */
static bool unshare(struct cmdb_delta *d, const struct flow *flows, size_t m)
{
	if (m)
		memcpy(d->sel, flows, m * sizeof(*d->sel));
	return false;
}

long cmdb_delta_select(struct cmdb_delta *d, const struct flow *flows,
		       size_t n, uint32_t bucket_s, int64_t interval_ms,
		       const struct flow **ret)
{
	int64_t width = (int64_t)bucket_s * 1000;
	size_t owed_max = n < CMDB_DELTA_OWED_MAX ? n : CMDB_DELTA_OWED_MAX;
	d->sel_flows = NULL;
	if (grow((void **)&d->sel, &d->sel_cap, n + d->n_owed, sizeof(*d->sel)) <
		    0 ||
	    grow((void **)&d->deferred, &d->deferred_cap, n,
		 sizeof(*d->deferred)) < 0 ||
	    grow((void **)&d->seen, &d->seen_cap, n, sizeof(*d->seen)) < 0 ||
	    grow((void **)&d->next, &d->next_cap, owed_max, sizeof(*d->next)) <
		    0)
		return -ENOMEM;
	d->gen++;
	d->n_next = 0;
	/* While every flow so far is sent as it is, the selection is the
	 * caller's flows themselves: copied only from where it differs. */
	bool same = true;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct flow *in = &flows[i];
		uint64_t k = key_hash(&in->key), dig = digest(in);
		d->seen[i] = (struct cmdb_delta_seen){ .hash = k, .digest = dig };
		const uint64_t *at = d->n_owed ? u64map_get(&d->owed_at, k) :
						 NULL;
		struct cmdb_delta_owed *o = at ? &d->owed[*at] : NULL;
		if (o)
			o->gen = d->gen;
		int64_t first;
		int c = choose(d, in, k, dig, o, width, interval_ms, &first);
		d->deferred[i] = c == 2;
		if (same && (c != 1 || first != in->first_seen_ms))
			same = unshare(d, flows, m);
		if (c == 1) {
			if (!same) {
				d->sel[m] = *in;
				d->sel[m].first_seen_ms = first;
			}
			m++;
		}
		if (c != 2)
			continue;
		int64_t start = bucket_of(in->last_seen_ms, width) * width;
		struct cmdb_delta_owed *nx = &d->next[d->n_next++];
		*nx = (struct cmdb_delta_owed){
			.key = in->key,
			.hash = k,
			.first_ms = o ? o->first_ms :
			first > start ? first : start,
			.last_ms = in->last_seen_ms,
			.connections = in->connections
		};
	}
	for (size_t i = 0; i < d->n_owed; i++) {
		if (d->owed[i].gen == d->gen)
			continue;
		if (same)
			same = unshare(d, flows, m);
		d->sel[m++] = owed_flow(&d->owed[i]);
	}
	d->sel_flows = flows;
	d->sel_n = n;
	*ret = same ? flows : d->sel;
	return (long)m;
}

/* Past this many flows the selection's arrays (~200 B a flow) are freed
 * after each flush instead of kept for the next one. */
#define SEL_KEEP_MAX 4096

void cmdb_delta_done(struct cmdb_delta *d)
{
	if (d->sel_cap > SEL_KEEP_MAX) {
		free(d->sel);
		d->sel = NULL;
		d->sel_cap = 0;
	}
}

/* *ret: key hash -> index of v[0..n). */
static int index_owed(const struct cmdb_delta_owed *v, size_t n,
		      struct u64map *ret)
{
	int r;
	if ((r = u64map_init(ret, 0)) < 0)
		return r;
	if ((r = u64map_reserve(ret, n)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if ((r = u64map_put(ret, v[i].hash, i)) < 0)
			goto fail;
	return 0;
fail:
	u64map_free(ret);
	return r;
}

/* The selection's deferred flows become the owed ones. */
static int owe_next(struct cmdb_delta *d)
{
	struct u64map at;
	int r;
	/* Nothing owed before or now (most flushes): no index to build. */
	if (!d->n_next && !d->n_owed)
		return 0;
	if ((r = index_owed(d->next, d->n_next, &at)) < 0)
		return r;
	u64map_free(&d->owed_at);
	d->owed_at = at;
	struct cmdb_delta_owed *o = d->owed;
	size_t cap = d->owed_cap;
	d->owed = d->next;
	d->owed_cap = d->next_cap;
	d->n_owed = d->n_next;
	d->next = o;
	d->next_cap = cap;
	d->n_next = 0;
	return 0;
}

void cmdb_owed_free(struct cmdb_owed *o)
{
	if (o)
		free(o->v);
	free(o);
}

struct cmdb_owed *cmdb_delta_take_owed(struct cmdb_delta *d)
{
	struct cmdb_owed *o = d->n_owed ? malloc(sizeof(*o)) : NULL;
	if (o) {
		o->v = d->owed;
		o->n = d->n_owed;
		d->owed = NULL;
	}
	free(d->owed);
	d->owed = NULL;
	d->owed_cap = d->n_owed = 0;
	u64map_free(&d->owed_at);
	return o;
}

int cmdb_delta_give_owed(struct cmdb_delta *d, struct cmdb_owed *o)
{
	struct u64map at;
	if (!o)
		return 0;
	/* A new connection's delta owes nothing yet; if it does, what it
	 * owes stays and o goes (never two entries for one flow). */
	if (d->n_owed || index_owed(o->v, o->n, &at) < 0) {
		int r = d->n_owed ? 0 : -ENOMEM;
		cmdb_owed_free(o);
		return r;
	}
	for (size_t i = 0; i < o->n; i++)
		o->v[i].gen = 0; /* not seen by any selection of d */
	free(d->owed);
	u64map_free(&d->owed_at);
	d->owed = o->v;
	d->owed_cap = d->n_owed = o->n;
	d->owed_at = at;
	free(o);
	return 0;
}

/* Drops the known flows the commit's batch did not hold (gen: its
 * commit), moving the others down. */
static void sweep(struct cmdb_delta *d, uint64_t gen)
{
	size_t j = 0;
	for (size_t i = 0; i < d->n_known; i++) {
		struct cmdb_delta_known *e = &d->known[i];
		if (e->gen != gen) {
			u64map_del(&d->at, e->hash);
			continue;
		}
		if (i != j) {
			d->known[j] = *e;
			*u64map_get(&d->at, e->hash) = j;
		}
		j++;
	}
	d->n_known = j;
}

/* After far fewer flows than before: gives the memory back (the map and
 * the arrays are sized for the largest batch otherwise). */
static int shrink(struct cmdb_delta *d, size_t n)
{
	if (d->deferred_cap > 2 * n + SEL_KEEP_MAX) {
		free(d->deferred);
		free(d->seen);
		d->deferred = NULL;
		d->seen = NULL;
		d->deferred_cap = d->seen_cap = 0;
	}
	if (d->known_cap > d->n_known + d->n_known / 4 + SEL_KEEP_MAX) {
		size_t cap = d->n_known ? d->n_known : 1;
		void *p = realloc(d->known, cap * sizeof(*d->known));
		if (p) {
			d->known = p;
			d->known_cap = cap;
		}
	}
	if (d->at.cap > 8 * d->at.count && d->at.cap > 2 * SEL_KEEP_MAX) {
		struct u64map at;
		int r;
		if ((r = u64map_init(&at, 0)) < 0)
			return r;
		if ((r = u64map_reserve(&at, d->n_known)) < 0) {
			u64map_free(&at);
			return r;
		}
		for (size_t i = 0; i < d->n_known; i++)
			(void)u64map_put(&at, d->known[i].hash, i);
		u64map_free(&d->at);
		d->at = at;
	}
	return 0;
}

/* Room for one more known flow: in steps of an eighth of the batch, so
 * that a batch with a few new flows does not double the array. */
static int known_room(struct cmdb_delta *d, size_t n)
{
	if (d->n_known < d->known_cap)
		return 0;
	size_t step = n / 8 > 64 ? n / 8 : 64;
	size_t cap = d->known_cap ? d->known_cap + step : n > 0 ? n : 1;
	return grow((void **)&d->known, &d->known_cap, cap, sizeof(*d->known));
}

int cmdb_delta_commit(struct cmdb_delta *d, const struct flow *flows,
		      size_t n, uint32_t bucket_s)
{
	int64_t width = (int64_t)bucket_s * 1000;
	/* The hashes and digests of the selection, when these are its
	 * flows (else computed here). */
	bool seen = d->sel_flows == flows && d->sel_n == n && d->seen;
	uint64_t gen = ++d->commits;
	size_t touched = 0;
	int r;

	d->sel_flows = NULL;
	if ((!d->at.slots && (r = u64map_init(&d->at, 0)) < 0) ||
	    (r = u64map_reserve(&d->at, n)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		uint64_t k = seen ? d->seen[i].hash : key_hash(&f->key);
		uint64_t *at;
		int64_t b = bucket_of(f->last_seen_ms, width);
		if ((r = known_room(d, n)) < 0 ||
		    (r = u64map_upsert(&d->at, k, &at)) < 0)
			goto fail;
		if (r)
			*at = d->n_known++;
		struct cmdb_delta_known *e = &d->known[*at];
		if (r) {
			*e = (struct cmdb_delta_known){ .hash = k,
							.first_ms = f->first_seen_ms,
							.bucket = b };
		} else {
			/* Known: the earliest first_seen stays, and a
			 * deferred flow keeps the bucket written before. */
			if (f->first_seen_ms < e->first_ms)
				e->first_ms = f->first_seen_ms;
			if (!(d->deferred && i < d->deferred_cap &&
			      d->deferred[i]))
				e->bucket = b;
		}
		touched += e->gen != gen;
		e->digest = seen ? d->seen[i].digest : digest(f);
		e->gen = gen;
	}
	/* Flows not in the batch are forgotten. */
	if (d->n_known > touched)
		sweep(d, gen);
	if ((r = owe_next(d)) < 0 || (r = shrink(d, n)) < 0)
		goto fail;
	return 0;
fail:
	/* Nothing owed is lost: the next flush sends every live flow and
	 * the owed ones gone. */
	cmdb_delta_forget(d);
	return r;
}
