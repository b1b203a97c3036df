// SPDX-License-Identifier: MIT
/*
 * Streaming mode without a kernel: the ring buffer record decoder, the
 * user-space state machine (seed/resync, held UDP events, owners shared
 * between events and polls, lost counter) and the cgroup2 mount lookup,
 * fed synthetic records laid out exactly as bpf/shawk.bpf.c writes them.
 */
#include "probe/ebpf.h"
#include "probe/ebpf_event.h"
#include "probe/stream.h"
#include "shawk_event.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

static struct shawk_event ev4(uint8_t kind, const char *l, uint16_t lp,
			      const char *r, uint16_t rp, uint64_t cookie)
{
	struct shawk_event e;
	memset(&e, 0, sizeof(e));
	e.version = SHAWK_EVENT_VERSION;
	e.kind = kind;
	e.family = AF_INET;
	e.flags = SHAWK_EVF_OWNER;
	e.lport = lp;
	e.rport = rp;
	e.tgid = 4242;
	e.cookie = cookie;
	e.netns = 4026531840ULL;
	e.cgroup_id = 77;
	memcpy(e.comm, "nginx", 6);
	inet_pton(AF_INET, l, e.laddr);
	inet_pton(AF_INET, r, e.raddr);
	return e;
}

static void test_decode_tcp(void **state)
{
	(void)state;
	struct shawk_event e = ev4(SHAWK_EV_TCP_PASSIVE, "10.0.0.10", 80,
				   "10.0.0.11", 51000, 99);
	struct sock_record r;
	assert_int_equal(ebpf_event_decode(&e, sizeof(e), &r), 0);
	assert_int_equal(r.proto, IPPROTO_TCP);
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.dir, SOCK_DIR_PASSIVE);
	assert_int_equal(r.state, TCP_ESTABLISHED);
	assert_int_equal(r.lport, 80);
	assert_int_equal(r.rport, 51000);
	assert_int_equal(r.pid, 4242);
	assert_true(r.flags & SOCK_REC_F_OWNER_KNOWN);
	assert_string_equal(r.comm, "nginx");
	assert_int_equal(r.cookie, 99);
	assert_int_equal(r.cgroup_id, 77);
	assert_true(r.netns == 4026531840ULL);
	uint8_t want[16] = { 10, 0, 0, 10 };
	assert_memory_equal(r.laddr, want, 16);

	e.kind = SHAWK_EV_TCP_ACTIVE;
	e.flags = 0; /* owner unknown: no pid, no comm */
	assert_int_equal(ebpf_event_decode(&e, sizeof(e), &r), 0);
	assert_int_equal(r.dir, SOCK_DIR_ACTIVE);
	assert_int_equal(r.pid, 0);
	assert_false(r.flags & SOCK_REC_F_OWNER_KNOWN);
	assert_string_equal(r.comm, "");
}

static void test_decode_v6_and_mapped(void **state)
{
	(void)state;
	struct shawk_event e = ev4(SHAWK_EV_TCP_ACTIVE, "0.0.0.0", 1, "0.0.0.0",
				   443, 5);
	struct sock_record r;
	e.family = AF_INET6;
	inet_pton(AF_INET6, "fd00::2", e.laddr);
	inet_pton(AF_INET6, "fd00::1", e.raddr);
	assert_int_equal(ebpf_event_decode(&e, sizeof(e), &r), 0);
	assert_int_equal(r.family, AF_INET6);
	assert_memory_equal(r.raddr, e.raddr, 16);

	/* A dual-stack socket talking IPv4 reports mapped addresses. */
	inet_pton(AF_INET6, "::ffff:10.0.0.2", e.laddr);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", e.raddr);
	assert_int_equal(ebpf_event_decode(&e, sizeof(e), &r), 0);
	assert_int_equal(r.family, AF_INET);
	uint8_t want[16] = { 10, 0, 0, 1 };
	assert_memory_equal(r.raddr, want, 16);

	/* Unbound [::] UDP socket to a mapped peer: 0.0.0.0 locally. */
	memset(e.laddr, 0, 16);
	e.kind = SHAWK_EV_UDP_ACTIVE;
	assert_int_equal(ebpf_event_decode(&e, sizeof(e), &r), 0);
	assert_int_equal(r.family, AF_INET);
	assert_int_equal(r.proto, IPPROTO_UDP);
	uint8_t zero[16] = { 0 };
	assert_memory_equal(r.laddr, zero, 16);
}

