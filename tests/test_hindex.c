// SPDX-License-Identifier: MIT
/* The hash index over a caller's array (core/hindex.c). */
#include "core/hindex.h"
#include "core/util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

/* Keys that collide on purpose: hash = key % 7 keeps long probe runs. */
static uint64_t hash_of(uint32_t idx, const void *ud)
{
	return ((const uint64_t *)ud)[idx] % 7;
}

static bool eq(uint32_t idx, const void *key)
{
	const uint64_t *const *k = key;
	return k[0][idx] == *k[1];
}

static uint32_t find(const struct hindex *x, const uint64_t *arr,
		     uint64_t key)
{
	const uint64_t *k[2] = { arr, &key };
	return hindex_find(x, key % 7, eq, k);
}

static void test_find_after_growth(void **state)
{
	(void)state;
	struct hindex x = { 0 };
	size_t n = 5000;
	uint64_t *arr = calloc(n, sizeof(*arr));
	assert_non_null(arr);
	assert_int_equal(find(&x, arr, 1), HINDEX_NONE); /* empty, no table */
	for (size_t i = 0; i < n; i++) {
		arr[i] = 3 * i + 1;
		assert_int_equal(find(&x, arr, arr[i]), HINDEX_NONE);
		assert_int_equal(hindex_reserve(&x, i + 1, hash_of, arr), 0);
		/* Load stays at most 1/2 through every doubling. */
		assert_true(2 * (i + 1) <= x.cap);
		hindex_add(&x, arr[i] % 7, (uint32_t)i);
	}
	for (size_t i = 0; i < n; i++)
		assert_int_equal(find(&x, arr, arr[i]), i);
	assert_int_equal(find(&x, arr, 2), HINDEX_NONE);
	/* Reserving less than is there keeps the table. */
	uint32_t *slot = x.slot;
	assert_int_equal(hindex_reserve(&x, 10, hash_of, arr), 0);
	assert_ptr_equal(x.slot, slot);
	hindex_free(&x);
	assert_null(x.slot);
	assert_int_equal(x.cap, 0);
	free(arr);
}

static void test_clear_keeps_room(void **state)
{
	(void)state;
	struct hindex x = { 0 };
	uint64_t arr[100];
	hindex_clear(&x); /* no table yet: nothing to do */
	for (size_t i = 0; i < 100; i++) {
		arr[i] = 5 * i;
		assert_int_equal(hindex_reserve(&x, i + 1, hash_of, arr), 0);
		hindex_add(&x, arr[i] % 7, (uint32_t)i);
	}
	uint32_t *slot = x.slot;
	size_t cap = x.cap;
	hindex_clear(&x);
	assert_ptr_equal(x.slot, slot);
	assert_int_equal(x.cap, cap);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(find(&x, arr, arr[i]), HINDEX_NONE);
	/* Indexed anew (another order): found where they are now. */
	for (size_t i = 0; i < 50; i++) {
		arr[i] = arr[99 - i];
		hindex_add(&x, arr[i] % 7, (uint32_t)i);
	}
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(find(&x, arr, arr[i]), i);
	hindex_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_after_growth),
		cmocka_unit_test(test_clear_keeps_room),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
