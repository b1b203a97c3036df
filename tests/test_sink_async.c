// SPDX-License-Identifier: MIT
/*
 * The writer thread in front of the CMDB sink: write() returns at once
 * while the inner sink is stuck, the flows reach the inner sink merged by
 * key, drain() returns by its deadline (cancelling the stuck call), and the
 * inner sink's counters are readable meanwhile.
 */
#include "agent/sink_async.h"
#include "core/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_sink.h"

/* An inner sink whose write() blocks while `stuck` until cancel(). */
struct blocking_sink {
	struct sink base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stuck, cancelled;
	uint64_t writes, flows, new_conns, drains;
};

static int b_write(struct sink *s, const struct flow *flows, size_t n,
		   int64_t now_ms)
{
	struct blocking_sink *b = (struct blocking_sink *)s;
	(void)now_ms;
	pthread_mutex_lock(&b->lock);
	while (b->stuck && !b->cancelled)
		pthread_cond_wait(&b->cond, &b->lock);
	b->writes++;
	b->flows += n;
	for (size_t i = 0; i < n; i++)
		b->new_conns += flows[i].new_connections;
	pthread_mutex_unlock(&b->lock);
	return b->cancelled ? -ETIMEDOUT : 0;
}

static int b_drain(struct sink *s, int64_t deadline_ms)
{
	struct blocking_sink *b = (struct blocking_sink *)s;
	(void)deadline_ms;
	pthread_mutex_lock(&b->lock);
	b->drains++;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

static void b_cancel(struct sink *s)
{
	struct blocking_sink *b = (struct blocking_sink *)s;
	pthread_mutex_lock(&b->lock);
	b->cancelled = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void b_stats(const struct sink *s, stat_fn fn, void *ud)
{
	struct blocking_sink *b = (struct blocking_sink *)s;
	fn("writes", STAT_COUNTER, b->writes, "inner writes", ud);
}

static bool b_freed;
static void b_free(struct sink *s)
{
	struct blocking_sink *b = (struct blocking_sink *)s;
	b_freed = true;
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static struct blocking_sink *blocking_new(bool stuck)
{
	struct blocking_sink *b = calloc(1, sizeof(*b));
	assert_non_null(b);
	b->base = (struct sink){ .name = "inner", .write = b_write,
				 .drain = b_drain, .cancel = b_cancel,
				 .stats = b_stats, .free = b_free };
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	b->stuck = stuck;
	b_freed = false;
	return b;
}

static void test_write_does_not_wait(void **state)
{
	(void)state;
	struct blocking_sink *b = blocking_new(true);
	struct sink *s = sink_async_new(&b->base, 1000);
	assert_non_null(s);
	struct flow f1 = sink_test_flow(2, 3), f2 = sink_test_flow(2, 4), f3 = sink_test_flow(3, 1);

	int64_t t0 = now_monotonic_ms();
	assert_int_equal(s->write(s, &f1, 1, 0), 0);
	/* The thread took f1 and is stuck in inner->write: these queue. */
	for (int i = 0; i < 100 && sink_test_stat(s, "queued_flows") != 0; i++) {
		struct timespec ts = { 0, 10 * 1000000 };
		nanosleep(&ts, NULL);
	}
	assert_int_equal(s->write(s, &f2, 1, 0), 0);
	assert_int_equal(s->write(s, &f3, 1, 0), 0);
	assert_true(now_monotonic_ms() - t0 < 500);
	/* Same key merged: two entries. */
	assert_int_equal(sink_test_stat(s, "queued_flows"), 2);

	/* Released: everything arrives, the drain reaches the inner sink. */
	pthread_mutex_lock(&b->lock);
	b->stuck = false;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	assert_int_equal(s->drain(s, now_monotonic_ms() + 5000), 0);
	assert_int_equal(b->flows, 3);
	assert_int_equal(b->new_conns, 8);
	assert_int_equal(b->drains, 1);
	assert_int_equal(sink_test_stat(s, "queued_flows"), 0);
	assert_int_equal(sink_test_stat(s, "writes"), 2);
	/* An interval without flows still reaches the inner sink: it
	 * retries what it keeps and records pods then. */
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(s->drain(s, now_monotonic_ms() + 5000), 0);
	assert_int_equal(sink_test_stat(s, "writes"), 3);
	sink_free(s);
	assert_true(b_freed);
}

/* An async sink over a stuck inner sink, one flow written (its thread
 * takes it and stays in the inner write). */
static struct sink *async_stuck_one(struct blocking_sink **ret_b)
{
	struct blocking_sink *b = blocking_new(true);
	struct sink *s = sink_async_new(&b->base, 1000);
	assert_non_null(s);
	struct flow f1 = sink_test_flow(2, 3);
	assert_int_equal(s->write(s, &f1, 1, 0), 0);
	*ret_b = b;
	return s;
}

static void test_drain_bounded_by_deadline(void **state)
{
	(void)state;
	struct blocking_sink *b;
	struct sink *s = async_stuck_one(&b);
	int64_t t0 = now_monotonic_ms();
	assert_int_equal(s->drain(s, t0 + 300), -ETIMEDOUT);
	int64_t took = now_monotonic_ms() - t0;
	assert_true(took >= 290 && took < 1500);
	assert_true(b->cancelled);
	sink_free(s);
}

/* Freeing while the inner sink is stuck does not hang. */
static void test_free_while_stuck(void **state)
{
	(void)state;
	struct blocking_sink *b;
	struct sink *s = async_stuck_one(&b);
	int64_t t0 = now_monotonic_ms();
	sink_free(s);
	assert_true(now_monotonic_ms() - t0 < 1000);
	assert_true(b_freed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_does_not_wait),
		cmocka_unit_test(test_drain_bounded_by_deadline),
		cmocka_unit_test(test_free_while_stuck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