static void test_decode_rejects(void **state)
{
	(void)state;
	struct shawk_event e = ev4(SHAWK_EV_TCP_ACTIVE, "10.0.0.2", 1,
				   "10.0.0.1", 80, 5);
	struct sock_record r;
	memset(&r, 0xaa, sizeof(r));
	struct sock_record before = r;
	assert_int_equal(ebpf_event_decode(&e, sizeof(e) - 1, &r), -EINVAL);
	assert_int_equal(ebpf_event_decode(NULL, sizeof(e), &r), -EINVAL);
	struct shawk_event bad = e;
	bad.version = SHAWK_EVENT_VERSION + 1;
	assert_int_equal(ebpf_event_decode(&bad, sizeof(bad), &r), -EPROTO);
	bad = e;
	bad.kind = 0;
	assert_int_equal(ebpf_event_decode(&bad, sizeof(bad), &r), -EINVAL);
	bad.kind = 9;
	assert_int_equal(ebpf_event_decode(&bad, sizeof(bad), &r), -EINVAL);
	bad = e;
	bad.family = AF_UNIX;
	assert_int_equal(ebpf_event_decode(&bad, sizeof(bad), &r), -EINVAL);
	bad = e;
	bad.rport = 0;
	assert_int_equal(ebpf_event_decode(&bad, sizeof(bad), &r), -EINVAL);
	/* Out-parameter untouched on failure. */
	assert_memory_equal(&r, &before, sizeof(r));
	/* Longer records (a newer, extended layout) decode. */
	unsigned char big[sizeof(e) + 8];
	memcpy(big, &e, sizeof(e));
	assert_int_equal(ebpf_event_decode(big, sizeof(big), &r), 0);
}

/* An entry of the in-kernel aggregate, as shawk.bpf.c's aggregate() keys
 * it: the event without cookie and ephemeral port. */
static struct shawk_event agg4(uint8_t kind, const char *l, uint16_t lp,
			       const char *r, uint16_t rp)
{
	struct shawk_event e = ev4(kind, l, lp, r, rp, 0);
	e.flags |= SHAWK_EVF_AGGREGATE;
	return e;
}

