// SPDX-License-Identifier: MIT
/*
 * The CMDB sink's delivery logic against a fake store: batches in order,
 * flows kept through an outage and the backoff between tries, a batch
 * whose COMMIT went unacknowledged retried first with its own seq, the
 * buffer bound, the bounded drain and its final flush, and its counters.
 */
#include "agent/sink_cmdb.h"
#include "cmdb/delta.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_sink.h"
#include "test_util.h"

#define MAX_CALLS 64

/* What the next flush calls answer; afterwards they succeed. */
struct fake_answer {
	int r;
	bool in_doubt;
};

struct fake_flush {
	uint64_t seq, boot_id;
	size_t n;
	uint64_t new_conns; /* summed over the batch */
	bool final;
};

static struct fake {
	int64_t now;
	int connect_failures; /* the next ones fail */
	int connects;
	bool connected;
	struct fake_answer answers[MAX_CALLS];
	size_t nanswers, next_answer;
	struct fake_flush flushes[MAX_CALLS];
	size_t nflushes;
	int64_t slept;
	/* The owed flows carried across connections (take_owed/give_owed). */
	struct cmdb_owed *to_take, *given;
	int takes, gives;
	size_t flushes_at_give;
	size_t owes; /* flows the connection owes their row (ops->owes) */
} F;

static struct probe_config cfg;

/* The fake database handle: any non-NULL pointer will do. */
static char fake_db;

static int fake_connect(const char *url, const struct cmdb_limits *l,
			struct cmdb **ret, char *err, size_t errsz)
{
	(void)url;
	/* The sink passes its deadline and a cancel fd. */
	assert_true(l && l->timeout_ms == cfg.cmdb_timeout_ms);
	assert_true(l->cancel_fd >= 0);
	F.connects++;
	if (F.connect_failures > 0) {
		F.connect_failures--;
		snprintf(err, errsz, "connection refused");
		return -ECONNREFUSED;
	}
	F.connected = true;
	*ret = (struct cmdb *)&fake_db;
	return 0;
}

static bool fake_is_connected(const struct cmdb *db)
{
	return db && F.connected;
}

static const char *fake_last_error(const struct cmdb *db)
{
	(void)db;
	return "fake error";
}

static int fake_flush(struct cmdb *db, const struct cmdb_batch *b,
		      const struct flow *flows, size_t n, bool *ret_in_doubt)
{
	assert_ptr_equal(db, &fake_db);
	*ret_in_doubt = false;
	/* A flush of no flows is the drain's final one, when rows are owed:
	 * anything else would be a transaction (and a seq) for nothing. */
	if (n == 0)
		assert_true(b->final && F.owes);
	assert_true(F.nflushes < MAX_CALLS);
	struct fake_flush *f = &F.flushes[F.nflushes++];
	f->seq = b->seq;
	f->boot_id = b->boot_id;
	f->n = n;
	f->final = b->final;
	for (size_t i = 0; i < n; i++)
		f->new_conns += flows[i].new_connections;
	if (F.next_answer < F.nanswers) {
		const struct fake_answer *a = &F.answers[F.next_answer++];
		*ret_in_doubt = a->in_doubt;
		if (a->r == -ENOTCONN || a->r == -ETIMEDOUT)
			F.connected = false;
		return a->r;
	}
	if (b->final)
		F.owes = 0; /* a final flush sends what is owed */
	return (int)n;
}

static bool fake_owes(const struct cmdb *db)
{
	assert_ptr_equal(db, &fake_db);
	return F.owes > 0;
}

static int fake_store_pods(struct cmdb *db, const char *node_name,
			   struct cmdb_pod_rows *r, int64_t now_ms)
{
	(void)db, (void)node_name, (void)r, (void)now_ms;
	fail_msg("no pod watch was given: no pods to store");
	return -EIO;
}

static void fake_free(struct cmdb *db)
{
	if (db)
		F.connected = false;
	F.owes = 0; /* the connection's, unless taken (take_owed) */
}

static int64_t fake_now_ms(void)
{
	return F.now;
}

static void fake_sleep_ms(int64_t ms)
{
	F.now += ms;
	F.slept += ms;
}

