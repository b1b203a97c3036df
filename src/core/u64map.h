/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_U64MAP_H
#define SHAWK_CORE_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Open-addressing (linear probing, backward-shift deletion) map from a
 * non-zero u64 key to a u64 value. Bounded: inserts beyond max_entries fail
 * with -ENOSPC so every cache built on it has a hard memory cap.
 */
struct u64slot {
	uint64_t key; /* 0 = empty slot */
	uint64_t val;
};

/* Key and value side by side: one cache line per probe, not two (a lookup
 * in a table of 100k+ cookies misses the cache either way). */
struct u64map {
	struct u64slot *slots;
	size_t cap;	/* power of two */
	size_t count;
	size_t max_entries;
};

/* Returns 0 or -ENOMEM. max_entries 0 means SIZE_MAX/4. */
int u64map_init(struct u64map *m, size_t max_entries);
void u64map_free(struct u64map *m);
void u64map_clear(struct u64map *m);

/* Returns a pointer to the value of key, or NULL. Valid until next insert. */
uint64_t *u64map_get(const struct u64map *m, uint64_t key);

/*
 * Inserts or overwrites. Returns 1 when the key was new, 0 when it existed,
 * -ENOSPC when full, -ENOMEM, -EINVAL for key 0.
 */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);

/*
 * Finds key, inserting it with value 0 when absent, in one probe sequence
 * (get-then-put walks the cluster up to three times). Sets *ret to its
 * value (valid until the next insert). Returns 1 when the key was new, 0
 * when it existed, -ENOSPC when full (*ret NULL), -ENOMEM, -EINVAL.
 */
int u64map_upsert(struct u64map *m, uint64_t key, uint64_t **ret);

/*
 * Grows the table so that n entries (capped at max_entries) fit without a
 * rehash. Returns 0 or -ENOMEM.
 */
int u64map_reserve(struct u64map *m, size_t n);

/* Returns true when the key was present and removed. */
bool u64map_del(struct u64map *m, uint64_t key);

/*
 * Removes every entry for which keep(key, val, ud) returns false.
 * Returns the number removed.
 */
size_t u64map_filter(struct u64map *m,
		     bool (*keep)(uint64_t key, uint64_t val, void *ud),
		     void *ud);

/*
 * Iteration: size_t it = 0; uint64_t k, v;
 *            while (u64map_next(m, &it, &k, &v)) ...
 * Each entry once, in slot order; the map must not change meanwhile (use
 * u64map_filter() to remove while iterating). ret_key/ret_val may be NULL.
 */
bool u64map_next(const struct u64map *m, size_t *it, uint64_t *ret_key,
		 uint64_t *ret_val);

#endif
