// SPDX-License-Identifier: MIT
#include "core/flow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#define NS_A 4026531840ULL
#define NS_B 4026532999ULL
#define T_ESTABLISHED 1
#define T_CLOSE 7
#define T_LISTEN 10

/*
 * Fault injection for flow_copy: flow.c's strdup() calls land here (the
 * executable's definition wins over libc's, and over the sanitizers' weak
 * interceptors). strdup_fail_in = n makes the n-th next call fail.
 */
static int strdup_fail_in;

char *strdup(const char *s)
{
	if (strdup_fail_in > 0 && --strdup_fail_in == 0)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

#define ARRAY_N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- records ------------------------------------------------------------ */

static struct sock_record mk(int proto, uint64_t netns, uint8_t state,
			     const char *laddr, uint16_t lport,
			     const char *raddr, uint16_t rport,
			     uint64_t cookie, uint32_t pid)
{
	struct sock_record r;
	memset(&r, 0, sizeof(r));
	r.proto = (uint8_t)proto;
	r.family = strchr(laddr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(r.family, laddr, r.laddr), 1);
	assert_int_equal(inet_pton(r.family, raddr, r.raddr), 1);
	r.state = state;
	r.lport = lport;
	r.rport = rport;
	r.netns = netns;
	r.cookie = cookie;
	r.inode = cookie ? 100000 + cookie : 0;
	r.pid = pid;
	return r;
}

static struct sock_record tcp(uint64_t netns, uint8_t state,
			      const char *laddr, uint16_t lport,
			      const char *raddr, uint16_t rport,
			      uint64_t cookie, uint32_t pid)
{
	return mk(IPPROTO_TCP, netns, state, laddr, lport, raddr, rport,
		  cookie, pid);
}

static struct sock_record listener(uint64_t netns, uint16_t port,
				   uint32_t pid)
{
	return tcp(netns, T_LISTEN, "0.0.0.0", port, "0.0.0.0", 0, 0, pid);
}

/* ---- enrichment --------------------------------------------------------- */

static char pod_cgroup[64] = "/kubepods/podu-1/c0ffee";

static const struct {
	uint32_t pid, pgid;
	const char *comm, *cmdline, *cgroup;
	const char *cid, *cname, *pns, *pname, *puid, *node;
} owners[] = {
	{ 10, 10, "nginx", "nginx: master", "/system.slice/nginx.service",
	  NULL, NULL, NULL, NULL, NULL, "n1" },
	{ 11, 10, "nginx", "nginx: worker", "/system.slice/nginx.service",
	  NULL, NULL, NULL, NULL, NULL, "n1" },
	{ 20, 20, "curl", "curl http://x", "/user.slice", NULL, NULL, NULL,
	  NULL, NULL, "n1" },
	{ 30, 30, "app", "app --serve", pod_cgroup, "c0ffee", "app",
	  "default", "app-1", "u-1", "n1" },
};

struct enrich_ctx {
	unsigned calls;
	uint32_t last_pid;
};

static int enrich(uint32_t pid, const struct sock_record *rec,
		  struct flow_owner *ret, void *ud)
{
	struct enrich_ctx *c = ud;
	(void)rec;
	c->calls++;
	c->last_pid = pid;
	assert_int_not_equal(pid, 0);
	for (size_t i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		if (owners[i].pid != pid)
			continue;
		ret->pid = pid;
		ret->pgid = owners[i].pgid;
		strncpy(ret->comm, owners[i].comm, sizeof(ret->comm) - 1);
		ret->cmdline = owners[i].cmdline;
		ret->cgroup = owners[i].cgroup;
		ret->container_id = owners[i].cid;
		ret->container_name = owners[i].cname;
		ret->pod_namespace = owners[i].pns;
		ret->pod_name = owners[i].pname;
		ret->pod_uid = owners[i].puid;
		ret->node = owners[i].node;
		return 0;
	}
	return -ESRCH;
}

/* ---- flow lookup -------------------------------------------------------- */

static const struct flow *find(const struct flow_table *t, uint8_t dir,
			       uint64_t netns, uint16_t lport, uint16_t rport,
			       const char *comm)
{
	const struct flow *fl = flow_table_flows(t);
	const struct flow *hit = NULL;
	for (size_t i = 0; i < flow_table_count(t); i++) {
		const struct flow_key *k = &fl[i].key;
		if (k->dir == dir && k->netns == netns && k->lport == lport &&
		    k->rport == rport && strcmp(k->comm, comm) == 0) {
			assert_null(hit); /* unique */
			hit = &fl[i];
		}
	}
	if (!hit)
		print_error("no %s flow netns %llu lport %u rport %u '%s'\n",
			    dir == SOCK_DIR_PASSIVE ? "passive" : "active",
			    (unsigned long long)netns, lport, rport, comm);
	assert_non_null(hit);
	return hit;
}

static int ingest(struct flow_table *t, const struct sock_record *recs,
		  size_t n, bool snapshot, int64_t now)
{
	struct enrich_ctx c = { 0 };
	return flow_table_ingest(t, recs, n, snapshot, now, enrich, &c);
}

#define INGEST(t, snap, now, ...)                                              \
	ingest((t), (const struct sock_record[]){ __VA_ARGS__ },               \
	       sizeof((const struct sock_record[]){ __VA_ARGS__ }) /           \
		       sizeof(struct sock_record),                             \
	       (snap), (now))

/* ---- tests -------------------------------------------------------------- */

static void test_direction(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);

	int r = INGEST(
		t, true, 1000,
		/* netns A: nginx listens on :80 and has accepted a client. */
		listener(NS_A, 80, 10),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.2", 50000, 1,
		    10),
		/* curl, same netns, connected out to 10.0.0.9:80: the local
		 * port decides, and 41000 is not listened on. */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 41000, "10.0.0.9", 80, 2,
		    20),
		/* netns B: same local port 80, but nobody listens on it
		 * there: active, the peer port is the service. */
		tcp(NS_B, T_ESTABLISHED, "10.0.1.1", 80, "10.0.1.2", 8080, 3,
		    30),
		/* UDP on port 80 in netns A: the TCP listener does not make
		 * it passive. */
		mk(IPPROTO_UDP, NS_A, T_ESTABLISHED, "10.0.0.1", 80,
		   "10.0.0.3", 9999, 4, 20));
	assert_int_equal(r, 4);
	assert_int_equal(flow_table_count(t), 4);

	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->key.proto, IPPROTO_TCP);
	assert_int_equal(f->key.family, AF_INET);
	assert_int_equal(f->pid, 10);
	assert_int_equal(f->key.pgid, 10);
	assert_int_equal(f->connections, 1);
	uint8_t a[16] = { 0 };
	inet_pton(AF_INET, "10.0.0.2", a);
	assert_memory_equal(f->key.raddr, a, 16);

	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl");
	assert_int_equal(f->key.proto, IPPROTO_TCP);
	f = find(t, SOCK_DIR_ACTIVE, NS_B, 0, 8080, "app");
	assert_int_equal(f->pid, 30);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 9999, "curl");
	assert_int_equal(f->key.proto, IPPROTO_UDP);

	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_int_equal(st.listeners, 1);
	assert_int_equal(st.dropped_flows, 0);
	flow_table_free(t);
	flow_table_free(NULL);
}