static void test_decode_aggregate(void **state)
{
	(void)state;
	struct shawk_event a = agg4(SHAWK_EV_TCP_ACTIVE, "10.0.0.2", 0,
				    "10.0.0.1", 80);
	struct sock_record r;
	assert_int_equal(ebpf_agg_decode(&a, sizeof(a), 7, &r), 0);
	assert_int_equal(r.conns, 7);
	assert_int_equal(r.dir, SOCK_DIR_ACTIVE);
	assert_int_equal(r.proto, IPPROTO_TCP);
	assert_int_equal(r.lport, 0);
	assert_int_equal(r.rport, 80);
	assert_int_equal(r.cookie, 0);
	assert_int_equal(r.pid, 4242);
	assert_true(r.flags & SOCK_REC_F_OWNER_KNOWN);

	struct shawk_event p = agg4(SHAWK_EV_TCP_PASSIVE, "10.0.0.1", 80,
				    "10.0.0.2", 0);
	assert_int_equal(ebpf_agg_decode(&p, sizeof(p), 1ULL << 40, &r), 0);
	assert_int_equal(r.conns, UINT32_MAX);
	assert_int_equal(r.dir, SOCK_DIR_PASSIVE);
	assert_int_equal(r.lport, 80);
	assert_int_equal(r.rport, 0);

	/* Each decoder takes only its own kind of record. */
	assert_int_equal(ebpf_event_decode(&p, sizeof(p), &r), -EINVAL);
	struct shawk_event ev = ev4(SHAWK_EV_TCP_PASSIVE, "10.0.0.1", 80,
				    "10.0.0.2", 40000, 5);
	assert_int_equal(ebpf_agg_decode(&ev, sizeof(ev), 1, &r), -EINVAL);
	/* Malformed entries. */
	assert_int_equal(ebpf_agg_decode(&p, sizeof(p), 0, &r), -EINVAL);
	assert_int_equal(ebpf_agg_decode(&p, sizeof(p) - 1, 1, &r), -EINVAL);
	struct shawk_event bad = p;
	bad.cookie = 9;
	assert_int_equal(ebpf_agg_decode(&bad, sizeof(bad), 1, &r), -EINVAL);
	bad = p;
	bad.lport = 0; /* no service port */
	assert_int_equal(ebpf_agg_decode(&bad, sizeof(bad), 1, &r), -EINVAL);
	bad = a;
	bad.rport = 0;
	assert_int_equal(ebpf_agg_decode(&bad, sizeof(bad), 1, &r), -EINVAL);
	bad = agg4(SHAWK_EV_UDP_PASSIVE, "10.0.0.1", 53, "10.0.0.2", 0);
	assert_int_equal(ebpf_agg_decode(&bad, sizeof(bad), 1, &r), -EINVAL);
	bad = p;
	bad.version = SHAWK_EVENT_VERSION + 1;
	assert_int_equal(ebpf_agg_decode(&bad, sizeof(bad), 1, &r), -EPROTO);
}

static void test_decode_udp_per_peer(void **state)
{
	(void)state;
	struct shawk_event a = ev4(SHAWK_EV_UDP_PASSIVE, "10.0.0.1", 53,
				   "10.0.0.2", 40000, 7);
	a.flags |= SHAWK_EVF_PER_PEER;
	struct shawk_event b = a;
	b.rport = 40001;
	struct sock_record ra, rb, ra2;
	assert_int_equal(ebpf_event_decode(&a, sizeof(a), &ra), 0);
	assert_int_equal(ebpf_event_decode(&b, sizeof(b), &rb), 0);
	assert_int_equal(ebpf_event_decode(&a, sizeof(a), &ra2), 0);
	/* One connection id per (socket, peer), stable, never the raw
	 * cookie (which the poll's socket of the same cookie uses). */
	assert_true(ra.cookie != rb.cookie);
	assert_true(ra.cookie == ra2.cookie);
	assert_true(ra.cookie != 7 && ra.cookie != 0);
	assert_int_equal(ra.dir, SOCK_DIR_PASSIVE);
}

/* ---- state machine ---------------------------------------------------- */

struct sink_recs {
	struct sock_record r[32];
	size_t n;
};

static int collect(const struct sock_record *rec, void *ud)
{
	struct sink_recs *s = ud;
	assert_true(s->n < 32);
	s->r[s->n++] = *rec;
	return 0;
}

static void test_resync_schedule(void **state)
{
	(void)state;
	/* Flush every 1000ms, scans every 200ms from t=1000: flushes at
	 * 2000, 3000...; polls in the first scan after each (phase 100). */
	struct stream *s = stream_new(1000, 100, 0);
	assert_non_null(s);
	assert_true(stream_resync_due(s, 1000)); /* the seed */
	assert_false(stream_resync_due(s, 1200));
	assert_false(stream_resync_due(s, 2000)); /* same tick as the flush */
	assert_true(stream_resync_due(s, 2200));
	assert_false(stream_resync_due(s, 2400));
	assert_false(stream_resync_due(s, 3000));
	/* A late scan (slow poll) still polls once, back on the grid. */
	assert_true(stream_resync_due(s, 3350));
	assert_false(stream_resync_due(s, 3600));
	/* Missed grid points do not make polls burst afterwards. */
	assert_true(stream_resync_due(s, 7200));
	assert_false(stream_resync_due(s, 7400));
	assert_true(stream_resync_due(s, 8200));
	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.resyncs, 5);
	stream_free(s);
	stream_free(NULL);
}