static const struct sink_cmdb_ops fake_ops = {
	.connect = fake_connect,
	.is_connected = fake_is_connected,
	.last_error = fake_last_error,
	.flush = fake_flush,
	.store_pods = fake_store_pods,
	.owes = fake_owes,
	.free = fake_free,
	.now_ms = fake_now_ms,
	.sleep_ms = fake_sleep_ms,
};

static struct cmdb_owed *fake_take_owed(struct cmdb *db)
{
	assert_ptr_equal(db, &fake_db);
	F.takes++;
	struct cmdb_owed *o = F.to_take;
	F.to_take = NULL;
	return o;
}

static void fake_give_owed(struct cmdb *db, struct cmdb_owed *o)
{
	assert_ptr_equal(db, &fake_db);
	assert_true(F.connected);
	F.gives++;
	F.given = o;
	F.flushes_at_give = F.nflushes;
	F.owes = o ? o->n : 0;
	cmdb_owed_free(o);
}

static const struct sink_cmdb_ops fake_ops_owed = {
	.connect = fake_connect,
	.is_connected = fake_is_connected,
	.last_error = fake_last_error,
	.flush = fake_flush,
	.store_pods = fake_store_pods,
	.take_owed = fake_take_owed,
	.give_owed = fake_give_owed,
	.owes = fake_owes,
	.free = fake_free,
	.now_ms = fake_now_ms,
	.sleep_ms = fake_sleep_ms,
};

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	F.now = 1000000;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cmdb_url = "postgres://fake";
	cfg.node_name = "n1";
	cfg.max_pending_flows = 1000;
	cfg.cmdb_timeout_ms = 2000;
	log_set_level(LOG_ERROR);
	return 0;
}

static uint64_t delivered_conns(void)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < F.nflushes; i++)
		sum += F.flushes[i].new_conns;
	return sum;
}

static void test_delivers_in_order(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow fl[2] = { sink_test_flow(2, 3), sink_test_flow(3, 1) };

	assert_non_null(s);
	assert_int_equal(s->write(s, fl, 2, 0), 0);
	assert_int_equal(s->write(s, fl, 1, 0), 0);
	assert_int_equal(F.connects, 1); /* the connection is kept */
	assert_int_equal(F.nflushes, 2);
	assert_int_equal(F.flushes[0].n, 2);
	assert_int_equal(F.flushes[1].n, 1);
	assert_true(F.flushes[1].seq == F.flushes[0].seq + 1);
	assert_true(F.flushes[1].boot_id == F.flushes[0].boot_id);
	assert_int_equal(sink_test_stat(s, "up"), 1);
	assert_int_equal(sink_test_stat(s, "writes"), 2);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
	/* Nothing waiting: drain has nothing to do. */
	assert_int_equal(s->drain(s, F.now), 0);
	assert_int_equal(F.slept, 0);
}

static void test_loopback_filtered(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow fl[2] = { sink_test_flow(2, 1), sink_test_flow(3, 1) };
	inet_pton(AF_INET, "127.0.0.1", fl[1].key.raddr);

	assert_int_equal(s->write(s, fl, 2, 0), 0);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(F.flushes[0].n, 1);

	/* Only loopback flows: nothing to write, no transaction. */
	assert_int_equal(s->write(s, &fl[1], 1, 0), 0);
	assert_int_equal(F.nflushes, 1);

	cfg.include_loopback = true;
	_cleanup_(sink_freep) struct sink *all =
		sink_cmdb_new_ops(&cfg, &fake_ops);
	assert_int_equal(all->write(all, fl, 2, 0), 0);
	assert_int_equal(F.flushes[F.nflushes - 1].n, 2);
}