/* A source's own direction wins over the listener set. */
static void test_direction_from_source(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record r = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 5000,
				   "10.0.0.2", 6000, 1, 20);
	r.dir = SOCK_DIR_PASSIVE;
	assert_int_equal(ingest(t, &r, 1, false, 1), 1);
	find(t, SOCK_DIR_PASSIVE, NS_A, 5000, 0, "curl");
	flow_table_free(t);
}

static void test_passive_owner(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	struct enrich_ctx c = { 0 };
	assert_non_null(t);

	const struct sock_record recs[] = {
		/* SO_REUSEPORT / v4+v6: several listeners on one port, the
		 * first of unknown owner. */
		listener(NS_A, 80, 0),
		listener(NS_A, 80, 11),
		listener(NS_A, 80, 0),
		/* In the accept queue (no inode, no pid): the listener's. */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.2", 50001, 1,
		    0),
		/* Listener without any known owner on :443. */
		listener(NS_A, 443, 0),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 443, "10.0.0.2", 50002, 2,
		    0),
		/* An active socket without pid is not given to anyone. */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 50003, "10.0.0.9", 80, 3,
		    0),
	};
	assert_int_equal(flow_table_ingest(t, recs, 7, true, 5, enrich, &c), 3);
	/* Enrichment was asked for the listener's owner only. */
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.last_pid, 11);

	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->pid, 11);
	assert_int_equal(f->key.pgid, 10);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 443, 0, "");
	assert_int_equal(f->pid, 0);
	assert_int_equal(f->key.pgid, 0);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "");
	assert_int_equal(f->pid, 0);
	assert_null(f->cgroup);
	flow_table_free(t);
}

static void test_many_ports(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	const struct sock_record recs[] = {
		listener(NS_A, 80, 10),
		/* Server side: three clients' ephemeral ports fold into one
		 * passive flow with peer port "many"... */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.2", 40001, 1,
		    10),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.2", 40002, 2,
		    11), /* a worker of the same pgid and comm */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.2", 40003, 3,
		    10),
		/* ...client side: three local ephemeral ports fold into one
		 * active flow with local port "many". */
		tcp(NS_B, T_ESTABLISHED, "10.0.0.2", 40001, "10.0.0.1", 80, 4,
		    20),
		tcp(NS_B, T_ESTABLISHED, "10.0.0.2", 40002, "10.0.0.1", 80, 5,
		    20),
		tcp(NS_B, T_ESTABLISHED, "10.0.0.2", 40003, "10.0.0.1", 80, 6,
		    20),
		/* Another peer address is another flow. */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80, "10.0.0.5", 40001, 7,
		    10),
	};
	assert_int_equal(ingest(t, recs, sizeof(recs) / sizeof(recs[0]), true,
				7),
			 7);
	assert_int_equal(flow_table_count(t), 3);

	uint8_t peer[16] = { 0 };
	inet_pton(AF_INET, "10.0.0.2", peer);
	const struct flow *fl = flow_table_flows(t);
	const struct flow *srv = NULL;
	for (size_t i = 0; i < flow_table_count(t); i++)
		if (fl[i].key.dir == SOCK_DIR_PASSIVE &&
		    memcmp(fl[i].key.raddr, peer, 16) == 0)
			srv = &fl[i];
	assert_non_null(srv);
	assert_int_equal(srv->key.lport, 80);
	assert_int_equal(srv->key.rport, 0);
	assert_int_equal(srv->connections, 3);
	assert_int_equal(srv->pid, 10); /* lowest pid of the process group */

	const struct flow *cli = find(t, SOCK_DIR_ACTIVE, NS_B, 0, 80, "curl");
	assert_int_equal(cli->connections, 3);
	assert_int_equal(cli->new_connections, 3);
	flow_table_free(t);
}