static void test_events_pass_through(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 0);
	struct sink_recs out = { .n = 0 };
	struct shawk_event e = ev4(SHAWK_EV_TCP_ACTIVE, "10.0.0.2", 40000,
				   "10.0.0.1", 80, 11);
	assert_int_equal(stream_on_event(s, &e, sizeof(e), collect, &out), 0);
	e.version = 0; /* malformed: counted, skipped, not fatal */
	assert_int_equal(stream_on_event(s, &e, sizeof(e), collect, &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(out.r[0].cookie, 11);
	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.bad_events, 1);
	stream_free(s);
}

static int fail_fn(const struct sock_record *rec, void *ud)
{
	(void)rec;
	(void)ud;
	return -EIO;
}

static void test_callback_error_stops(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 0);
	struct shawk_event e = ev4(SHAWK_EV_TCP_ACTIVE, "10.0.0.2", 40000,
				   "10.0.0.1", 80, 11);
	assert_int_equal(stream_on_event(s, &e, sizeof(e), fail_fn, NULL),
			 -EIO);
	stream_free(s);
}

static struct sock_record polled(uint8_t proto, uint8_t state,
				 const char *l, uint16_t lp, const char *r,
				 uint16_t rp, uint64_t cookie, uint32_t pid)
{
	struct sock_record rec;
	memset(&rec, 0, sizeof(rec));
	rec.proto = proto;
	rec.family = AF_INET;
	rec.state = state;
	rec.lport = lp;
	rec.rport = rp;
	inet_pton(AF_INET, l, rec.laddr);
	inet_pton(AF_INET, r, rec.raddr);
	rec.cookie = cookie;
	rec.pid = pid;
	return rec;
}

static void test_poll_takes_event_owner(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 0);
	struct sink_recs out = { .n = 0 };
	struct shawk_event e = ev4(SHAWK_EV_TCP_PASSIVE, "10.0.0.1", 80,
				   "10.0.0.2", 40000, 21);
	assert_int_equal(stream_on_event(s, &e, sizeof(e), collect, &out), 0);

	/* Still in the accept queue: no fd, so the poll found no owner. */
	struct sock_record q = polled(IPPROTO_TCP, TCP_ESTABLISHED, "10.0.0.1",
				      80, "10.0.0.2", 40000, 21, 0);
	assert_int_equal(stream_on_poll_record(s, &q, collect, &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.r[1].pid, 4242);
	assert_string_equal(out.r[1].comm, "nginx");
	assert_true(out.r[1].flags & SOCK_REC_F_OWNER_KNOWN);

	/* Already closing (orphaned, process maybe gone): passed on with
	 * the event's owner, so the flow table keeps tracking it (a
	 * connection held half-closed is not new in a later interval). */
	struct sock_record c = polled(IPPROTO_TCP, TCP_FIN_WAIT2, "10.0.0.1",
				      80, "10.0.0.2", 40000, 21, 0);
	assert_int_equal(stream_on_poll_record(s, &c, collect, &out), 0);
	assert_int_equal(out.n, 3);
	assert_int_equal(out.r[2].pid, 4242);
	assert_int_equal(out.r[2].state, TCP_FIN_WAIT2);

	/* A connection no event told about is passed as polled. */
	struct sock_record o = polled(IPPROTO_TCP, TCP_FIN_WAIT2, "10.0.0.1",
				      80, "10.0.0.3", 40000, 22, 0);
	assert_int_equal(stream_on_poll_record(s, &o, collect, &out), 0);
	assert_int_equal(out.n, 4);
	assert_int_equal(out.r[3].pid, 0);
	assert_int_equal(stream_poll_done(s, collect, &out), 0);

	/* Remembered for one more resync period, then forgotten. */
	assert_int_equal(stream_on_poll_record(s, &q, collect, &out), 0);
	assert_int_equal(out.r[4].pid, 4242);
	assert_int_equal(stream_poll_done(s, collect, &out), 0);
	assert_int_equal(stream_on_poll_record(s, &q, collect, &out), 0);
	assert_int_equal(out.r[5].pid, 0);
	stream_free(s);
}

