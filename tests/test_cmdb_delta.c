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
	return cmdb_delta_select(d, fl, N, BUCKET_S, 0, out);
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
	assert_int_equal(cmdb_delta_select(&d, fl, 3, BUCKET_S, 0, &out), 3);
	cmdb_delta_done(&d);
	assert_non_null(d.sel); /* small: kept for the next flush */
	assert_int_equal(cmdb_delta_select(&d, fl, n, BUCKET_S, 0, &out), (long)n);
	assert_int_equal(out[n - 1].key.lport, (uint16_t)(n - 1));
	cmdb_delta_done(&d);
	assert_null(d.sel);
	cmdb_delta_clear(&d);
	free(fl);
}

#define INTERVAL_MS 10000
#define MANY 400

static struct flow *many_flows(size_t n)
{
	struct flow *fl = calloc(n, sizeof(*fl));
	assert_non_null(fl);
	for (size_t i = 0; i < n; i++) {
		fl[i].key.dir = 1;
		fl[i].key.lport = (uint16_t)(1000 + i);
		fl[i].key.laddr[15] = 2;
		fl[i].connections = 1;
		fl[i].first_seen_ms = T0 - 5000;
		fl[i].last_seen_ms = T0;
	}
	return fl;
}

static void advance(struct flow *fl, size_t n, int64_t dt)
{
	for (size_t i = 0; i < n; i++) {
		fl[i].new_connections = 0;
		fl[i].first_seen_ms = fl[i].last_seen_ms + 1;
		fl[i].last_seen_ms += dt;
	}
}

static long sel_spread(struct cmdb_delta *d, struct flow *fl, size_t n,
		       const struct flow **out)
{
	return cmdb_delta_select(d, fl, n, BUCKET_S, INTERVAL_MS, out);
}

/* With the flush interval given, the bucket's refresh is spread: every
 * live flow is sent exactly once in the new bucket, by one of the flushes
 * up to its width less two intervals, and no flush sends most of them. */
static void test_refresh_spread(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	struct flow *fl = many_flows(MANY);
	unsigned sent[MANY] = { 0 };
	cmdb_delta_init(&d);
	assert_int_equal(sel_spread(&d, fl, MANY, &out), MANY);
	assert_int_equal(cmdb_delta_commit(&d, fl, MANY, BUCKET_S), 0);
	/* T0 is 20 s into its bucket: flushes at 30, 40, 50 s send nothing;
	 * then six flushes in the next bucket, at 0, 10, ..., 50 s. */
	for (int k = 1; k <= 9; k++) {
		advance(fl, MANY, INTERVAL_MS);
		long m = sel_spread(&d, fl, MANY, &out);
		assert_true(m >= 0);
		if (k <= 3)
			assert_int_equal(m, 0);
		/* Spread: at most ~1/4 (+ margin) in any one flush. */
		assert_true(m <= MANY * 35 / 100);
		for (long j = 0; j < m; j++) {
			size_t i = (size_t)(out[j].key.lport - 1000);
			assert_true(i < MANY);
			sent[i]++;
			/* Sent as it is: its strings and times are the flow's. */
			assert_int_equal(out[j].last_seen_ms, fl[i].last_seen_ms);
			assert_int_equal(out[j].first_seen_ms, fl[i].first_seen_ms);
		}
		/* 40 s into the bucket (k == 8) every flow was sent. */
		if (k >= 8)
			for (size_t i = 0; i < MANY; i++)
				assert_int_equal(sent[i], 1);
		assert_int_equal(cmdb_delta_commit(&d, fl, MANY, BUCKET_S), 0);
	}
	/* Without the interval: all of them at the next turn. */
	advance(fl, MANY, INTERVAL_MS);
	assert_int_equal(cmdb_delta_select(&d, fl, MANY, BUCKET_S, 0, &out),
			 MANY);
	cmdb_delta_clear(&d);
	free(fl);
}

/* Defers flows into the next bucket at its start: returns how many were
 * deferred (not sent) and the index of one of them in *ret_i. */
static size_t defer_some(struct cmdb_delta *d, struct flow *fl, size_t *ret_i)
{
	const struct flow *out;
	assert_int_equal(sel_spread(d, fl, MANY, &out), MANY);
	assert_int_equal(cmdb_delta_commit(d, fl, MANY, BUCKET_S), 0);
	advance(fl, MANY, 41000); /* 1 s into the next bucket */
	long m = sel_spread(d, fl, MANY, &out);
	assert_true(m >= 0 && m < MANY / 4);
	bool *was = calloc(MANY, sizeof(*was));
	assert_non_null(was);
	for (long j = 0; j < m; j++)
		was[out[j].key.lport - 1000] = true;
	*ret_i = MANY;
	for (size_t i = 0; i < MANY && *ret_i == MANY; i++)
		if (!was[i])
			*ret_i = i;
	free(was);
	assert_int_equal(cmdb_delta_commit(d, fl, MANY, BUCKET_S), 0);
	return MANY - (size_t)m;
}