static void test_outage_keeps_flows_and_backs_off(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 5), b = sink_test_flow(3, 7);

	F.connect_failures = 1000;
	/* Down: the flows are kept (0), not lost. */
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(F.connects, 1);
	assert_int_equal(sink_test_stat(s, "up"), 0);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);

	/* Within the backoff: not even a connection attempt. */
	F.now += 100;
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(s->write(s, &b, 1, 0), 0);
	assert_int_equal(F.connects, 1);
	/* Merged by key: a twice is one entry. */
	assert_int_equal(sink_test_stat(s, "pending_flows"), 2);

	/* After the first backoff (500ms), one try that fails again doubles
	 * it: the next try waits 1s. */
	F.now += 500;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.connects, 2);
	F.now += 600;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.connects, 2);
	F.now += 500;

	/* Back: everything kept goes in one batch, each connection once. */
	F.connect_failures = 0;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.connects, 3);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(F.flushes[0].n, 2);
	assert_int_equal(delivered_conns(), 5 + 5 + 7);
	assert_int_equal(sink_test_stat(s, "up"), 1);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
}

static void test_refused_write_is_retried(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 4);

	/* Connected but the server refuses (schema missing): kept. */
	F.answers[F.nanswers++] = (struct fake_answer){ -EIO, false };
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(sink_test_stat(s, "write_failures"), 1);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);

	F.now += 1000;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.nflushes, 2);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
	/* Counted in the CMDB once per successful flush: 4, not 8. */
	assert_int_equal(F.flushes[1].new_conns, 4);
}

/*
 * The connection broke after COMMIT: the server may have the batch. It is
 * retried first, alone and with the same seq (the server recognises a
 * batch it already has), and the flows that came meanwhile follow with a
 * new seq: never merged into the doubtful batch.
 */
static void test_in_doubt_batch_keeps_its_seq(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 3), b = sink_test_flow(2, 10);

	F.answers[F.nanswers++] = (struct fake_answer){ -ENOTCONN, true };
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	uint64_t doubt_seq = F.flushes[0].seq;
	assert_int_equal(sink_test_stat(s, "in_doubt_flows"), 1);

	/* Same key as the doubtful flow: kept apart from it. */
	F.now += 100;
	assert_int_equal(s->write(s, &b, 1, 0), 0);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 2);

	F.now += 1000;
	/* The server had it: -EALREADY counts as delivered. */
	F.answers[F.nanswers++] = (struct fake_answer){ -EALREADY, false };
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.nflushes, 3);
	assert_true(F.flushes[1].seq == doubt_seq);
	assert_int_equal(F.flushes[1].new_conns, 3);
	assert_true(F.flushes[2].seq > doubt_seq);
	assert_int_equal(F.flushes[2].new_conns, 10);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
	assert_int_equal(sink_test_stat(s, "in_doubt_flows"), 0);
}

/* A buffered (not direct) batch that ends in doubt keeps its seq too. */
static void test_in_doubt_after_outage(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 1), b = sink_test_flow(3, 2);

	F.connect_failures = 1;
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	F.now += 600;
	F.answers[F.nanswers++] = (struct fake_answer){ -ENOTCONN, true };
	assert_int_equal(s->write(s, &b, 1, 0), 0);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(F.flushes[0].n, 2);
	assert_int_equal(sink_test_stat(s, "in_doubt_flows"), 2);

	F.now += 1000;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.nflushes, 2);
	assert_true(F.flushes[1].seq == F.flushes[0].seq);
	assert_int_equal(F.flushes[1].n, 2);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
	/* Nothing after the doubtful batch: no flush of no flows. */
	assert_int_equal(sink_test_stat(s, "writes"), 2);
}

static void test_buffer_bound(void **state)
{
	(void)state;
	cfg.max_pending_flows = 16;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow fl[40];
	for (size_t i = 0; i < 40; i++)
		fl[i] = sink_test_flow((uint8_t)(10 + i), 1);

	F.connect_failures = 1000;
	assert_int_equal(s->write(s, fl, 40, 0), 0);
	assert_true(sink_test_stat(s, "pending_flows") <= 16);
	assert_true(sink_test_stat(s, "dropped_flows") >= 24);
	assert_int_equal(sink_test_stat(s, "pending_flows") + sink_test_stat(s, "dropped_flows"),
			 40);
}

static void test_drain_is_bounded(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 1);

	F.connect_failures = 1000;
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	int64_t start = F.now;
	assert_int_equal(s->drain(s, start + 5000), -ETIMEDOUT);
	assert_true(F.now <= start + 5000);
	assert_true(F.connects > 2); /* it did retry meanwhile */
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);

	/* Reachable again: drain delivers and returns 0. */
	F.connect_failures = 0;
	assert_int_equal(s->drain(s, F.now + 5000), 0);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
}