static void test_resync_on_request(void **state)
{
	(void)state;
	/* resync 0: the seed, then only what the probe asks for. */
	struct stream *s = stream_new(0, 100, 0);
	assert_non_null(s);
	assert_true(stream_resync_due(s, 1000));
	assert_false(stream_resync_due(s, 2000));
	assert_false(stream_resync_due(s, 1000000));
	stream_request_resync(s);
	assert_true(stream_resync_due(s, 1000200));
	assert_false(stream_resync_due(s, 1000400));
	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.resyncs, 2);
	stream_free(s);

	/* With a grid, a request adds a poll and leaves the grid alone. */
	s = stream_new(1000, 0, 0);
	assert_true(stream_resync_due(s, 0));
	stream_request_resync(s);
	assert_true(stream_resync_due(s, 300));
	assert_false(stream_resync_due(s, 600));
	assert_true(stream_resync_due(s, 1000));
	stream_free(s);
}

static void test_aggregate_and_counted_polls(void **state)
{
	(void)state;
	struct stream *s = stream_new(0, 0, 0);
	struct sink_recs out = { .n = 0 };
	stream_set_aggregating(s, true);

	/* The seed: whatever is open was never counted. */
	assert_true(stream_resync_due(s, 0));
	struct sock_record old = polled(IPPROTO_TCP, TCP_ESTABLISHED,
					"10.0.0.1", 80, "10.0.0.2", 40000, 31,
					10);
	assert_int_equal(stream_on_poll_record(s, &old, collect, &out), 0);
	assert_int_equal(stream_poll_done(s, collect, &out), 0);
	assert_int_equal(out.n, 1);
	assert_false(out.r[0].flags & SOCK_REC_F_COUNTED);

	/* Counted in the kernel between the polls. */
	struct shawk_event a = agg4(SHAWK_EV_TCP_PASSIVE, "10.0.0.1", 80,
				    "10.0.0.3", 0);
	assert_int_equal(stream_on_aggregate(s, &a, sizeof(a), 12, collect,
					     &out),
			 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.r[1].conns, 12);
	a.version = 0; /* malformed: counted, skipped */
	assert_int_equal(stream_on_aggregate(s, &a, sizeof(a), 1, collect,
					     &out),
			 0);
	assert_int_equal(out.n, 2);

	/* One connection came as an event (a poll was running). */
	struct shawk_event e = ev4(SHAWK_EV_TCP_PASSIVE, "10.0.0.1", 80,
				   "10.0.0.4", 40001, 41);
	assert_int_equal(stream_on_event(s, &e, sizeof(e), collect, &out), 0);

	/* A later poll: TCP sockets no event named are marked counted (an
	 * aggregate had them if they are new), the event's is not; UDP and
	 * listeners are not. */
	stream_request_resync(s);
	assert_true(stream_resync_due(s, 5000));
	struct sock_record agg_open = polled(IPPROTO_TCP, TCP_ESTABLISHED,
					     "10.0.0.1", 80, "10.0.0.3",
					     40002, 51, 10);
	struct sock_record ev_open = polled(IPPROTO_TCP, TCP_ESTABLISHED,
					    "10.0.0.1", 80, "10.0.0.4", 40001,
					    41, 10);
	struct sock_record udp = polled(IPPROTO_UDP, TCP_ESTABLISHED,
					"10.0.0.1", 53, "10.0.0.5", 5353, 61,
					10);
	struct sock_record lis = polled(IPPROTO_TCP, TCP_LISTEN, "0.0.0.0", 80,
					"0.0.0.0", 0, 71, 10);
	assert_int_equal(stream_on_poll_record(s, &agg_open, collect, &out), 0);
	assert_int_equal(stream_on_poll_record(s, &ev_open, collect, &out), 0);
	assert_int_equal(stream_on_poll_record(s, &udp, collect, &out), 0);
	assert_int_equal(stream_on_poll_record(s, &lis, collect, &out), 0);
	assert_int_equal(stream_poll_done(s, collect, &out), 0);
	assert_int_equal(out.n, 7);
	assert_true(out.r[3].flags & SOCK_REC_F_COUNTED);
	assert_int_equal(out.r[3].cookie, 51);
	assert_false(out.r[4].flags & SOCK_REC_F_COUNTED);
	assert_int_equal(out.r[4].pid, 4242); /* the event's owner */
	assert_false(out.r[5].flags & SOCK_REC_F_COUNTED);
	assert_false(out.r[6].flags & SOCK_REC_F_COUNTED);

	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.aggregated, 12);
	assert_int_equal(st.agg_records, 1);
	assert_int_equal(st.bad_events, 1);

	/* Without aggregation, no poll marks anything. */
	struct stream *p = stream_new(0, 0, 0);
	assert_true(stream_resync_due(p, 0));
	assert_int_equal(stream_poll_done(p, collect, &out), 0);
	stream_request_resync(p);
	assert_true(stream_resync_due(p, 1));
	assert_int_equal(stream_on_poll_record(p, &agg_open, collect, &out), 0);
	assert_false(out.r[7].flags & SOCK_REC_F_COUNTED);
	stream_free(p);
	stream_free(s);
}

