// SPDX-License-Identifier: MIT
#include "agent/sink_async.h"

#include "agent/pending.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATS_MAX 24

struct stat_copy {
	const char *name, *help; /* static strings (core/stats.h) */
	enum stat_kind kind;
	uint64_t value;
};

struct sink_async {
	struct sink base;
	struct sink *inner;
	size_t max_queued;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* to the thread: work, drain or stop */
	pthread_cond_t idle; /* from the thread: a round ended */
	/* Under lock. */
	struct pending *queue;
	/* write() calls, even without flows: each is one inner->write()
	 * (which also retries what it keeps and records pods). */
	uint64_t ticks, ticks_done;
	bool stop;
	uint64_t drain_req, drain_done; /* generations */
	int64_t drain_deadline_ms;
	int drain_ret;
	int write_err; /* the last inner->write() failure, told once */
	/* Monotonic ms: the inner call in course started; 0: none. */
	int64_t busy_since;
	struct stat_copy stats[STATS_MAX];
	size_t nstats;

	/* The thread's own. */
	struct pending *work;
};

static void copy_stat(const char *name, enum stat_kind kind, uint64_t value,
		      const char *help, void *ud)
{
	struct sink_async *a = ud;
	if (a->nstats < STATS_MAX)
		a->stats[a->nstats++] = (struct stat_copy){
			.name = name, .help = help, .kind = kind, .value = value
		};
}