static void test_distinct_connections(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record c1 = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40001,
				    "10.0.0.1", 80, 1, 20);
	struct sock_record c2 = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40002,
				    "10.0.0.1", 80, 2, 20);
	/* No cookie: the inode identifies it. */
	struct sock_record c3 = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40003,
				    "10.0.0.1", 80, 0, 20);
	c3.inode = 777;
	/* Neither: the 4-tuple in its netns. */
	struct sock_record c4 = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40004,
				    "10.0.0.1", 80, 0, 20);
	struct sock_record c5 = c4;
	c5.lport = 40005;

	/* The same socket twice in one scan (e.g. two dumps overlapping)
	 * and again in later scans of the interval: one connection. */
	const struct sock_record scan1[] = { c1, c1, c2, c3, c3, c4, c4, c5 };
	assert_int_equal(ingest(t, scan1, 8, false, 1), 8);
	const struct flow *f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl");
	assert_int_equal(f->connections, 5);
	assert_int_equal(f->new_connections, 5);
	/* The identities the CMDB dedups across processes: only the
	 * kernel's (cookies 1 and 2, inode 777), once each. */
	assert_int_equal(f->n_conn_ids, 3);
	/* (key, identity): the inode when there is one, else the cookie. */
	assert_true(f->conn_ids[0] == 1 && f->conn_ids[2] == 2);
	assert_true(f->conn_ids[4] == (777 | (1ULL << 63)));
	assert_true(f->conn_ids[5] == (777 | (1ULL << 63)));

	const struct sock_record scan2[] = { c1, c2, c3, c4, c5 };
	assert_int_equal(ingest(t, scan2, 5, true, 2), 5);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl");
	assert_int_equal(f->connections, 5);
	assert_int_equal(f->new_connections, 5);
	assert_int_equal(f->n_conn_ids, 3);
	assert_true(f->first_seen_ms == 1);
	assert_true(f->last_seen_ms == 2);
	flow_table_free(t);
}

static void test_intervals(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record l = listener(NS_A, 80, 10);
	struct sock_record a = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40001, 1, 10);
	struct sock_record b = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40002, 2, 10);
	struct sock_record c = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40003, 3, 10);

	/* Interval 1: a and b open. */
	const struct sock_record s1[] = { l, a, b };
	assert_int_equal(ingest(t, s1, 3, true, 100), 2);
	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 2);
	assert_int_equal(f->new_connections, 2);
	assert_true(f->first_seen_ms == 100);

	flow_table_reset_interval(t);
	assert_int_equal(flow_table_count(t), 0);

	/* Interval 2: a still open (counts again in connections, not as
	 * new), b closed, c new; several scans. */
	const struct sock_record s2[] = { l, a, c };
	assert_int_equal(ingest(t, s2, 3, true, 200), 2);
	assert_int_equal(ingest(t, s2, 3, true, 300), 2);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 2);
	assert_int_equal(f->new_connections, 1);
	/* Only the new connection's identity: a's was sent last interval. */
	assert_int_equal(f->n_conn_ids, 1);
	assert_true(f->conn_ids[0] == 3);
	assert_true(f->first_seen_ms == 200);
	assert_true(f->last_seen_ms == 300);
	/* Still open: its identity stays for the CMDB. Closed before the
	 * flush (absent from two scans, see keep_scanned()): nobody can see
	 * it again, the identity goes; absent from one, it stays. */
	flow_table_forget_closed_ids(t);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->n_conn_ids, 1);
	const struct sock_record s2b[] = { l, a };
	assert_int_equal(ingest(t, s2b, 2, true, 350), 1);
	flow_table_forget_closed_ids(t);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->n_conn_ids, 1);
	assert_int_equal(ingest(t, s2b, 2, true, 360), 1);
	flow_table_forget_closed_ids(t);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->n_conn_ids, 0);
	assert_int_equal(f->new_connections, 1);

	/* Interval 3: nothing open any more: no flow at all. */
	flow_table_reset_interval(t);
	assert_int_equal(ingest(t, &l, 1, true, 400), 0);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

/* Issue 17: CLOSE-WAIT and FIN-WAIT sockets are not live connections. */
static void test_closing_states(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record l = listener(NS_A, 80, 10);
	struct sock_record a = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40001, 1, 10);
	struct sock_record b = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40002, 2, 10);
	/* b again, its client gone: CLOSE-WAIT at the server. */
	struct sock_record b_cw = b;
	b_cw.state = 8; /* TCP_CLOSE_WAIT */
	/* A leftover from a client never seen established, at another
	 * address: no caller of its own. */
	struct sock_record ghost = tcp(NS_A, 8, "10.0.0.1", 80, "10.0.0.9",
				       40009, 9, 10);
	/* An unknown closing socket from a client that has a live flow:
	 * one connection of that flow (listed first: order is no matter). */
	struct sock_record c_fw = tcp(NS_A, 5 /* FIN_WAIT2 */, "10.0.0.1", 80,
				      "10.0.0.2", 40003, 3, 10);

	const struct sock_record s1[] = { l, c_fw, a, b, ghost };
	assert_int_equal(ingest(t, s1, 5, true, 100), 3);
	assert_int_equal(flow_table_count(t), 1);
	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 3);
	assert_int_equal(f->new_connections, 3);

	/* Next interval: a still open, b in CLOSE-WAIT: counted once
	 * already, never again. */
	flow_table_reset_interval(t);
	const struct sock_record s2[] = { l, a, b_cw, ghost };
	assert_int_equal(ingest(t, s2, 4, true, 200), 1);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 1);
	assert_int_equal(f->new_connections, 0);

	/* Only leftovers: no flow, no phantom caller. */
	flow_table_reset_interval(t);
	const struct sock_record s3[] = { l, b_cw, ghost };
	assert_int_equal(ingest(t, s3, 3, true, 300), 0);
	assert_int_equal(flow_table_count(t), 0);
	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_true(st.closing_skipped >= 4);

	/* A client socket known by its inode only, then closing with its
	 * cookie made: the same connection, not counted again (an unknown
	 * closing client socket would count once). */
	flow_table_reset_interval(t);
	struct sock_record h = tcp(NS_B, T_ESTABLISHED, "10.0.0.2", 40010,
				   "10.0.0.1", 80, 0, 20);
	h.inode = 6000;
	assert_int_equal(ingest(t, &h, 1, true, 350), 1);
	flow_table_reset_interval(t);
	struct sock_record h_cw = h;
	h_cw.cookie = 88;
	h_cw.state = 8;
	assert_int_equal(ingest(t, &h_cw, 1, true, 360), 0);
	assert_int_equal(flow_table_count(t), 0);

	/* At a client, a socket its server closed (CLOSE-WAIT) is the call
	 * the client made: counted once, never again. */
	flow_table_reset_interval(t);
	struct sock_record cw = tcp(NS_B, 8, "10.0.0.2", 40100, "10.0.0.1", 80,
				    50, 20);
	assert_int_equal(ingest(t, &cw, 1, true, 400), 1);
	f = find(t, SOCK_DIR_ACTIVE, NS_B, 0, 80, "curl");
	assert_int_equal(f->connections, 1);
	assert_int_equal(f->new_connections, 1);
	flow_table_reset_interval(t);
	assert_int_equal(ingest(t, &cw, 1, true, 500), 0);
	assert_int_equal(flow_table_count(t), 0);
	flow_table_free(t);
}

