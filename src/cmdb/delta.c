// SPDX-License-Identifier: MIT
/*
 * The flows a flush need not send (delta.h): what the last committed
 * flushes wrote, as a digest per flow key, and the earliest first_seen.
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
	u64map_free(&d->first);
}

void cmdb_delta_clear(struct cmdb_delta *d)
{
	cmdb_delta_forget(d);
	free(d->sel);
	cmdb_delta_init(d);
}

/* Never 0 (the map's empty slot). */
static uint64_t key_hash(const struct flow *f)
{
	uint64_t h = hash_bytes(&f->key, sizeof(f->key), 0x64656c7461);
	return h ? h : 1;
}

static uint64_t str_hash(const char *s, uint64_t seed)
{
	/* NULL (unknown) differs from "" (known empty). */
	return s ? hash_bytes(s, strlen(s), seed) : seed * 0x9e3779b97f4a7c15ULL;
}

/*
 * What the server compares a flow's row with (unique.sql's u and the
 * nodes' _node_changed.sql), but first_seen (compared by order, apart):
 * the interval's count, the history bucket of last_seen, and what the
 * flow's nodes carry of its process, container and pod.
 */
static uint64_t digest(const struct flow *f, uint32_t bucket_s)
{
	int64_t width = (int64_t)bucket_s * 1000;
	int64_t last = f->last_seen_ms;
	struct {
		int64_t bucket;
		uint64_t cgroup_id;
		uint32_t connections, pid;
	} v = { .bucket = last >= 0 ? last / width : (last + 1) / width - 1,
		.cgroup_id = f->cgroup_id,
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

long cmdb_delta_select(struct cmdb_delta *d, const struct flow *flows,
		       size_t n, uint32_t bucket_s, const struct flow **ret)
{
	if (n > d->sel_cap) {
		struct flow *s = realloc(d->sel, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		d->sel = s;
		d->sel_cap = n;
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		uint64_t k = key_hash(f);
		const uint64_t *st = u64map_get(&d->state, k);
		const uint64_t *fs = u64map_get(&d->first, k);
		if (f->new_connections || !st || !fs ||
		    *st != digest(f, bucket_s) ||
		    f->first_seen_ms < (int64_t)*fs)
			d->sel[m++] = *f;
	}
	*ret = d->sel;
	return (long)m;
}

/* Past this many flows the selection's array (~200 B a flow) is freed
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

int cmdb_delta_commit(struct cmdb_delta *d, const struct flow *flows,
		      size_t n, uint32_t bucket_s)
{
	struct u64map st, fs;
	int r;

	if ((r = u64map_init(&st, 0)) < 0)
		goto fail;
	if ((r = u64map_init(&fs, 0)) < 0) {
		u64map_free(&st);
		goto fail;
	}
	if ((r = u64map_reserve(&st, n)) < 0 || (r = u64map_reserve(&fs, n)) < 0)
		goto fail_new;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		uint64_t k = key_hash(f);
		const uint64_t *old = u64map_get(&d->first, k);
		int64_t first = f->first_seen_ms;
		if (old && (int64_t)*old < first)
			first = (int64_t)*old;
		if ((r = u64map_put(&st, k, digest(f, bucket_s))) < 0 ||
		    (r = u64map_put(&fs, k, (uint64_t)first)) < 0)
			goto fail_new;
	}
	cmdb_delta_forget(d);
	d->state = st;
	d->first = fs;
	return 0;
fail_new:
	u64map_free(&st);
	u64map_free(&fs);
fail:
	cmdb_delta_forget(d);
	return r;
}