/* A flush that got no answer by its deadline: abandoned, counted, its
 * flows kept (in doubt after COMMIT: same seq), the connection made anew. */
static void test_abandoned_flush_keeps_flows(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 3), b = sink_test_flow(3, 4);

	F.answers[F.nanswers++] = (struct fake_answer){ -ETIMEDOUT, false };
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(sink_test_stat(s, "abandoned_flushes"), 1);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);
	assert_int_equal(sink_test_stat(s, "up"), 0);

	/* Abandoned after COMMIT went out: in doubt. */
	F.now += 600;
	F.answers[F.nanswers++] = (struct fake_answer){ -ETIMEDOUT, true };
	assert_int_equal(s->write(s, &b, 1, 0), 0);
	assert_int_equal(sink_test_stat(s, "abandoned_flushes"), 2);
	assert_int_equal(sink_test_stat(s, "in_doubt_flows"), 2);
	uint64_t doubt_seq = F.flushes[1].seq;

	F.now += 2000;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.connects, 3);
	assert_int_equal(F.nflushes, 3);
	assert_true(F.flushes[2].seq == doubt_seq);
	assert_int_equal(F.flushes[2].new_conns, 7);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
	assert_int_equal(sink_test_stat(s, "up"), 1);
}

/* cancel() (shutdown): drain gives up at once, the flows stay counted. */
static void test_cancel_ends_drain(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 1);

	F.connect_failures = 1000;
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	s->cancel(s);
	int64_t start = F.now;
	assert_int_equal(s->drain(s, start + 5000), -ETIMEDOUT);
	assert_true(F.now == start);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);
}

/* Writes a, then b at a flush that loses the connection, which owes
 * n_owed flows their bucket's row (counted only: no entries): what the
 * sink takes from it. Returns that owed list. */
static struct cmdb_owed *lose_connection_owing(struct sink *s,
					       const struct flow *a,
					       const struct flow *b,
					       size_t n_owed)
{
	assert_int_equal(s->write(s, a, 1, 0), 0);
	struct cmdb_owed *o = calloc(1, sizeof(*o));
	assert_non_null(o);
	o->n = n_owed;
	F.to_take = o;
	F.answers[F.nanswers++] = (struct fake_answer){ -ENOTCONN, false };
	assert_int_equal(s->write(s, b, 1, 0), 0);
	return o;
}

/* What a connection lost at a flush owed a history bucket's row goes to
 * the next connection before its first flush (cmdb/delta.h). */
static void test_owed_carried_across_reconnect(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s =
		sink_cmdb_new_ops(&cfg, &fake_ops_owed);
	struct flow a = sink_test_flow(2, 1), b = sink_test_flow(3, 1);

	struct cmdb_owed *o = lose_connection_owing(s, &a, &b, 0);
	assert_int_equal(sink_test_stat(s, "up"), 0);
	assert_int_equal(F.takes, 1);
	assert_int_equal(F.gives, 0);
	/* Back after the backoff: given to the new connection, then the
	 * kept flows are written. */
	F.now += 600;
	size_t before = F.nflushes;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.connects, 2);
	assert_int_equal(F.gives, 1);
	assert_ptr_equal(F.given, o);
	assert_int_equal(F.flushes_at_give, before);
	assert_true(F.nflushes > before);
	/* Nothing owed by a lost connection: nothing given. */
	F.answers[F.nanswers++] = (struct fake_answer){ -ENOTCONN, false };
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	F.now += 600;
	assert_int_equal(s->write(s, NULL, 0, 0), 0);
	assert_int_equal(F.takes, 2);
	assert_int_equal(F.gives, 1);
}

/* Nothing held and nothing owed at the drain: no flush, so no
 * transaction, no seq taken, nothing counted in writes. */
static void test_drain_nothing_owed(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 1);

	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(s->drain(s, F.now + 5000), 0);
	assert_int_equal(F.nflushes, 1);
	assert_int_equal(sink_test_stat(s, "writes"), 1);
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	assert_int_equal(F.nflushes, 2);
	assert_true(F.flushes[1].seq == F.flushes[0].seq + 1);
	assert_false(F.flushes[0].final || F.flushes[1].final);
}