static void test_aggregate_records(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record l = listener(NS_A, 80, 10);
	/* 5 accepted connections counted by the source (no cookie, peer
	 * port "many"), then 3 more in a later scan. */
	struct sock_record agg = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				     "10.0.0.2", 0, 0, 10);
	agg.dir = SOCK_DIR_PASSIVE;
	agg.conns = 5;
	assert_int_equal(INGEST(t, true, 100, l, agg), 1);
	agg.conns = 3;
	assert_int_equal(INGEST(t, false, 200, agg), 1);
	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 8);
	assert_int_equal(f->new_connections, 8);

	/* A poll shows one of them still open: counted already, so only
	 * remembered (no second count, no flow of its own). */
	struct sock_record open = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				      "10.0.0.2", 40001, 7, 0);
	open.flags |= SOCK_REC_F_COUNTED;
	assert_int_equal(INGEST(t, true, 300, l, open), 0);
	assert_int_equal(flow_table_count(t), 1);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 8);
	assert_int_equal(f->new_connections, 8);

	/* Next interval: still open, so in this interval's flows, not new. */
	flow_table_reset_interval(t);
	open.pid = 10;
	assert_int_equal(INGEST(t, true, 400, l, open), 1);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 1);
	assert_int_equal(f->new_connections, 0);

	/* A socket already tracked is counted as usual when marked. */
	struct sock_record ev = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				    "10.0.0.2", 40002, 8, 10);
	assert_int_equal(INGEST(t, false, 500, ev), 1);
	ev.flags |= SOCK_REC_F_COUNTED;
	assert_int_equal(INGEST(t, true, 600, l, open, ev), 2);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 2);
	assert_int_equal(f->new_connections, 1);
	flow_table_free(t);
}

/*
 * The cookie tests: one accepted socket of nginx's :80 (inode 5000) as the
 * steps of a case report it, each step a poll (with the listener) or an
 * event; where a step says so, the passive flow's counts after it.
 */
struct cookie_step {
	bool reset;    /* flow_table_reset_interval() first */
	bool poll;     /* a snapshot with the listener, else an event */
	int64_t now;
	uint64_t cookie; /* 0: not made yet */
	bool orphan;   /* its process closed it: no inode any more */
	bool counted;  /* SOCK_REC_F_COUNTED: the source counted it */
	bool check;
	uint64_t conns, new_conns;
};

struct cookie_case {
	const char *what;
	size_t max_conns; /* of the connection tracker (0: default) */
	struct cookie_step steps[8];
	bool check_untracked; /* at the end, no connection went untracked */
};

static void cookie_case_run(const struct cookie_case *c)
{
	struct flow_table *t = flow_table_new(0, c->max_conns);
	assert_non_null(t);
	struct sock_record l = listener(NS_A, 80, 10);
	for (const struct cookie_step *s = c->steps; s->now; s++) {
		struct sock_record r = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
					   "10.0.0.2", 40001, 0, 10);
		r.inode = s->orphan ? 0 : 5000;
		r.cookie = s->cookie;
		if (s->counted)
			r.flags |= SOCK_REC_F_COUNTED;
		if (s->reset)
			flow_table_reset_interval(t);
		if (s->poll)
			assert_int_equal(INGEST(t, true, s->now, l, r), 1);
		else
			assert_int_equal(INGEST(t, false, s->now, r), 1);
		if (!s->check)
			continue;
		const struct flow *f =
			find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
		if (f->connections != s->conns ||
		    f->new_connections != s->new_conns)
			fail_msg("%s, at %" PRId64 ": %" PRIu64 " connections "
				 "(%" PRIu64 " new), expected %" PRIu64
				 " (%" PRIu64 ")",
				 c->what, s->now, f->connections,
				 f->new_connections, s->conns, s->new_conns);
	}
	if (c->check_untracked) {
		struct flow_table_stats st;
		flow_table_get_stats(t, &st);
		assert_int_equal(st.untracked_conns, 0);
	}
	flow_table_free(t);
}

/*
 * One socket, one connection, whichever path reported it. The kernel
 * makes a socket's cookie on first request: the polling fd walk reads the
 * field and sees 0 until something asks (sock_diag, `ss`, a per-netns
 * iterator), so a socket held from before the agent comes first with its
 * inode only, later with cookie and inode, and once its process closed it
 * (orphaned, no inode any more) with its cookie only.
 */
static void test_cookie_made_later(void **state)
{
	(void)state;
	static const struct cookie_case cases[] = {
		{ "interval 1: the seed poll without a cookie, a poll with "
		  "one; interval 2: with its cookie (poll), then its cookie "
		  "only",
		  0,
		  { { .poll = true, .now = 100 },
		    { .poll = true, .now = 200, .cookie = 77, .check = true,
		      .conns = 1, .new_conns = 1 },
		    { .reset = true, .poll = true, .now = 300, .cookie = 77 },
		    { .poll = true, .now = 400, .cookie = 77, .orphan = true,
		      .check = true, .conns = 1, .new_conns = 0 } },
		  false },
		{ "the cookie first appearing in a later interval; then "
		  "events carry the cookie only: an event of it now is the "
		  "same connection",
		  0,
		  { { .poll = true, .now = 100 },
		    { .reset = true, .poll = true, .now = 200 },
		    { .reset = true, .poll = true, .now = 300, .cookie = 77,
		      .check = true, .conns = 1, .new_conns = 0 },
		    { .now = 350, .cookie = 77, .orphan = true, .check = true,
		      .conns = 1, .new_conns = 0 } },
		  false },
		{ "a full tracker still moves the entry to its cookie",
		  1,
		  { { .poll = true, .now = 100 },
		    { .reset = true, .poll = true, .now = 200, .cookie = 77 },
		    { .now = 300, .cookie = 77, .orphan = true, .check = true,
		      .conns = 1, .new_conns = 0 } },
		  true },
	};
	for (size_t i = 0; i < ARRAY_N(cases); i++)
		cookie_case_run(&cases[i]);
}