static void *worker(void *arg)
{
	struct sink_async *a = arg;
	struct sink *in = a->inner;

	pthread_mutex_lock(&a->lock);
	for (;;) {
		while (!a->stop && a->ticks == a->ticks_done &&
		       a->drain_req == a->drain_done)
			pthread_cond_wait(&a->wake, &a->lock);
		if (a->stop && pending_count(a->queue) == 0 &&
		    a->drain_req == a->drain_done)
			break;
		bool tick = a->ticks != a->ticks_done;
		a->ticks_done = a->ticks;
		pending_swap(a->queue, a->work);
		uint64_t gen = a->drain_req;
		bool drain = gen != a->drain_done;
		int64_t deadline = a->drain_deadline_ms;
		a->busy_since = now_monotonic_ms();
		pthread_mutex_unlock(&a->lock);

		int wr = 0, dr = 0;
		if (tick || pending_count(a->work)) {
			wr = in->write(in, pending_flows(a->work),
				       pending_count(a->work),
				       now_realtime_ms());
			pending_clear(a->work);
		}
		if (drain && in->drain)
			dr = in->drain(in, deadline);

		pthread_mutex_lock(&a->lock);
		a->busy_since = 0;
		a->nstats = 0;
		if (in->stats)
			in->stats(in, copy_stat, a);
		if (wr < 0)
			a->write_err = wr;
		if (drain) {
			a->drain_ret = wr < 0 ? wr : dr;
			a->drain_done = gen;
		}
		pthread_cond_broadcast(&a->idle);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int async_write(struct sink *s, const struct flow *flows, size_t n,
		       int64_t now_ms)
{
	struct sink_async *a = (struct sink_async *)s;
	int r = 0;
	(void)now_ms;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < n && r == 0; i++)
		r = pending_add(a->queue, &flows[i], a->max_queued);
	if (r == 0 && a->write_err) {
		r = a->write_err;
		a->write_err = 0;
	}
	a->ticks++;
	pthread_cond_signal(&a->wake);
	pthread_mutex_unlock(&a->lock);
	return r;
}

static void deadline_ts(int64_t deadline_ms, struct timespec *ts)
{
	/* The condition variables wait on CLOCK_MONOTONIC. */
	ts->tv_sec = deadline_ms / 1000;
	ts->tv_nsec = (deadline_ms % 1000) * 1000000;
}

static int async_drain(struct sink *s, int64_t deadline_ms)
{
	struct sink_async *a = (struct sink_async *)s;
	struct timespec ts;
	int r;

	pthread_mutex_lock(&a->lock);
	uint64_t gen = ++a->drain_req;
	a->drain_deadline_ms = deadline_ms;
	pthread_cond_signal(&a->wake);
	deadline_ts(deadline_ms, &ts);
	while (a->drain_done < gen &&
	       pthread_cond_timedwait(&a->idle, &a->lock, &ts) != ETIMEDOUT)
		;
	if (a->drain_done < gen) {
		/* Still inside the outside call: make it give up, then wait
		 * for the thread to let go (the cancel is immediate). */
		pthread_mutex_unlock(&a->lock);
		if (a->inner->cancel)
			a->inner->cancel(a->inner);
		pthread_mutex_lock(&a->lock);
		while (a->drain_done < gen)
			pthread_cond_wait(&a->idle, &a->lock);
		r = -ETIMEDOUT;
	} else {
		r = a->drain_ret;
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

static int64_t async_busy_since(const struct sink *s)
{
	struct sink_async *a = (struct sink_async *)s;
	pthread_mutex_lock(&a->lock);
	int64_t b = a->busy_since;
	pthread_mutex_unlock(&a->lock);
	return b;
}

static void async_cancel(struct sink *s)
{
	struct sink_async *a = (struct sink_async *)s;
	if (a->inner->cancel)
		a->inner->cancel(a->inner);
}

static void async_stats(const struct sink *s, stat_fn fn, void *ud)
{
	struct sink_async *a = (struct sink_async *)s;
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->nstats; i++)
		fn(a->stats[i].name, a->stats[i].kind, a->stats[i].value,
		   a->stats[i].help, ud);
	fn("queued_flows", STAT_GAUGE, pending_count(a->queue),
	   "flows handed over, not yet taken by the writer thread", ud);
	fn("queue_dropped_flows", STAT_COUNTER, pending_dropped(a->queue),
	   "flows dropped while the writer thread was busy: queue full", ud);
	pthread_mutex_unlock(&a->lock);
}

static void async_free(struct sink *s)
{
	struct sink_async *a = (struct sink_async *)s;
	if (a->started) {
		pthread_mutex_lock(&a->lock);
		a->stop = true;
		/* What is still queued was given its chance in drain(). */
		pending_clear(a->queue);
		pthread_cond_signal(&a->wake);
		pthread_mutex_unlock(&a->lock);
		if (a->inner->cancel)
			a->inner->cancel(a->inner);
		pthread_join(a->thread, NULL);
		pthread_cond_destroy(&a->wake);
		pthread_cond_destroy(&a->idle);
		pthread_mutex_destroy(&a->lock);
	}
	sink_free(a->inner);
	pending_free(a->queue);
	pending_free(a->work);
	free(a);
}

struct sink *sink_async_new(struct sink *inner, size_t max_queued)
{
	if (!inner)
		return NULL;
	struct sink_async *a = calloc(1, sizeof(*a));
	if (!a) {
		sink_free(inner);
		return NULL;
	}
	a->base.name = inner->name;
	a->base.write = async_write;
	a->base.drain = async_drain;
	a->base.cancel = async_cancel;
	a->base.busy_since = async_busy_since;
	a->base.stats = async_stats;
	a->base.free = async_free;
	a->inner = inner;
	a->max_queued = max_queued;
	a->queue = pending_new();
	a->work = pending_new();
	if (!a->queue || !a->work)
		goto fail;

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->wake, &ca);
	pthread_cond_init(&a->idle, &ca);
	pthread_condattr_destroy(&ca);
	/* Signals belong to the agent's loop (signalfd): the thread is born
	 * with all of them blocked, or SIGTERM could end the process there. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&a->thread, NULL, worker, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_cond_destroy(&a->wake);
		pthread_cond_destroy(&a->idle);
		pthread_mutex_destroy(&a->lock);
		goto fail;
	}
	a->started = true;
	return &a->base;
fail:
	async_free(&a->base);
	return NULL;
}
