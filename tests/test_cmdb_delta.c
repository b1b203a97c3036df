// SPDX-License-Identifier: MIT
/* The flows a flush leaves out (src/cmdb/delta.c). */
#include "cmdb/delta.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N 6
#define BUCKET_S 60
/* 20 s into a bucket (1795999980 is a multiple of 60). */
#define T0 ((int64_t)1795999980 * 1000 + 20000)

static void flows_init(struct flow *fl)
{
	memset(fl, 0, N * sizeof(*fl));
	for (size_t i = 0; i < N; i++) {
		fl[i].key.dir = 1;
		fl[i].key.lport = (uint16_t)(8000 + i);
		fl[i].key.laddr[15] = 1;
		fl[i].pid = 100;
		fl[i].connections = 1;
		fl[i].first_seen_ms = T0 - 5000;
		fl[i].last_seen_ms = T0;
	}
}

/* The next interval: everything seen again, nothing new, 10 s later. */
static void next_interval(struct flow *fl, int64_t dt)
{
	for (size_t i = 0; i < N; i++) {
		fl[i].new_connections = 0;
		fl[i].first_seen_ms += dt;
		fl[i].last_seen_ms += dt;
	}
}

static long sel(struct cmdb_delta *d, struct flow *fl, const struct flow **out)
{
	return cmdb_delta_select(d, fl, N, BUCKET_S, out);
}

/* A delta that knows fl as committed by one flush of all of them. */
static void known(struct cmdb_delta *d, struct flow *fl)
{
	const struct flow *out;
	cmdb_delta_init(d);
	flows_init(fl);
	assert_int_equal(sel(d, fl, &out), N);
	assert_int_equal(cmdb_delta_commit(d, fl, N, BUCKET_S), 0);
}

static void test_nothing_known_sends_all(void **state)
{
	(void)state;
	struct cmdb_delta d;
	struct flow fl[N];
	const struct flow *out;
	cmdb_delta_init(&d);
	flows_init(fl);
	assert_int_equal(sel(&d, fl, &out), N);
	/* Not committed: still everything. */
	next_interval(fl, 1000);
	assert_int_equal(sel(&d, fl, &out), N);
	cmdb_delta_clear(&d);
}

static void test_unchanged_left_out(void **state)
{
	(void)state;
	struct cmdb_delta d;
	struct flow fl[N];
	const struct flow *out;
	cmdb_delta_init(&d);
	flows_init(fl);
	fl[2].new_connections = 1;
	assert_int_equal(sel(&d, fl, &out), N);
	assert_int_equal(cmdb_delta_commit(&d, fl, N, BUCKET_S), 0);
	next_interval(fl, 10000);
	assert_int_equal(sel(&d, fl, &out), 0);
	/* A new connection, another count, other attributes, an earlier
	 * first_seen: sent. */
	fl[0].new_connections = 1;
	fl[1].connections = 2;
	fl[3].pid = 101;
	fl[4].first_seen_ms = T0 - 60000;
	char name[] = "web";
	fl[5].container_name = name;
	assert_int_equal(sel(&d, fl, &out), 5);
	assert_int_equal(out[0].key.lport, 8000);
	assert_int_equal(out[4].key.lport, 8005);
	assert_ptr_equal(out[4].container_name, name);
	assert_int_equal(cmdb_delta_commit(&d, fl, N, BUCKET_S), 0);
	/* The same again: the new connection is sent, the rest is known
	 * (fl[4]'s earlier first_seen is remembered, not the later ones). */
	next_interval(fl, 5000);
	fl[0].new_connections = 1;
	assert_int_equal(sel(&d, fl, &out), 1);
	assert_int_equal(out[0].key.lport, 8000);
	cmdb_delta_clear(&d);
}

static void test_bucket_turn_sends_all(void **state)
{
	(void)state;
	struct cmdb_delta d;
	struct flow fl[N];
	const struct flow *out;
	known(&d, fl);
	next_interval(fl, 30000); /* T0 + 30 s: 50 s into the bucket */
	assert_int_equal(sel(&d, fl, &out), 0);
	assert_int_equal(cmdb_delta_commit(&d, fl, N, BUCKET_S), 0);
	next_interval(fl, 10000); /* the next bucket: every live flow */
	assert_int_equal(sel(&d, fl, &out), N);
	cmdb_delta_clear(&d);
}

static void test_forget(void **state)
{
	(void)state;
	struct cmdb_delta d;
	struct flow fl[N];
	const struct flow *out;
	known(&d, fl);
	/* A flow absent from a committed batch is forgotten. */
	assert_int_equal(cmdb_delta_commit(&d, fl + 1, N - 1, BUCKET_S), 0);
	next_interval(fl, 1000);
	assert_int_equal(sel(&d, fl, &out), 1);
	assert_int_equal(out[0].key.lport, 8000);
	/* A failed flush forgets everything. */
	cmdb_delta_forget(&d);
	assert_int_equal(sel(&d, fl, &out), N);
	cmdb_delta_clear(&d);
}

static void test_large_selection_freed(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	size_t n = 5000;
	struct flow *fl = calloc(n, sizeof(*fl));
	assert_non_null(fl);
	cmdb_delta_init(&d);
	for (size_t i = 0; i < n; i++) {
		fl[i].key.lport = (uint16_t)i;
		fl[i].last_seen_ms = T0;
	}
	assert_int_equal(cmdb_delta_select(&d, fl, 3, BUCKET_S, &out), 3);
	cmdb_delta_done(&d);
	assert_non_null(d.sel); /* small: kept for the next flush */
	assert_int_equal(cmdb_delta_select(&d, fl, n, BUCKET_S, &out), (long)n);
	assert_int_equal(out[n - 1].key.lport, (uint16_t)(n - 1));
	cmdb_delta_done(&d);
	assert_null(d.sel);
	cmdb_delta_clear(&d);
	free(fl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_known_sends_all),
		cmocka_unit_test(test_unchanged_left_out),
		cmocka_unit_test(test_bucket_turn_sends_all),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_large_selection_freed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