/*
 * The same with a streaming source counting new connections in aggregates:
 * its seed poll counts the held socket (no flag), its later polls flag
 * every socket no event named (SOCK_REC_F_COUNTED). Once the cookie is
 * made, the socket is still the one the seed counted: in each interval,
 * never new again.
 */
static void test_cookie_made_later_counted(void **state)
{
	(void)state;
	static const struct cookie_case c = {
		"counted by the source",
		0,
		{ { .poll = true, .now = 100 },
		  { .poll = true, .now = 200, .counted = true, .check = true,
		    .conns = 1, .new_conns = 1 },
		  { .reset = true, .poll = true, .now = 300, .cookie = 77,
		    .counted = true, .check = true, .conns = 1,
		    .new_conns = 0 },
		  { .reset = true, .poll = true, .now = 301, .cookie = 77,
		    .counted = true, .check = true, .conns = 1,
		    .new_conns = 0 } },
		false,
	};
	cookie_case_run(&c);
}

static void test_snapshot_prunes(void **state)
{
	(void)state;
	struct sock_record l = listener(NS_A, 80, 10);
	struct sock_record a = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				   "10.0.0.2", 40001, 1, 10);
	struct sock_record other = tcp(NS_A, T_ESTABLISHED, "10.0.0.1", 80,
				       "10.0.0.2", 40009, 9, 10);

	/* Snapshots: a connection absent from two full scans in a row is
	 * closed and forgotten; the same identity seen later is a new
	 * connection. Absent from one only (a dump that skipped it while
	 * the kernel's table changed), it is still the same connection. */
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	const struct sock_record s1[] = { l, a };
	const struct sock_record s2[] = { l, other };
	assert_int_equal(ingest(t, s1, 2, true, 1), 1);
	assert_int_equal(ingest(t, s2, 2, true, 2), 1);
	assert_int_equal(ingest(t, s1, 2, true, 3), 1);
	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 2);
	assert_int_equal(f->new_connections, 2);
	assert_int_equal(ingest(t, s2, 2, true, 4), 1);
	assert_int_equal(ingest(t, s2, 2, true, 5), 1);
	assert_int_equal(ingest(t, s1, 2, true, 6), 1);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 3);
	assert_int_equal(f->new_connections, 3);
	flow_table_free(t);

	/* The CI case: an active connection seen established with its
	 * owner, skipped by one scan, then closing after its process
	 * exited (no owner): still counted once. */
	t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record c = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40100,
				   "10.0.0.1", 80, 7, 20);
	struct sock_record c_gone = c;
	c_gone.state = 5; /* TCP_FIN_WAIT2 */
	c_gone.pid = 0;
	c_gone.inode = 0;
	assert_int_equal(ingest(t, &c, 1, true, 1), 1);
	assert_int_equal(ingest(t, &other, 1, true, 2), 1);
	(void)ingest(t, &c_gone, 1, true, 3);
	uint64_t total_new = 0;
	const struct flow *fl = flow_table_flows(t);
	for (size_t i = 0; i < flow_table_count(t); i++)
		total_new += fl[i].new_connections;
	assert_int_equal(total_new, 2); /* c and other, once each */
	flow_table_free(t);

	/* Events (not snapshots) add to what is known: nothing is
	 * forgotten, listeners included. */
	t = flow_table_new(0, 0);
	assert_non_null(t);
	assert_int_equal(ingest(t, s1, 2, false, 1), 1);
	assert_int_equal(ingest(t, &other, 1, false, 2), 1);
	assert_int_equal(ingest(t, &a, 1, false, 3), 1);
	f = find(t, SOCK_DIR_PASSIVE, NS_A, 80, 0, "nginx");
	assert_int_equal(f->connections, 2);
	flow_table_free(t);

	/* Listeners are rebuilt from each snapshot: once :80 is no longer
	 * listened on, a socket with local port 80 is active. */
	t = flow_table_new(0, 0);
	assert_non_null(t);
	assert_int_equal(ingest(t, s1, 2, true, 1), 1);
	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_int_equal(st.listeners, 1);
	flow_table_reset_interval(t);
	assert_int_equal(ingest(t, &a, 1, true, 2), 1);
	flow_table_get_stats(t, &st);
	assert_int_equal(st.listeners, 0);
	find(t, SOCK_DIR_ACTIVE, NS_A, 0, 40001, "nginx");
	flow_table_free(t);
}