/* The flow at g is gone: the batch is every other flow, 1 s later.
 * Returns the flow as it was. */
static struct flow drop_flow(struct flow *fl, size_t g)
{
	struct flow gone = fl[g];
	fl[g] = fl[MANY - 1];
	advance(fl, MANY - 1, 1000);
	return gone;
}

/* An owed flow gone from the next batch was active in the bucket: it is
 * sent from what was kept of it, once. */
static void test_owed_gone_sent(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	struct flow *fl = many_flows(MANY);
	size_t g;
	cmdb_delta_init(&d);
	defer_some(&d, fl, &g);
	assert_true(g < MANY);
	char name[] = "web";
	fl[g].container_name = name;
	int64_t seen = fl[g].last_seen_ms;
	struct flow gone = drop_flow(fl, g);
	long m = sel_spread(&d, fl, MANY - 1, &out);
	assert_true(m >= 1);
	const struct flow *o = &out[m - 1];
	assert_memory_equal(&o->key, &gone.key, sizeof(gone.key));
	assert_int_equal(o->last_seen_ms, seen);
	/* From the bucket's start: it was first seen before it. */
	assert_int_equal(o->first_seen_ms, (T0 - 20000) + 60000);
	assert_int_equal(o->connections, 1);
	assert_int_equal(o->new_connections, 0);
	assert_null(o->container_name);
	assert_int_equal(cmdb_delta_commit(&d, fl, MANY - 1, BUCKET_S), 0);
	/* Sent: not again. */
	advance(fl, MANY - 1, 1000);
	m = sel_spread(&d, fl, MANY - 1, &out);
	for (long j = 0; j < m; j++)
		assert_memory_not_equal(&out[j].key, &gone.key,
					sizeof(gone.key));
	cmdb_delta_clear(&d);
	free(fl);
}

/* A failed flush forgets what was written, not what is owed. */
static void test_owed_survives_failure(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	struct flow *fl = many_flows(MANY);
	size_t g;
	cmdb_delta_init(&d);
	defer_some(&d, fl, &g);
	struct flow gone = drop_flow(fl, g);
	cmdb_delta_forget(&d);
	/* Every live flow again, and the gone one. */
	long m = sel_spread(&d, fl, MANY - 1, &out);
	assert_int_equal(m, MANY);
	assert_memory_equal(&out[m - 1].key, &gone.key, sizeof(gone.key));
	cmdb_delta_clear(&d);
	free(fl);
}

/* A flow still owed when a later bucket begins (no flush came between its
 * offset and the bucket's end) is sent with the owed bucket covered. */
static void test_owed_overdue(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	struct flow *fl = many_flows(MANY);
	size_t g;
	cmdb_delta_init(&d);
	size_t owed = defer_some(&d, fl, &g);
	int64_t first_in_bucket = (T0 - 20000) + 60000;
	advance(fl, MANY, 60000); /* 1 s into the bucket after */
	long m = sel_spread(&d, fl, MANY, &out);
	/* The owed ones (and maybe some due in the new bucket already, none
	 * of the others: they were sent in the owed bucket). */
	assert_true((size_t)m >= owed);
	size_t covered = 0;
	for (long j = 0; j < m; j++)
		covered += out[j].first_seen_ms == first_in_bucket;
	assert_int_equal(covered, owed);
	cmdb_delta_clear(&d);
	free(fl);
}

/* What a lost connection owed goes to the next connection's delta: a
 * flow gone meanwhile is sent by the next flush, once, beside every live
 * flow (the new connection knows nothing written), never twice. */
