// SPDX-License-Identifier: MIT
/*
 * The polling source's skip-unchanged planning (probe/poller_plan.c): when
 * a netns's records of the previous scan are reused, and when it must be
 * walked again.
 */
#include "probe/poller_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* One scan of one netns: plan with counters c (NULL: unreadable), then the
 * scan's begin/end (walked unless reused; bad: the walk failed half-way)
 * and commit. Returns whether it was reused. */
static bool scan(struct ns_state *st, const uint64_t *c, bool force,
		 unsigned skip_max, bool bad, bool overflow)
{
	bool reuse = poller_plan_one(st, c, force, skip_max);
	st->walked = !reuse;
	st->bad = !reuse && bad;
	poller_commit_one(st, overflow);
	return reuse;
}

static void test_reuse_until_bound(void **state)
{
	(void)state;
	struct ns_state st = { .ino = 1 };
	uint64_t c[NS_COUNTERS] = { 1, 2, 3 };
	/* First scan: nothing to reuse. */
	assert_false(scan(&st, c, false, 3, false, false));
	assert_true(st.valid);
	/* Unchanged: reused skip_max - 1 = 2 times, then walked. */
	assert_true(scan(&st, c, false, 3, false, false));
	assert_true(scan(&st, c, false, 3, false, false));
	assert_false(scan(&st, c, false, 3, false, false));
	assert_true(scan(&st, c, false, 3, false, false));
}

static void test_counter_change_walks(void **state)
{
	(void)state;
	struct ns_state st = { .ino = 1 };
	uint64_t c[NS_COUNTERS] = { 5 };
	assert_false(scan(&st, c, false, 10, false, false));
	assert_true(scan(&st, c, false, 10, false, false));
	c[NS_COUNTERS - 1] = 1; /* e.g. UDP6 inuse moved */
	assert_false(scan(&st, c, false, 10, false, false));
	/* The new values are the reference now. */
	assert_true(scan(&st, c, false, 10, false, false));
}

static void test_force_and_failures_walk(void **state)
{
	(void)state;
	struct ns_state st = { .ino = 1 };
	uint64_t c[NS_COUNTERS] = { 7 };
	assert_false(scan(&st, c, false, 10, false, false));
	/* poller_force_walk(): walked whatever the counters say. */
	assert_false(scan(&st, c, true, 10, false, false));
	assert_true(scan(&st, c, false, 10, false, false));
	/* Unreadable counters: walked, and not trusted next time. */
	assert_false(scan(&st, NULL, false, 10, false, false));
	assert_false(st.valid);
	assert_false(scan(&st, c, false, 10, false, false));
	assert_true(scan(&st, c, false, 10, false, false));
	/* A walk that failed half-way is not reused. */
	assert_false(scan(&st, c, true, 10, true, false));
	assert_false(st.valid);
	assert_false(scan(&st, c, false, 10, false, false));
	/* Nor one whose scan overflowed the record bound. */
	assert_false(scan(&st, c, true, 10, false, true));
	assert_false(scan(&st, c, false, 10, false, false));
	assert_true(scan(&st, c, false, 10, false, false));
}

static void test_slices_follow_the_scan(void **state)
{
	(void)state;
	struct ns_state st = { .ino = 1 };
	uint64_t c[NS_COUNTERS] = { 1 };
	assert_false(poller_plan_one(&st, c, false, 4));
	st.walked = true;
	st.new_off = 10;
	st.new_len = 5;
	poller_commit_one(&st, false);
	assert_int_equal(st.off, 10);
	assert_int_equal(st.len, 5);
	assert_int_equal(st.reused, 0);
	/* Reused: its slice moves to where this scan copied it. */
	assert_true(poller_plan_one(&st, c, false, 4));
	assert_int_equal(st.new_len, 0);
	st.walked = false;
	st.new_off = 0;
	st.new_len = 5;
	poller_commit_one(&st, false);
	assert_int_equal(st.off, 0);
	assert_int_equal(st.len, 5);
	assert_int_equal(st.reused, 1);
	assert_true(st.valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reuse_until_bound),
		cmocka_unit_test(test_counter_change_walks),
		cmocka_unit_test(test_force_and_failures_walk),
		cmocka_unit_test(test_slices_follow_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