static void test_udp(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	const struct sock_record recs[] = {
		/* An unconnected bound UDP socket serves its port. */
		mk(IPPROTO_UDP, NS_A, T_CLOSE, "0.0.0.0", 53, "0.0.0.0", 0, 0,
		   10),
		/* A connected socket on that port: passive. */
		mk(IPPROTO_UDP, NS_A, T_ESTABLISHED, "10.0.0.1", 53,
		   "10.0.0.2", 5353, 1, 10),
		/* A client: active to :53. */
		mk(IPPROTO_UDP, NS_A, T_ESTABLISHED, "10.0.0.2", 33333,
		   "10.0.0.1", 53, 2, 20),
		/* Neither a port nor a peer: ignored. */
		mk(IPPROTO_UDP, NS_A, T_CLOSE, "0.0.0.0", 0, "0.0.0.0", 0, 3,
		   20),
		/* Peer port but "any" peer address: ignored. */
		mk(IPPROTO_UDP, NS_A, T_ESTABLISHED, "10.0.0.2", 33334,
		   "0.0.0.0", 53, 4, 20),
		/* An IPv6 client (DNS over QUIC port). */
		mk(IPPROTO_UDP, NS_A, T_ESTABLISHED, "fd00::2", 33335,
		   "fd00::1", 853, 5, 20),
	};
	assert_int_equal(ingest(t, recs, sizeof(recs) / sizeof(recs[0]), true,
				1),
			 3);
	assert_int_equal(flow_table_count(t), 3);
	const struct flow *f = find(t, SOCK_DIR_PASSIVE, NS_A, 53, 0, "nginx");
	assert_int_equal(f->key.proto, IPPROTO_UDP);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 53, "curl");
	assert_int_equal(f->key.family, AF_INET);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 853, "curl");
	assert_int_equal(f->key.family, AF_INET6);
	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_int_equal(st.listeners, 1);

	/* TCP sockets that are neither listening nor connected count as
	 * nothing. */
	const struct sock_record tcp_odd[] = {
		tcp(NS_A, T_CLOSE, "10.0.0.1", 7000, "0.0.0.0", 0, 8, 20),
	};
	assert_int_equal(ingest(t, tcp_odd, 1, true, 2), 0);
	flow_table_free(t);
}

static void test_max_flows(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(2, 0);
	assert_non_null(t);
	const struct sock_record recs[] = {
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40001, "10.0.0.1", 80, 1,
		    20),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40002, "10.0.0.1", 81, 2,
		    20),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40003, "10.0.0.1", 82, 3,
		    20),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40004, "10.0.0.1", 83, 4,
		    20),
		/* An existing flow still aggregates when full. */
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40005, "10.0.0.1", 80, 5,
		    20),
	};
	assert_int_equal(ingest(t, recs, 5, true, 1), 3);
	assert_int_equal(flow_table_count(t), 2);
	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_int_equal(st.dropped_flows, 2);
	assert_int_equal(find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl")
				 ->connections,
			 2);

	/* After the interval ends there is room again. */
	flow_table_reset_interval(t);
	assert_int_equal(ingest(t, &recs[3], 1, true, 2), 1);
	assert_int_equal(flow_table_count(t), 1);
	flow_table_free(t);

	/* Many flows: the index grows past its first size. */
	t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record *many = calloc(5000, sizeof(*many));
	assert_non_null(many);
	for (size_t i = 0; i < 5000; i++)
		many[i] = tcp(NS_A, T_ESTABLISHED, "10.0.0.2",
			      (uint16_t)(10000 + i), "10.0.0.1",
			      (uint16_t)(1 + i), 1 + i, 20);
	assert_int_equal(ingest(t, many, 5000, true, 1), 5000);
	assert_int_equal(flow_table_count(t), 5000);
	assert_int_equal(ingest(t, many, 5000, true, 2), 5000);
	assert_int_equal(flow_table_count(t), 5000);
	for (size_t i = 0; i < 5000; i += 499)
		assert_int_equal(find(t, SOCK_DIR_ACTIVE, NS_A, 0,
				      (uint16_t)(1 + i), "curl")
					 ->connections,
				 1);
	free(many);
	flow_table_free(t);
}

static void test_max_conns(void **state)
{
	(void)state;
	/* Connection tracker of 2: the third connection is counted without
	 * dedup, once per scan that sees it. */
	struct flow_table *t = flow_table_new(0, 2);
	assert_non_null(t);
	const struct sock_record recs[] = {
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40001, "10.0.0.1", 80, 1,
		    20),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40002, "10.0.0.1", 80, 2,
		    20),
		tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40003, "10.0.0.1", 80, 3,
		    20),
	};
	assert_int_equal(ingest(t, recs, 3, false, 1), 3);
	assert_int_equal(ingest(t, recs, 3, false, 2), 3);
	struct flow_table_stats st;
	flow_table_get_stats(t, &st);
	assert_int_equal(st.untracked_conns, 2);
	assert_int_equal(
		find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl")->connections, 4);
	flow_table_free(t);
}

static void test_enrich_identity(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	strcpy(pod_cgroup, "/kubepods/podu-1/c0ffee");
	const struct sock_record recs[] = {
		listener(NS_A, 8080, 30),
		tcp(NS_A, T_ESTABLISHED, "10.244.1.5", 8080, "10.244.1.9",
		    50000, 1, 30),
		/* Unknown process (enrich says -ESRCH): empty identity. */
		tcp(NS_A, T_ESTABLISHED, "10.244.1.5", 50001, "10.244.1.7",
		    5432, 2, 999),
		/* Different processes (comm/pgid) make different flows even
		 * with identical endpoints. */
		tcp(NS_A, T_ESTABLISHED, "10.244.1.5", 50002, "10.244.1.7",
		    5432, 3, 20),
	};
	assert_int_equal(ingest(t, recs, 4, true, 1), 3);
	assert_int_equal(flow_table_count(t), 3);

	/* The borrowed strings were copied. */
	strcpy(pod_cgroup, "overwritten");

	const struct flow *f =
		find(t, SOCK_DIR_PASSIVE, NS_A, 8080, 0, "app");
	assert_int_equal(f->pid, 30);
	assert_int_equal(f->key.pgid, 30);
	assert_string_equal(f->cmdline, "app --serve");
	assert_string_equal(f->cgroup, "/kubepods/podu-1/c0ffee");
	assert_string_equal(f->container_id, "c0ffee");
	assert_string_equal(f->container_name, "app");
	assert_string_equal(f->pod_namespace, "default");
	assert_string_equal(f->pod_name, "app-1");
	assert_string_equal(f->pod_uid, "u-1");
	assert_string_equal(f->node, "n1");

	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 5432, "");
	assert_int_equal(f->pid, 0);
	assert_int_equal(f->key.pgid, 0);
	assert_null(f->cmdline);
	assert_null(f->cgroup);
	assert_null(f->pod_name);
	f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 5432, "curl");
	assert_int_equal(f->pid, 20);
	assert_string_equal(f->cgroup, "/user.slice");
	assert_null(f->container_id);
	flow_table_free(t);

	/* Without an enrich callback, flows carry no identity. */
	t = flow_table_new(0, 0);
	assert_non_null(t);
	assert_int_equal(flow_table_ingest(t, recs, 4, true, 1, NULL, NULL), 3);
	assert_int_equal(flow_table_count(t), 2);
	flow_table_free(t);
}