static void test_owed_carried(void **state)
{
	(void)state;
	struct cmdb_delta d, e;
	const struct flow *out;
	struct flow *fl = many_flows(MANY);
	size_t g;
	cmdb_delta_init(&d);
	cmdb_delta_init(&e);
	size_t owed = defer_some(&d, fl, &g);
	struct cmdb_owed *o = cmdb_delta_take_owed(&d);
	assert_non_null(o);
	assert_int_equal(o->n, owed);
	assert_int_equal(d.n_owed, 0);
	assert_null(cmdb_delta_take_owed(&d));
	assert_int_equal(cmdb_delta_give_owed(&e, o), 0);
	struct flow gone = drop_flow(fl, g);
	long m = sel_spread(&e, fl, MANY - 1, &out);
	assert_int_equal(m, MANY);
	size_t seen = 0;
	for (long j = 0; j < m; j++)
		seen += !memcmp(&out[j].key, &gone.key, sizeof(gone.key));
	assert_int_equal(seen, 1);
	assert_memory_equal(&out[m - 1].key, &gone.key, sizeof(gone.key));
	assert_int_equal(cmdb_delta_commit(&e, fl, MANY - 1, BUCKET_S), 0);
	assert_int_equal(e.n_owed, 0);
	cmdb_delta_clear(&d);
	cmdb_delta_clear(&e);
	free(fl);
	/* Given to a delta that owes already: dropped, not doubled. */
	struct flow *f1 = many_flows(MANY), *f2 = many_flows(MANY);
	cmdb_delta_init(&d);
	cmdb_delta_init(&e);
	defer_some(&d, f1, &g);
	o = cmdb_delta_take_owed(&d);
	assert_non_null(o);
	size_t before = defer_some(&e, f2, &g);
	assert_int_equal(e.n_owed, before);
	assert_int_equal(cmdb_delta_give_owed(&e, o), 0);
	assert_int_equal(e.n_owed, before);
	cmdb_delta_clear(&d);
	cmdb_delta_clear(&e);
	free(f1);
	free(f2);
}

/* A flow dropped from a committed batch and back later is sent again;
 * the flows known past it (moved when it was forgotten) stay known, and a
 * change of one of them is still seen. */
static void test_dropped_then_back(void **state)
{
	(void)state;
	struct cmdb_delta d;
	struct flow fl[N];
	const struct flow *out;
	known(&d, fl);
	next_interval(fl, 1000);
	assert_int_equal(cmdb_delta_select(&d, fl + 1, N - 1, BUCKET_S, 0, &out),
			 0);
	assert_int_equal(cmdb_delta_commit(&d, fl + 1, N - 1, BUCKET_S), 0);
	next_interval(fl, 1000);
	assert_int_equal(cmdb_delta_select(&d, fl + 1, N - 1, BUCKET_S, 0, &out),
			 0);
	assert_int_equal(cmdb_delta_commit(&d, fl + 1, N - 1, BUCKET_S), 0);
	next_interval(fl, 1000);
	fl[N - 1].connections = 7;
	assert_int_equal(sel(&d, fl, &out), 2);
	assert_int_equal(out[0].key.lport, 8000);
	assert_int_equal(out[1].key.lport, 8000 + N - 1);
	assert_int_equal(cmdb_delta_commit(&d, fl, N, BUCKET_S), 0);
	next_interval(fl, 1000);
	assert_int_equal(sel(&d, fl, &out), 0);
	cmdb_delta_clear(&d);
}

/* From many flows to a few: what is kept of the few is still right after
 * the memory of the many is given back, and the others are forgotten. */
static void test_many_then_few(void **state)
{
	(void)state;
	struct cmdb_delta d;
	const struct flow *out;
	size_t n = 20000, few = 10;
	struct flow *fl = calloc(n, sizeof(*fl));
	assert_non_null(fl);
	cmdb_delta_init(&d);
	for (size_t i = 0; i < n; i++) {
		fl[i].key.lport = (uint16_t)i;
		fl[i].key.pgid = (uint32_t)i;
		fl[i].connections = 1;
		fl[i].first_seen_ms = T0 - 1000;
		fl[i].last_seen_ms = T0;
	}
	assert_int_equal(cmdb_delta_select(&d, fl, n, BUCKET_S, 0, &out),
			 (long)n);
	assert_int_equal(cmdb_delta_commit(&d, fl, n, BUCKET_S), 0);
	/* The last few only. */
	struct flow *tail = fl + n - few;
	assert_int_equal(cmdb_delta_select(&d, tail, few, BUCKET_S, 0, &out),
			 0);
	assert_int_equal(cmdb_delta_commit(&d, tail, few, BUCKET_S), 0);
	assert_true(d.at.cap < 1024);
	assert_int_equal(cmdb_delta_select(&d, tail, few, BUCKET_S, 0, &out),
			 0);
	tail[3].pid = 9;
	assert_int_equal(cmdb_delta_select(&d, tail, few, BUCKET_S, 0, &out),
			 1);
	assert_int_equal(out[0].key.lport, tail[3].key.lport);
	/* A forgotten one is sent. */
	assert_int_equal(cmdb_delta_select(&d, fl, 1, BUCKET_S, 0, &out), 1);
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
		cmocka_unit_test(test_refresh_spread),
		cmocka_unit_test(test_owed_gone_sent),
		cmocka_unit_test(test_owed_survives_failure),
		cmocka_unit_test(test_owed_overdue),
		cmocka_unit_test(test_owed_carried),
		cmocka_unit_test(test_dropped_then_back),
		cmocka_unit_test(test_many_then_few),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