static void test_udp_held_until_poll(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 0);
	struct sink_recs out = { .n = 0 };
	/* connect() of an unbound socket: local address not chosen yet. */
	struct shawk_event a = ev4(SHAWK_EV_UDP_ACTIVE, "0.0.0.0", 0,
				   "10.0.0.1", 53, 31);
	struct shawk_event b = ev4(SHAWK_EV_UDP_ACTIVE, "0.0.0.0", 0,
				   "10.0.0.1", 53, 32);
	struct shawk_event c = ev4(SHAWK_EV_UDP_ACTIVE, "0.0.0.0", 0,
				   "10.0.0.1", 53, 33);
	assert_int_equal(stream_on_event(s, &a, sizeof(a), collect, &out), 0);
	assert_int_equal(stream_on_event(s, &b, sizeof(b), collect, &out), 0);
	assert_int_equal(stream_on_event(s, &c, sizeof(c), collect, &out), 0);
	assert_int_equal(out.n, 0);

	/* The poll shows a connected (resolved), b unconnected (connect
	 * failed: dropped); c is gone (keeps the wildcard). */
	struct sock_record pa = polled(IPPROTO_UDP, TCP_ESTABLISHED,
				       "10.0.0.2", 41000, "10.0.0.1", 53, 31,
				       4242);
	struct sock_record pb = polled(IPPROTO_UDP, TCP_CLOSE, "0.0.0.0", 41001,
				       "0.0.0.0", 0, 32, 4242);
	assert_int_equal(stream_on_poll_record(s, &pa, collect, &out), 0);
	assert_int_equal(stream_on_poll_record(s, &pb, collect, &out), 0);
	assert_int_equal(out.n, 2);
	assert_int_equal(stream_poll_done(s, collect, &out), 0);
	assert_int_equal(out.n, 4);
	uint8_t l[16] = { 10, 0, 0, 2 }, zero[16] = { 0 };
	assert_int_equal(out.r[2].cookie, 31);
	assert_memory_equal(out.r[2].laddr, l, 16);
	assert_int_equal(out.r[2].dir, SOCK_DIR_ACTIVE);
	assert_int_equal(out.r[3].cookie, 33);
	assert_memory_equal(out.r[3].laddr, zero, 16);
	/* Released: the next poll has nothing held. */
	assert_int_equal(stream_poll_done(s, collect, &out), 0);
	assert_int_equal(out.n, 4);
	stream_free(s);
}