/* Streaming sources take the owner in process context. */
static void test_owner_known(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record r = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40001,
				   "10.0.0.1", 80, 1, 4242);
	r.flags = SOCK_REC_F_OWNER_KNOWN;
	/* 16 bytes, no NUL: must not leak into the key. */
	memcpy(r.comm, "0123456789abcdefXYZ", sizeof(r.comm));
	assert_int_equal(flow_table_ingest(t, &r, 1, false, 1, NULL, NULL), 1);
	const struct flow *f =
		find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "0123456789abcde");
	assert_int_equal(f->pid, 4242);
	flow_table_free(t);
}

/* ---- translation (the conntrack stage's contract) ------------------------ */

/* A DNAT table: client port -> backend; a SNAT: backend peer -> client. */
static int translate_calls;
static bool fake_translate(const struct sock_record *r, uint8_t dir,
			   struct flow_nat *ret, void *ud)
{
	(void)ud;
	translate_calls++;
	if (dir == SOCK_DIR_ACTIVE && r->rport == 80) {
		/* Even client ports went to .21, odd ones to .22. */
		ret->peer_set = true;
		assert_int_equal(inet_pton(AF_INET, r->lport % 2 ? "198.18.61.22"
							       : "198.18.61.21",
					   ret->peer), 1);
		ret->peer_port = 8080;
		memcpy(ret->svc_addr, r->raddr, 16);
		ret->svc_port = r->rport;
		return true;
	}
	if (dir == SOCK_DIR_PASSIVE && r->lport == 8080) {
		assert_int_equal(inet_pton(AF_INET, "198.18.61.50",
					   ret->nat_addr), 1);
		ret->nat_port = 41000; /* ephemeral: "many" in the key */
		return true;
	}
	return false;
}

static void test_translate(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	flow_table_set_translate(t, fake_translate, NULL);
	struct sock_record recs[] = {
		/* Three connections to a ClusterIP, one without owner. */
		tcp(NS_A, T_ESTABLISHED, "198.18.61.10", 40000,
		    "198.18.161.10", 80, 1, 7),
		tcp(NS_A, T_ESTABLISHED, "198.18.61.10", 40001,
		    "198.18.161.10", 80, 2, 7),
		tcp(NS_A, T_ESTABLISHED, "198.18.61.10", 40002,
		    "198.18.161.10", 80, 3, 0),
		/* Untouched: another port. */
		tcp(NS_A, T_ESTABLISHED, "198.18.61.10", 40003,
		    "198.18.61.21", 8080, 4, 7),
		/* The backend's side of a NodePort connection. */
		tcp(NS_B, T_LISTEN, "0.0.0.0", 8080, "0.0.0.0", 0, 5, 9),
		tcp(NS_B, T_ESTABLISHED, "198.18.61.22", 8080, "198.18.61.1",
		    50000, 6, 0),
	};
	struct sock_record copy[ARRAY_N(recs)];
	memcpy(copy, recs, sizeof(recs));
	translate_calls = 0;
	assert_int_equal(flow_table_ingest(t, recs, ARRAY_N(recs), true, 1,
					   NULL, NULL),
			 5);
	/* Every connection record went through it, owned or not; the
	 * source's records are unchanged. */
	assert_int_equal(translate_calls, 5);
	assert_memory_equal(copy, recs, sizeof(recs));

	uint8_t b1[16] = { 0 }, b2[16] = { 0 }, svc[16] = { 0 }, ext[16] = { 0 };
	inet_pton(AF_INET, "198.18.61.21", b1);
	inet_pton(AF_INET, "198.18.61.22", b2);
	inet_pton(AF_INET, "198.18.161.10", svc);
	inet_pton(AF_INET, "198.18.61.50", ext);
	size_t n = flow_table_count(t);
	const struct flow *fl = flow_table_flows(t);
	unsigned to_b1_svc = 0, to_b2_svc = 0, direct = 0, nat = 0;
	for (size_t i = 0; i < n; i++) {
		const struct flow_key *k = &fl[i].key;
		if (k->dir == SOCK_DIR_ACTIVE && k->svc_port == 80) {
			assert_memory_equal(k->svc_addr, svc, 16);
			assert_int_equal(k->rport, 8080);
			if (!memcmp(k->raddr, b1, 16))
				to_b1_svc += fl[i].connections;
			else if (!memcmp(k->raddr, b2, 16))
				to_b2_svc += fl[i].connections;
			else
				fail();
		} else if (k->dir == SOCK_DIR_ACTIVE) {
			assert_int_equal(k->svc_port, 0);
			assert_memory_equal(k->raddr, b1, 16);
			direct += fl[i].connections;
		} else {
			assert_memory_equal(k->nat_addr, ext, 16);
			assert_int_equal(k->nat_port, 0);
			assert_int_equal(k->rport, 0);
			nat += fl[i].connections;
		}
	}
	/* Two backends of one Service are two flows; the direct one stays. */
	assert_int_equal(to_b1_svc, 2);
	assert_int_equal(to_b2_svc, 1);
	assert_int_equal(direct, 1);
	assert_int_equal(nat, 1);
	flow_table_free(t);
}

