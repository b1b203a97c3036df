// SPDX-License-Identifier: MIT
#include "core/u64map.h"

#include "core/util.h"

#include <string.h>
#include <sys/mman.h>

#define U64MAP_MIN_CAP 64
#define HUGE_PAGE (2u << 20)

/*
 * A zeroed table. From 2 MiB up, 2 MiB-aligned with MADV_HUGEPAGE: a
 * table of a connection flood's cookies grows to tens of MiB, and each
 * 4 KiB page faulted costs 20-30 us on the VMs measured (bench/README.md);
 * one fault per 2 MiB instead. Best effort (THP off: 4 KiB pages).
 */
static struct u64slot *slots_alloc(size_t n)
{
	size_t bytes = n * sizeof(struct u64slot);
	if (bytes < HUGE_PAGE)
		return calloc(n, sizeof(struct u64slot));
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

int u64map_init(struct u64map *m, size_t max_entries)
{
	memset(m, 0, sizeof(*m));
	m->max_entries = max_entries ? max_entries : SIZE_MAX / 4;
	m->slots = slots_alloc(U64MAP_MIN_CAP);
	if (!m->slots)
		return -ENOMEM;
	m->cap = U64MAP_MIN_CAP;
	return 0;
}

void u64map_free(struct u64map *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

void u64map_clear(struct u64map *m)
{
	if (m->slots)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
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
		if (m->slots[i].key == key)
			return &m->slots[i].val;
		if (!m->slots[i].key)
			return NULL;
	}
}

/* Rehashes into ncap slots (a power of two, > count). */
static int resize(struct u64map *m, size_t ncap)
{
	struct u64slot *ns = slots_alloc(ncap);
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		size_t j = hash_u64(m->slots[i].key) & (ncap - 1);
		while (ns[j].key)
			j = (j + 1) & (ncap - 1);
		ns[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = ns;
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
		if (ncap > SIZE_MAX / 2 / sizeof(struct u64slot))
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
	for (; m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key) {
			*ret = &m->slots[i].val;
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
		for (i = slot_of(m, key); m->slots[i].key; i = (i + 1) & (m->cap - 1))
			;
	}
	m->slots[i].key = key;
	m->slots[i].val = 0;
	m->count++;
	*ret = &m->slots[i].val;
	return 1;
}

static void delete_slot(struct u64map *m, size_t i)
{
	size_t mask = m->cap - 1;
	/* Backward-shift: move later members of the cluster into the hole. */
	for (size_t j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->slots[j].key);
		/* Can entry j move to i? Only if i lies cyclically in [home, j). */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->count--;
}

bool u64map_del(struct u64map *m, uint64_t key)
{
	if (!key || !m->cap)
		return false;
	for (size_t i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key) {
			delete_slot(m, i);
			return true;
		}
		if (!m->slots[i].key)
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
		if (m->slots[i].key &&
		    !keep(m->slots[i].key, m->slots[i].val, ud)) {
			delete_slot(m, i);
			removed++;
			continue;
		}
		i++;
	}
	return removed;
}

bool u64map_next(const struct u64map *m, size_t *it, uint64_t *ret_key,
		 uint64_t *ret_val)
{
	for (size_t i = *it; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (ret_key)
			*ret_key = m->slots[i].key;
		if (ret_val)
			*ret_val = m->slots[i].val;
		*it = i + 1;
		return true;
	}
	*it = m->cap;
	return false;
}