static void test_udp_hold_bound(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 2);
	struct sink_recs out = { .n = 0 };
	for (uint64_t i = 1; i <= 3; i++) {
		struct shawk_event e = ev4(SHAWK_EV_UDP_ACTIVE, "0.0.0.0", 0,
					   "10.0.0.1", 53, i);
		assert_int_equal(stream_on_event(s, &e, sizeof(e), collect, &out),
				 0);
	}
	/* The third did not fit: passed on at once, unresolved. */
	assert_int_equal(out.n, 1);
	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.held, 2);
	assert_int_equal(st.held_overflow, 1);
	stream_free(s);
}

static void test_lost_counter(void **state)
{
	(void)state;
	struct stream *s = stream_new(1000, 0, 0);
	assert_int_equal(stream_note_lost(s, 0), 0);
	assert_int_equal(stream_note_lost(s, 5), 5);
	assert_int_equal(stream_note_lost(s, 5), 0);
	assert_int_equal(stream_note_lost(s, 12), 7);
	struct stream_stats st;
	stream_get_stats(s, &st);
	assert_int_equal(st.lost_events, 12);
	stream_free(s);
}

static void test_find_cgroup2(void **state)
{
	(void)state;
	char path[256];
	bool root = false;
	/* Hybrid host (this machine), recorded from /proc/self/mountinfo. */
	const char *hybrid =
		"25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
		"35 25 0:30 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
		"40 35 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
		"41 35 0:38 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
	assert_int_equal(ebpf_find_cgroup2(hybrid, path, sizeof(path), &root), 0);
	assert_string_equal(path, "/sys/fs/cgroup/unified");
	assert_true(root);
	/* Pure v2 node; a container's view (cgroup namespace root elsewhere)
	 * and an escaped mount point. */
	const char *v2 =
		"30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
	assert_int_equal(ebpf_find_cgroup2(v2, path, sizeof(path), &root), 0);
	assert_string_equal(path, "/sys/fs/cgroup");
	const char *pod =
		"900 800 0:26 /kubepods.slice/pod1 /host/cg\\040x rw - cgroup2 cgroup2 rw\n";
	assert_int_equal(ebpf_find_cgroup2(pod, path, sizeof(path), &root), 0);
	assert_string_equal(path, "/host/cg x");
	assert_false(root);
	const char *none = "41 35 0:38 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n";
	assert_int_equal(ebpf_find_cgroup2(none, path, sizeof(path), &root),
			 -ENOENT);
	assert_int_equal(ebpf_find_cgroup2("", path, sizeof(path), &root),
			 -ENOENT);
	char tiny[4];
	assert_int_equal(ebpf_find_cgroup2(v2, tiny, sizeof(tiny), &root),
			 -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_tcp),
		cmocka_unit_test(test_decode_v6_and_mapped),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_decode_aggregate),
		cmocka_unit_test(test_decode_udp_per_peer),
		cmocka_unit_test(test_resync_schedule),
		cmocka_unit_test(test_events_pass_through),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_poll_takes_event_owner),
		cmocka_unit_test(test_resync_on_request),
		cmocka_unit_test(test_aggregate_and_counted_polls),
		cmocka_unit_test(test_udp_held_until_poll),
		cmocka_unit_test(test_udp_hold_bound),
		cmocka_unit_test(test_lost_counter),
		cmocka_unit_test(test_find_cgroup2),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
