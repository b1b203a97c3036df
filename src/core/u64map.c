// SPDX-License-Identifier: MIT
#include "core/u64map.h"

#include "core/util.h"

#include <string.h>

#define U64MAP_MIN_CAP 64

int u64map_init(struct u64map *m, size_t max_entries)
{
	memset(m, 0, sizeof(*m));
	m->max_entries = max_entries ? max_entries : SIZE_MAX / 4;
	m->keys = calloc(U64MAP_MIN_CAP, sizeof(*m->keys));
	m->vals = calloc(U64MAP_MIN_CAP, sizeof(*m->vals));
	if (!m->keys || !m->vals) {
		u64map_free(m);
		return -ENOMEM;
	}
	m->cap = U64MAP_MIN_CAP;
	return 0;
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->cap = m->count = 0;
}

void u64map_clear(struct u64map *m)
{
	if (m->keys)
		memset(m->keys, 0, m->cap * sizeof(*m->keys));
	m->count = 0;
}

static size_t slot_of(const struct u64map *m, uint64_t key)
{
	return hash_u64(key) & (m->cap - 1);
}

uint64_t *u64map_get(const struct u64map *m, uint64_t key)
{
	if (!key || !m->cap)
		return NULL;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key)
			return &m->vals[i];
		if (!m->keys[i])
			return NULL;
	}
}

/* Rehashes into ncap slots (a power of two, > count). */
static int resize(struct u64map *m, size_t ncap)
{
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint64_t *nv = calloc(ncap, sizeof(*nv));
	if (!nk || !nv) {
		free(nk);
		free(nv);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = hash_u64(m->keys[i]) & (ncap - 1);
		while (nk[j])
			j = (j + 1) & (ncap - 1);
		nk[j] = m->keys[i];
		nv[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = nk;
	m->vals = nv;
	m->cap = ncap;
	return 0;
}

static int grow(struct u64map *m)
{
	return resize(m, m->cap * 2);
}

int u64map_reserve(struct u64map *m, size_t n)
{
	if (n > m->max_entries)
		n = m->max_entries;
	/* One rehash to the final size, not one per doubling (each would
	 * allocate, clear and fill a table again). */
	size_t ncap = m->cap;
	while (n * 2 > ncap) {
		if (ncap > SIZE_MAX / 2 / sizeof(uint64_t))
			return -ENOMEM;
		ncap *= 2;
	}
	return ncap == m->cap ? 0 : resize(m, ncap);
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	uint64_t *v;
	int r = u64map_upsert(m, key, &v);
	if (r >= 0)
		*v = val;
	return r;
}

int u64map_upsert(struct u64map *m, uint64_t key, uint64_t **ret)
{
	*ret = NULL;
	if (!key)
		return -EINVAL;
	size_t i = slot_of(m, key);
	for (; m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			*ret = &m->vals[i];
			return 0;
		}
	}
	if (m->count >= m->max_entries)
		return -ENOSPC;
	if ((m->count + 1) * 2 > m->cap) {
		/* Rare: the slot found is stale after the rehash. */
		int r = grow(m);
		if (r < 0)
			return r;
		for (i = slot_of(m, key); m->keys[i]; i = (i + 1) & (m->cap - 1))
			;
	}
	m->keys[i] = key;
	m->vals[i] = 0;
	m->count++;
	*ret = &m->vals[i];
	return 1;
}

static void delete_slot(struct u64map *m, size_t i)
{
	size_t mask = m->cap - 1;
	/* Backward-shift: move later members of the cluster into the hole. */
	for (size_t j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->keys[j]);
		/* Can entry j move to i? Only if i lies cyclically in [home, j). */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->count--;
}

bool u64map_del(struct u64map *m, uint64_t key)
{
	if (!key || !m->cap)
		return false;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == key) {
			delete_slot(m, i);
			return true;
		}
		if (!m->keys[i])
			return false;
	}
}

size_t u64map_filter(struct u64map *m,
		     bool (*keep)(uint64_t key, uint64_t val, void *ud),
		     void *ud)
{
	size_t removed = 0;
	/*
	 * Backward shift can move an unvisited entry into the slot just
	 * visited, so re-examine a slot after deleting from it. An entry
	 * wrapping from the end to the start may be visited twice; keep() is
	 * a pure predicate here, so that is harmless.
	 */
	for (size_t i = 0; i < m->cap;) {
		if (m->keys[i] && !keep(m->keys[i], m->vals[i], ud)) {
			delete_slot(m, i);
			removed++;
			continue;
		}
		i++;
	}
	return removed;
}
