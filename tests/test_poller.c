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

/* Three netns whose slices of the last scan lie A [0,3) B [3,5) C [5,9);
 * this scan lists them C, A, B and reuses C and B: their records move to
 * the front in offset order (B then C), A is walked after them. */
static void test_compact_in_place(void **state)
{
	(void)state;
	struct sock_record recs[12] = { 0 };
	for (uint32_t i = 0; i < 12; i++)
		recs[i].pid = 100 + i;
	struct ns_state st[3] = {
		{ .ino = 1, .off = 0, .len = 3 },
		{ .ino = 2, .off = 3, .len = 2 },
		{ .ino = 3, .off = 5, .len = 4 },
	};
	size_t cur[3] = { 2, 0, 1 };
	bool reuse[3] = { true, false, true };
	struct poller p = { .recs = recs, .n = 0, .cap = 12, .st = st,
			    .nst = 3, .cur = cur, .reuse = reuse,
			    .skip_max = 3 };
	assert_int_equal(poller_compact_reused(&p, 3), 0);
	assert_int_equal(p.n, 6);
	assert_int_equal(st[1].new_off, 0);
	assert_int_equal(st[1].new_len, 2);
	assert_int_equal(st[2].new_off, 2);
	assert_int_equal(st[2].new_len, 4);
	uint32_t want[6] = { 103, 104, 105, 106, 107, 108 };
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(recs[i].pid, want[i]);
	/* A walked: appended after; then the slices are committed. */
	bool reused;
	assert_int_equal(poller_begin_netns(&p, 1, &reused), 0);
	assert_false(reused);
	assert_int_equal(st[0].new_off, 6);
	recs[p.n++].pid = 500;
	poller_end_netns(&p, 1);
	assert_int_equal(poller_begin_netns(&p, 0, &reused), 0);
	assert_true(reused);
	poller_end_netns(&p, 0);
	assert_int_equal(st[2].new_len, 4); /* a reused slice keeps its length */
	assert_int_equal(st[0].new_len, 1);
	/* Nothing reused: the array starts empty. */
	bool none[3] = { false, false, false };
	p.reuse = none;
	assert_int_equal(poller_compact_reused(&p, 3), 0);
	assert_int_equal(p.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compact_in_place),
		cmocka_unit_test(test_reuse_until_bound),
		cmocka_unit_test(test_counter_change_walks),
		cmocka_unit_test(test_force_and_failures_walk),
		cmocka_unit_test(test_slices_follow_the_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
