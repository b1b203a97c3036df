// SPDX-License-Identifier: MIT
/* core/flowset: the flow-keyed array with a hash index that the flow
 * table and the CMDB sink's buffer share. */
#include "core/flowset.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static struct flow_key key(uint32_t i)
{
	struct flow_key k;
	memset(&k, 0, sizeof(k));
	k.dir = 2;
	k.proto = 6;
	k.rport = (uint16_t)i;
	k.pgid = i >> 16;
	return k;
}

static void test_insert_find(void **state)
{
	(void)state;
	struct flow_set s = { 0 };
	struct flow_key k = key(1);
	size_t slot;

	/* Empty, no index yet. */
	assert_null(flow_set_find(&s, &k, &slot));
	/* Enough to grow the index several times over. */
	for (uint32_t i = 0; i < 5000; i++) {
		k = key(i);
		assert_null(flow_set_find(&s, &k, &slot));
		struct flow *f = flow_set_insert(&s, &k, slot);
		assert_non_null(f);
		assert_memory_equal(&f->key, &k, sizeof(k));
		assert_int_equal(f->connections, 0);
		f->connections = i;
		f->cmdline = strdup("x"); /* freed by clear */
	}
	assert_int_equal(s.count, 5000);
	assert_true(s.index_cap >= 2 * s.count);
	for (uint32_t i = 0; i < 5000; i++) {
		k = key(i);
		struct flow *f = flow_set_find(&s, &k, NULL);
		assert_non_null(f);
		assert_int_equal(f->connections, i);
		/* Insertion order. */
		assert_ptr_equal(f, &s.flows[i]);
	}
	flow_set_clear(&s);
	assert_int_equal(s.count, 0);
	k = key(7);
	assert_null(flow_set_find(&s, &k, NULL));
	/* Usable again after clear, without a slot. */
	assert_non_null(flow_set_insert(&s, &k, FLOW_SET_ANY_SLOT));
	assert_non_null(flow_set_find(&s, &k, NULL));
	flow_set_done(&s);
	assert_null(s.flows);
	assert_int_equal(s.count, 0);
}

static void test_drop_first(void **state)
{
	(void)state;
	struct flow_set s = { 0 };
	assert_int_equal(flow_set_reserve(&s, 100), 0);
	assert_true(s.index_cap >= 200);
	for (uint32_t i = 0; i < 100; i++) {
		struct flow_key k = key(i);
		struct flow *f = flow_set_insert(&s, &k, FLOW_SET_ANY_SLOT);
		assert_non_null(f);
		f->node = strdup("n");
	}
	assert_int_equal(flow_set_drop_first(&s, 30), 0);
	assert_int_equal(s.count, 70);
	for (uint32_t i = 0; i < 100; i++) {
		struct flow_key k = key(i);
		struct flow *f = flow_set_find(&s, &k, NULL);
		if (i < 30) {
			assert_null(f);
		} else {
			assert_non_null(f);
			assert_ptr_equal(f, &s.flows[i - 30]);
		}
	}
	/* More than there is: all of them. */
	assert_int_equal(flow_set_drop_first(&s, 1000), 0);
	assert_int_equal(s.count, 0);
	flow_set_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_find),
		cmocka_unit_test(test_drop_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