static void test_loopback(void **state)
{
	(void)state;
	static const struct {
		const char *l, *r;
		bool lo;
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1", true },
		{ "10.0.0.1", "127.0.0.53", true },
		{ "127.1.2.3", "10.0.0.1", true },
		{ "10.0.0.1", "10.0.0.2", false },
		{ "::1", "::1", true },
		{ "fd00::1", "fd00::2", false },
		{ "fd00::1", "::2", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct flow f;
		memset(&f, 0, sizeof(f));
		f.key.family = strchr(cases[i].l, ':') ? AF_INET6 : AF_INET;
		inet_pton(f.key.family, cases[i].l, f.key.laddr);
		inet_pton(f.key.family, cases[i].r, f.key.raddr);
		assert_int_equal(flow_is_loopback(&f), cases[i].lo);
	}
}

static void fill_flow(struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->key.dir = SOCK_DIR_PASSIVE;
	f->key.lport = 80;
	strcpy(f->key.comm, "nginx");
	f->pid = 10;
	f->connections = 3;
	f->cmdline = strdup("nginx -g");
	f->cgroup = strdup("/system.slice/nginx.service");
	f->container_id = strdup("c0ffee");
	f->container_name = strdup("web");
	f->pod_namespace = strdup("default");
	f->pod_name = strdup("web-1");
	f->pod_uid = strdup("u-1");
	f->node = strdup("n1");
	assert_non_null(f->node);
	uint64_t ids[] = { 42, 43, 44, 45 };
	assert_int_equal(flow_add_conn_ids(f, ids, 2), 0);
}

static void test_copy_clear(void **state)
{
	(void)state;
	struct flow src, dst;
	fill_flow(&src);

	assert_int_equal(flow_copy(&dst, &src), 0);
	assert_memory_equal(&dst.key, &src.key, sizeof(src.key));
	assert_int_equal(dst.pid, 10);
	assert_int_equal(dst.connections, 3);
	assert_ptr_not_equal(dst.cmdline, src.cmdline);
	assert_string_equal(dst.cmdline, "nginx -g");
	assert_ptr_not_equal(dst.node, src.node);
	assert_string_equal(dst.node, "n1");
	assert_string_equal(dst.pod_name, "web-1");
	assert_int_equal(dst.n_conn_ids, 2);
	assert_ptr_not_equal(dst.conn_ids, src.conn_ids);
	assert_true(dst.conn_ids[1] == 43 && dst.conn_ids[3] == 45);

	/* Deep: clearing the copy leaves the source intact. */
	flow_clear(&dst);
	assert_null(dst.cmdline);
	assert_null(dst.cgroup);
	assert_null(dst.container_id);
	assert_null(dst.container_name);
	assert_null(dst.pod_namespace);
	assert_null(dst.pod_name);
	assert_null(dst.pod_uid);
	assert_null(dst.node);
	assert_string_equal(src.pod_uid, "u-1");
	flow_clear(&dst); /* twice is fine */

	/* NULL strings stay NULL. */
	struct flow bare;
	memset(&bare, 0, sizeof(bare));
	assert_int_equal(flow_copy(&dst, &bare), 0);
	assert_null(dst.cgroup);
	flow_clear(&dst);
	flow_clear(&src);
}

/* When a strdup fails midway, dst holds nothing, and src keeps all its
 * strings (none of dst's still aliases them when it is cleared). */
static void test_copy_oom(void **state)
{
	(void)state;
	for (int fail_at = 1; fail_at <= 8; fail_at++) {
		struct flow src, dst;
		fill_flow(&src);
		strdup_fail_in = fail_at;
		assert_int_equal(flow_copy(&dst, &src), -ENOMEM);
		strdup_fail_in = 0;
		assert_null(dst.cmdline);
		assert_null(dst.cgroup);
		assert_null(dst.container_id);
		assert_null(dst.container_name);
		assert_null(dst.pod_namespace);
		assert_null(dst.pod_name);
		assert_null(dst.pod_uid);
		assert_null(dst.node);
		assert_string_equal(src.cmdline, "nginx -g");
		assert_string_equal(src.node, "n1");
		assert_string_equal(src.pod_uid, "u-1");
		flow_clear(&src);
	}
}

/* A socket with both cookie and inode: the table keys it by the cookie,
 * the CMDB by the inode (which every polling path reads; the cookie may
 * be missing in another process's view). */
static void test_conn_identity_prefers_inode(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	assert_non_null(t);
	struct sock_record c = tcp(NS_A, T_ESTABLISHED, "10.0.0.2", 40001,
				   "10.0.0.1", 80, 9, 20);
	c.inode = 999;
	assert_int_equal(ingest(t, &c, 1, true, 1), 1);
	const struct flow *f = find(t, SOCK_DIR_ACTIVE, NS_A, 0, 80, "curl");
	assert_int_equal(f->n_conn_ids, 1);
	assert_true(f->conn_ids[0] == 9);
	assert_true(f->conn_ids[1] == (999 | (1ULL << 63)));
	flow_table_forget_closed_ids(t);
	assert_int_equal(f->n_conn_ids, 1);
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direction),
		cmocka_unit_test(test_direction_from_source),
		cmocka_unit_test(test_passive_owner),
		cmocka_unit_test(test_many_ports),
		cmocka_unit_test(test_distinct_connections),
		cmocka_unit_test(test_intervals),
		cmocka_unit_test(test_closing_states),
		cmocka_unit_test(test_aggregate_records),
		cmocka_unit_test(test_snapshot_prunes),
		cmocka_unit_test(test_cookie_made_later),
		cmocka_unit_test(test_cookie_made_later_counted),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_max_flows),
		cmocka_unit_test(test_max_conns),
		cmocka_unit_test(test_enrich_identity),
		cmocka_unit_test(test_owner_known),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_copy_clear),
		cmocka_unit_test(test_copy_oom),
		cmocka_unit_test(test_conn_identity_prefers_inode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