/* Nothing held but rows owed (cmdb/delta.h): the drain's final flush,
 * of no flows, writes them with the next seq. */
static void test_drain_final_writes_owed(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 1);

	assert_int_equal(s->write(s, &a, 1, 0), 0);
	F.owes = 3;
	assert_int_equal(s->drain(s, F.now + 5000), 0);
	assert_int_equal(F.nflushes, 2);
	assert_true(F.flushes[1].final);
	assert_int_equal(F.flushes[1].n, 0);
	assert_true(F.flushes[1].seq == F.flushes[0].seq + 1);
	assert_int_equal(F.owes, 0);
	assert_int_equal(sink_test_stat(s, "writes"), 2);
}

/* Flows held at the drain (after an outage that carried owed rows to the
 * new connection): their flush is the final one and writes the owed rows
 * with them, with no flush of no flows after it. */
static void test_drain_final_with_flows(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s =
		sink_cmdb_new_ops(&cfg, &fake_ops_owed);
	struct flow a = sink_test_flow(2, 1), b = sink_test_flow(3, 1);

	lose_connection_owing(s, &a, &b, 2);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 1);
	assert_int_equal(s->drain(s, F.now + 5000), 0);
	assert_int_equal(F.gives, 1);
	assert_int_equal(F.nflushes, 3);
	assert_false(F.flushes[1].final);
	assert_true(F.flushes[2].final);
	assert_int_equal(F.flushes[2].n, 1);
	assert_int_equal(F.owes, 0);
	assert_int_equal(sink_test_stat(s, "writes"), 3);
	assert_int_equal(sink_test_stat(s, "pending_flows"), 0);
}

/* A doubtful batch retried by the drain keeps its seq and is not final
 * (it is an earlier flush, perhaps applied); the flows after it are. */
static void test_drain_doubt_then_final(void **state)
{
	(void)state;
	_cleanup_(sink_freep) struct sink *s = sink_cmdb_new_ops(&cfg, &fake_ops);
	struct flow a = sink_test_flow(2, 3), b = sink_test_flow(3, 4);

	F.answers[F.nanswers++] = (struct fake_answer){ -ENOTCONN, true };
	assert_int_equal(s->write(s, &a, 1, 0), 0);
	F.now += 100;
	assert_int_equal(s->write(s, &b, 1, 0), 0); /* within the backoff */
	assert_int_equal(s->drain(s, F.now + 5000), 0);
	assert_int_equal(F.nflushes, 3);
	assert_true(F.flushes[1].seq == F.flushes[0].seq);
	assert_false(F.flushes[1].final);
	assert_true(F.flushes[2].final);
	assert_true(F.flushes[2].seq == F.flushes[0].seq + 1);
	assert_int_equal(F.flushes[2].new_conns, 4);
	assert_int_equal(sink_test_stat(s, "writes"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_delivers_in_order, setup),
		cmocka_unit_test_setup(test_loopback_filtered, setup),
		cmocka_unit_test_setup(test_outage_keeps_flows_and_backs_off,
				       setup),
		cmocka_unit_test_setup(test_refused_write_is_retried, setup),
		cmocka_unit_test_setup(test_in_doubt_batch_keeps_its_seq,
				       setup),
		cmocka_unit_test_setup(test_in_doubt_after_outage, setup),
		cmocka_unit_test_setup(test_buffer_bound, setup),
		cmocka_unit_test_setup(test_drain_is_bounded, setup),
		cmocka_unit_test_setup(test_abandoned_flush_keeps_flows, setup),
		cmocka_unit_test_setup(test_cancel_ends_drain, setup),
		cmocka_unit_test_setup(test_owed_carried_across_reconnect,
				       setup),
		cmocka_unit_test_setup(test_drain_nothing_owed, setup),
		cmocka_unit_test_setup(test_drain_final_writes_owed, setup),
		cmocka_unit_test_setup(test_drain_final_with_flows, setup),
		cmocka_unit_test_setup(test_drain_doubt_then_final, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
