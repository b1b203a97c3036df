// SPDX-License-Identifier: MIT
/*
 * The flows a flush need not send (delta.h): what the last committed
 * flushes wrote, as a digest per flow key, its bucket and the earliest
 * first_seen; and the flows owed their bucket's refresh.
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
	u64map_free(&d->state);
	u64map_free(&d->bucket);
	u64map_free(&d->first);
}

void cmdb_delta_clear(struct cmdb_delta *d)
{
	cmdb_delta_forget(d);
	u64map_free(&d->owed_at);
	free(d->owed);
	free(d->next);
	free(d->deferred);
	free(d->sel);
	cmdb_delta_init(d);
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
 * What to do with flows[i], known as written: 1 to send it (*f, its
 * first_seen maybe lowered to cover an owed bucket), 0 to leave it out,
 * 2 to defer it (owed). o: its owed entry or NULL.
 */
static int choose(const struct cmdb_delta *d, const struct flow *in,
		  uint64_t k, const struct cmdb_delta_owed *o, int64_t width,
		  int64_t interval_ms, struct flow *f)
{
	const uint64_t *st = u64map_get(&d->state, k);
	const uint64_t *bk = u64map_get(&d->bucket, k);
	const uint64_t *fs = u64map_get(&d->first, k);
	int64_t b = bucket_of(in->last_seen_ms, width);

	*f = *in;
	if (o && bucket_of(o->last_ms, width) < b &&
	    o->first_ms < f->first_seen_ms)
		f->first_seen_ms = o->first_ms;
	if (in->new_connections || !st || !bk || !fs ||
	    *st != digest(in) || in->first_seen_ms < (int64_t)*fs)
		return 1;
	if (b <= (int64_t)*bk)
		return 0;
	if (o && bucket_of(o->last_ms, width) < b)
		return 1; /* its owed bucket ended unrefreshed: both now */
	if (!refresh_due(k, in->last_seen_ms, width, interval_ms) &&
	    d->n_next < CMDB_DELTA_OWED_MAX)
		return 2;
	return 1;
}

long cmdb_delta_select(struct cmdb_delta *d, const struct flow *flows,
		       size_t n, uint32_t bucket_s, int64_t interval_ms,
		       const struct flow **ret)
{
	int64_t width = (int64_t)bucket_s * 1000;
	size_t owed_max = n < CMDB_DELTA_OWED_MAX ? n : CMDB_DELTA_OWED_MAX;
	if (grow((void **)&d->sel, &d->sel_cap, n + d->n_owed, sizeof(*d->sel)) <
		    0 ||
	    grow((void **)&d->deferred, &d->deferred_cap, n,
		 sizeof(*d->deferred)) < 0 ||
	    grow((void **)&d->next, &d->next_cap, owed_max, sizeof(*d->next)) <
		    0)
		return -ENOMEM;
	d->gen++;
	d->n_next = 0;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = key_hash(&flows[i].key);
		const uint64_t *at = u64map_get(&d->owed_at, k);
		struct cmdb_delta_owed *o = at ? &d->owed[*at] : NULL;
		if (o)
			o->gen = d->gen;
		struct flow f;
		int c = choose(d, &flows[i], k, o, width, interval_ms, &f);
		d->deferred[i] = c == 2;
		if (c == 1)
			d->sel[m++] = f;
		if (c != 2)
			continue;
		int64_t start = bucket_of(f.last_seen_ms, width) * width;
		struct cmdb_delta_owed *nx = &d->next[d->n_next++];
		*nx = (struct cmdb_delta_owed){
			.key = f.key,
			.hash = k,
			.first_ms = o ? o->first_ms :
			f.first_seen_ms > start ? f.first_seen_ms : start,
			.last_ms = f.last_seen_ms,
			.connections = f.connections
		};
	}
	for (size_t i = 0; i < d->n_owed; i++)
		if (d->owed[i].gen != d->gen)
			d->sel[m++] = owed_flow(&d->owed[i]);
	*ret = d->sel;
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

/* The selection's deferred flows become the owed ones. */
static int owe_next(struct cmdb_delta *d)
{
	struct u64map at;
	int r;
	if ((r = u64map_init(&at, 0)) < 0)
		return r;
	if ((r = u64map_reserve(&at, d->n_next)) < 0)
		goto fail;
	for (size_t i = 0; i < d->n_next; i++)
		if ((r = u64map_put(&at, d->next[i].hash, i)) < 0)
			goto fail;
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
fail:
	u64map_free(&at);
	return r;
}

int cmdb_delta_commit(struct cmdb_delta *d, const struct flow *flows,
		      size_t n, uint32_t bucket_s)
{
	int64_t width = (int64_t)bucket_s * 1000;
	struct u64map st, bk, fs;
	int r;

	memset(&st, 0, sizeof(st));
	memset(&bk, 0, sizeof(bk));
	memset(&fs, 0, sizeof(fs));
	if ((r = u64map_init(&st, 0)) < 0 || (r = u64map_init(&bk, 0)) < 0 ||
	    (r = u64map_init(&fs, 0)) < 0 || (r = u64map_reserve(&st, n)) < 0 ||
	    (r = u64map_reserve(&bk, n)) < 0 ||
	    (r = u64map_reserve(&fs, n)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		uint64_t k = key_hash(&f->key);
		const uint64_t *old = u64map_get(&d->first, k);
		int64_t first = f->first_seen_ms;
		if (old && (int64_t)*old < first)
			first = (int64_t)*old;
		/* A deferred flow keeps the bucket written before. */
		const uint64_t *ob = u64map_get(&d->bucket, k);
		uint64_t b = d->deferred[i] && ob ?
				     *ob :
				     (uint64_t)bucket_of(f->last_seen_ms, width);
		if ((r = u64map_put(&st, k, digest(f))) < 0 ||
		    (r = u64map_put(&bk, k, b)) < 0 ||
		    (r = u64map_put(&fs, k, (uint64_t)first)) < 0)
			goto fail;
	}
	if ((r = owe_next(d)) < 0)
		goto fail;
	cmdb_delta_forget(d);
	d->state = st;
	d->bucket = bk;
	d->first = fs;
	r = 0;
	goto out;
fail:
	u64map_free(&st);
	u64map_free(&bk);
	u64map_free(&fs);
	/* Nothing owed is lost: the next flush sends every live flow and
	 * the owed ones gone. */
	cmdb_delta_forget(d);
out:
	/* Large: freed, as the selection (cmdb_delta_done). */
	if (d->deferred_cap > SEL_KEEP_MAX) {
		free(d->deferred);
		d->deferred = NULL;
		d->deferred_cap = 0;
	}
	return r;
}
