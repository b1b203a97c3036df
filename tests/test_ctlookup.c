// SPDX-License-Identifier: MIT
/*
 * The pure parts of the conntrack lookup: the program's slots
 * (probe/ebpf_ctlookup.h: a tuple in, an entry out, as
 * bpf/ct_lookup.bpf.c writes it), the NAT classification of a looked-up
 * entry (conntrack/ct.h), and the conntrack stage's tuples of a scan
 * (agent/stage_conntrack_int.h ct_queries_*).
 */
#include "agent/stage_conntrack_int.h"
#include "conntrack/ct.h"
#include "probe/ebpf_ctlookup.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include <linux/types.h>

#include "ct_lookup.h"

static void a4(uint8_t out[16], const char *s)
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, out), 1);
}

static void a6(uint8_t out[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, out), 1);
}

/* ---- slots ---------------------------------------------------------- */

static void test_slot_set_v4(void **state)
{
	(void)state;
	struct ct_query q = { .family = AF_INET, .proto = IPPROTO_TCP,
			      .sport = 40000, .dport = 80 };
	a4(q.src, "198.18.71.10");
	a4(q.dst, "198.18.171.10");
	struct ctl_slot s;
	memset(&s, 0xab, sizeof(s));
	ebpf_ctlookup_slot_set(&s, &q);
	assert_int_equal(s.family, 4);
	assert_int_equal(s.proto, IPPROTO_TCP);
	assert_int_equal(s.sport, htons(40000));
	assert_int_equal(s.dport, htons(80));
	assert_memory_equal(s.src, q.src, 16);
	assert_memory_equal(s.dst, q.dst, 16);
	/* The output half is zero: a slot the program skipped is a miss. */
	assert_int_equal(s.found, CTL_MISS);
	assert_int_equal(s.status, 0);
	struct ct_entry e;
	int err = 1;
	assert_false(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(err, 0);
}

static void test_slot_set_v6(void **state)
{
	(void)state;
	struct ct_query q = { .family = AF_INET6, .proto = IPPROTO_UDP,
			      .sport = 53000, .dport = 53 };
	a6(q.src, "2001:db8:71::10");
	a6(q.dst, "2001:db8:71:ffff::10");
	struct ctl_slot s;
	ebpf_ctlookup_slot_set(&s, &q);
	assert_int_equal(s.family, 6);
	assert_int_equal(s.proto, IPPROTO_UDP);
	assert_memory_equal(s.dst, q.dst, 16);
	assert_int_equal(ntohs(s.sport), 53000);
}

/* What the program writes for an entry client -> svc, replied by be to
 * rdst (network byte order), found in direction found. */
static void slot_found(struct ctl_slot *s, uint8_t family, uint8_t found,
		       uint32_t status, const char *client, uint16_t cport,
		       const char *svc, uint16_t sport, const char *be,
		       uint16_t bport, const char *rdst, uint16_t rdport)
{
	void (*a)(uint8_t *, const char *) = family == 6 ? a6 : a4;
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->proto = IPPROTO_TCP;
	s->found = found;
	s->status = status;
	a(s->osrc, client);
	a(s->odst, svc);
	a(s->rsrc, be);
	a(s->rdst, rdst);
	s->osport = htons(cport);
	s->odport = htons(sport);
	s->rsport = htons(bport);
	s->rdport = htons(rdport);
}

static void test_slot_get_dnat(void **state)
{
	(void)state;
	struct ctl_slot s;
	slot_found(&s, 4, CTL_ORIGINAL, IPS_DST_NAT | IPS_CONFIRMED,
		   "198.18.71.10", 40000, "198.18.171.10", 80,
		   "198.18.71.21", 8080, "198.18.71.10", 40000);
	/* The program copies 16 bytes of an IPv4 address: whatever follows
	 * the 4 bytes must not reach the entry. */
	s.osrc[4] = 0x55;
	struct ct_entry e;
	int err = 1;
	assert_true(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(err, 0);
	uint8_t want[16];
	assert_int_equal(e.family, AF_INET);
	assert_int_equal(e.proto, IPPROTO_TCP);
	assert_int_equal(e.nat, CT_NAT_DST);
	a4(want, "198.18.71.10");
	assert_memory_equal(e.osrc, want, 16);
	a4(want, "198.18.71.21");
	assert_memory_equal(e.rsrc, want, 16);
	assert_int_equal(e.osport, 40000);
	assert_int_equal(e.odport, 80);
	assert_int_equal(e.rsport, 8080);
	assert_int_equal(e.rdport, 40000);
	assert_int_equal(e.netns, 0);
	assert_int_equal(e.dead_gen, 0);
}

static void test_slot_get_snat_reply(void **state)
{
	(void)state;
	/* NodePort + masquerade, found by the backend's tuple (reply). */
	struct ctl_slot s;
	slot_found(&s, 4, CTL_REPLY, IPS_DST_NAT | IPS_SRC_NAT,
		   "198.18.71.50", 41000, "198.18.71.1", 30080,
		   "198.18.71.22", 8080, "198.18.71.1", 61000);
	struct ct_entry e;
	int err;
	assert_true(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(e.nat, CT_NAT_DST | CT_NAT_SRC);
	assert_int_equal(e.rdport, 61000);
}

static void test_slot_get_v6_plain_and_ipvs(void **state)
{
	(void)state;
	struct ctl_slot s;
	struct ct_entry e;
	int err;
	/* No NAT: found, nat 0 (the stage keeps it out). */
	slot_found(&s, 6, CTL_ORIGINAL, IPS_CONFIRMED, "2001:db8:71::10",
		   40000, "2001:db8:71::21", 8080, "2001:db8:71::21", 8080,
		   "2001:db8:71::10", 40000);
	assert_true(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(e.family, AF_INET6);
	assert_int_equal(e.nat, 0);
	/* IPVS: the reply from elsewhere, no status bit: a DNAT. */
	slot_found(&s, 6, CTL_ORIGINAL, IPS_CONFIRMED, "2001:db8:71::10",
		   40000, "2001:db8:71:ffff::40", 80, "2001:db8:71::22", 8080,
		   "2001:db8:71::10", 40000);
	assert_true(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(e.nat, CT_NAT_DST);
}

static void test_slot_get_error(void **state)
{
	(void)state;
	struct ctl_slot s;
	memset(&s, 0, sizeof(s));
	s.found = CTL_ERROR;
	s.err = -EINVAL;
	struct ct_entry e;
	int err = 0;
	assert_false(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_int_equal(err, -EINVAL);
	s.err = 0; /* an error without a code is still one */
	assert_false(ebpf_ctlookup_slot_get(&s, &e, &err));
	assert_true(err < 0);
}

static void test_classify(void **state)
{
	(void)state;
	struct ct_entry e = { .family = AF_INET, .proto = IPPROTO_TCP,
			      .osport = 1, .odport = 80, .rsport = 80,
			      .rdport = 1 };
	a4(e.odst, "198.18.71.1");
	a4(e.rsrc, "198.18.71.1");
	assert_false(ct_entry_classify(&e, IPS_CONFIRMED));
	assert_true(ct_entry_classify(&e, IPS_SRC_NAT));
	assert_int_equal(e.nat, CT_NAT_SRC);
	e.rsport = 8080; /* port moved, no bit: DNAT (IPVS) */
	assert_true(ct_entry_classify(&e, 0));
	assert_int_equal(e.nat, CT_NAT_DST);
	e.proto = IPPROTO_SCTP;
	assert_false(ct_entry_classify(&e, IPS_DST_NAT));
}

/* ---- the scan's tuples ------------------------------------------------ */

static struct sock_record rec(uint64_t netns, uint8_t proto, uint8_t state,
			      uint8_t dir, const char *l, uint16_t lport,
			      const char *r, uint16_t rport)
{
	struct sock_record x = { .proto = proto, .state = state, .dir = dir,
				 .lport = lport, .rport = rport,
				 .netns = netns };
	if (strchr(l, ':')) {
		x.family = AF_INET6;
		a6(x.laddr, l);
		a6(x.raddr, r);
	} else {
		x.family = AF_INET;
		a4(x.laddr, l);
		a4(x.raddr, r);
	}
	return x;
}

static void test_queries_build(void **state)
{
	(void)state;
	const uint8_t U = SOCK_DIR_UNKNOWN;
	struct sock_record r[] = {
		/* 0: listener of netns 1, port 8080 */
		rec(1, IPPROTO_TCP, TCP_LISTEN, U, "0.0.0.0", 8080, "0.0.0.0", 0),
		/* 1: accepted on it (passive), peer the node */
		rec(1, IPPROTO_TCP, TCP_ESTABLISHED, U, "198.18.71.22", 8080,
		    "198.18.71.1", 61000),
		/* 2: active (no listener on 40000) */
		rec(2, IPPROTO_TCP, TCP_ESTABLISHED, U, "198.18.71.10", 40000,
		    "198.18.171.10", 80),
		/* 3: same port as the listener, other netns: active */
		rec(2, IPPROTO_TCP, TCP_ESTABLISHED, U, "198.18.71.10", 8080,
		    "198.18.171.10", 80),
		/* 4: passive from loopback: never NATed by a netns */
		rec(1, IPPROTO_TCP, TCP_ESTABLISHED, U, "127.0.0.1", 8080,
		    "127.0.0.1", 50000),
		/* 5: said active by its source, IPv6 */
		rec(3, IPPROTO_TCP, TCP_ESTABLISHED, SOCK_DIR_ACTIVE,
		    "2001:db8:71::10", 40001, "2001:db8:71:ffff::10", 80),
		/* 6: said passive by its source */
		rec(3, IPPROTO_TCP, TCP_ESTABLISHED, SOCK_DIR_PASSIVE,
		    "2001:db8:71::21", 9090, "2001:db8:71::1", 50001),
		/* 7: an unconnected UDP socket (a listener) */
		rec(4, IPPROTO_UDP, TCP_CLOSE, U, "0.0.0.0", 53, "0.0.0.0", 0),
		/* 8: a peer of any address */
		rec(2, IPPROTO_TCP, TCP_SYN_SENT, U, "198.18.71.10", 40002,
		    "0.0.0.0", 80),
		/* 9: connected UDP, active */
		rec(2, IPPROTO_UDP, TCP_ESTABLISHED, U, "198.18.71.10", 53000,
		    "198.18.171.53", 53),
	};
	r[8].rport = 80;
	struct ct_queries q = { 0 };
	assert_int_equal(ct_queries_build(&q, r, sizeof(r) / sizeof(r[0])), 0);
	assert_int_equal(q.nact, 4);
	assert_int_equal(q.n, 4);
	assert_int_equal(q.npas, 2);
	/* In record order: 2, 3, 5, 9. */
	assert_int_equal(q.q[0].sport, 40000);
	assert_int_equal(q.q[0].dport, 80);
	assert_memory_equal(q.q[0].src, r[2].laddr, 16);
	assert_memory_equal(q.q[0].dst, r[2].raddr, 16);
	assert_int_equal(q.q[0].family, AF_INET);
	assert_int_equal(q.q[0].proto, IPPROTO_TCP);
	assert_int_equal(q.q[1].sport, 8080);
	assert_int_equal(q.q[2].family, AF_INET6);
	assert_int_equal(q.q[3].proto, IPPROTO_UDP);
	assert_int_equal(ct_queries_rec(&q, 0), 2);
	assert_int_equal(ct_queries_rec(&q, 3), 9);
	assert_int_equal(q.pas[0], 1);
	assert_int_equal(q.pas[1], 6);

	/* A netns owning 198.18.71.1 (the NodePort's masquerade): record
	 * 1's tuple is looked up there, 6's (IPv6) is not. */
	uint8_t addrs[2][17] = { { AF_INET }, { AF_INET6 } };
	a4(addrs[0] + 1, "198.18.71.1");
	a6(addrs[1] + 1, "2001:db8:71::99");
	struct addrs_job a = { .addr = addrs, .n = 2 };
	assert_int_equal(ct_queries_select(&q, &a), 5);
	assert_int_equal(q.q[4].sport, 8080);
	assert_memory_equal(q.q[4].dst, r[1].raddr, 16);
	assert_int_equal(ct_queries_rec(&q, 4), 1);
	/* The IPv6 node address too: both passive ones. */
	a6(addrs[1] + 1, "2001:db8:71::1");
	assert_int_equal(ct_queries_select(&q, &a), 6);
	assert_int_equal(ct_queries_rec(&q, 5), 6);

	/* Resolved there: records 3 (active) and 1 (passive); the next
	 * netns looks up the others only. */
	ct_queries_resolve(&q, 1);
	ct_queries_resolve(&q, 4);
	ct_queries_resolve(&q, 99); /* out of the selection: nothing */
	assert_int_equal(ct_queries_compact(&q), 4);
	assert_int_equal(q.nact, 3);
	assert_int_equal(q.n, 3);
	assert_int_equal(q.npas, 1);
	assert_int_equal(ct_queries_rec(&q, 0), 2);
	assert_int_equal(ct_queries_rec(&q, 1), 5);
	assert_int_equal(ct_queries_rec(&q, 2), 9);
	assert_int_equal(q.q[1].sport, 40001);
	assert_int_equal(q.pas[0], 6);
	/* A netns without those addresses: the active ones only. */
	struct addrs_job none = { 0 };
	assert_int_equal(ct_queries_select(&q, &none), 3);

	/* Built again for another scan: emptied first, room kept. */
	assert_int_equal(ct_queries_build(&q, r, 3), 0);
	assert_int_equal(q.nact, 1);
	assert_int_equal(q.npas, 1);
	assert_int_equal(ct_queries_build(&q, r, 0), 0);
	assert_int_equal(q.nact + q.npas, 0);
	ct_queries_free(&q);
}

/* ---- translate() from the lookups' answers ------------------------------ */

static void test_translate_answers(void **state)
{
	(void)state;
	struct stage_conntrack *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->ct = ct_table_new(0);
	assert_non_null(c->ct);
	struct sock_record r[3] = {
		/* the client through the Service */
		rec(2, IPPROTO_TCP, TCP_ESTABLISHED, SOCK_DIR_ACTIVE,
		    "198.18.71.10", 40000, "198.18.171.10", 80),
		/* the NodePort's backend, its peer the node */
		rec(1, IPPROTO_TCP, TCP_ESTABLISHED, SOCK_DIR_PASSIVE,
		    "198.18.71.22", 8080, "198.18.71.1", 61000),
		/* nothing found */
		rec(2, IPPROTO_TCP, TCP_ESTABLISHED, SOCK_DIR_ACTIVE,
		    "198.18.71.10", 40001, "198.18.71.21", 8080),
	};
	struct ct_entry v[2];
	struct ctl_slot sl;
	int err;
	slot_found(&sl, 4, CTL_ORIGINAL, IPS_DST_NAT, "198.18.71.10", 40000,
		   "198.18.171.10", 80, "198.18.71.21", 8080, "198.18.71.10",
		   40000);
	assert_true(ebpf_ctlookup_slot_get(&sl, &v[0], &err));
	slot_found(&sl, 4, CTL_REPLY, IPS_DST_NAT | IPS_SRC_NAT,
		   "198.18.71.50", 41000, "198.18.71.1", 30080,
		   "198.18.71.22", 8080, "198.18.71.1", 61000);
	assert_true(ebpf_ctlookup_slot_get(&sl, &v[1], &err));
	uint32_t ans[3] = { 1, 2, 0 };
	c->lk_scan = true;
	c->lk_recs = r;
	c->lk_nrecs = 3;
	c->ans = ans;
	c->lk_v = v;
	c->lk_n = 2;

	struct flow_nat n = { 0 };
	uint8_t want[16];
	assert_true(ct_translate(&c->base, &r[0], SOCK_DIR_ACTIVE, &n));
	assert_true(n.peer_set);
	a4(want, "198.18.71.21");
	assert_memory_equal(n.peer, want, 16);
	assert_int_equal(n.peer_port, 8080);
	a4(want, "198.18.171.10");
	assert_memory_equal(n.svc_addr, want, 16);
	assert_int_equal(n.svc_port, 80);
	assert_false(c->lk_indexed); /* answered by place: no index */

	memset(&n, 0, sizeof(n));
	assert_true(ct_translate(&c->base, &r[1], SOCK_DIR_PASSIVE, &n));
	a4(want, "198.18.71.50");
	assert_memory_equal(n.nat_addr, want, 16);
	assert_int_equal(n.nat_port, 41000);
	/* Nothing found for it: no translation, by its place alone. */
	memset(&n, 0, sizeof(n));
	assert_false(ct_translate(&c->base, &r[2], SOCK_DIR_ACTIVE, &n));
	assert_false(c->lk_indexed);

	/* A record that is not the scan's (a copy): the table, filled from
	 * the answers once. */
	struct sock_record copy = r[0];
	memset(&n, 0, sizeof(n));
	assert_true(ct_translate(&c->base, &copy, SOCK_DIR_ACTIVE, &n));
	assert_true(c->lk_indexed);
	assert_int_equal(n.peer_port, 8080);
	assert_int_equal(ct_table_count(c->ct), 2);
	/* Another record at an answered place (the array reused): its own
	 * tuple decides, through the table. */
	r[0].lport = 40009;
	memset(&n, 0, sizeof(n));
	assert_false(ct_translate(&c->base, &r[0], SOCK_DIR_ACTIVE, &n));
	/* A netns dumped instead of looked up: "nothing found" is the
	 * table's to say (its entries came by the dump). */
	struct ct_entry d = v[0];
	d.osport = 40001;
	a4(d.odst, "198.18.71.21");
	d.odport = 8080;
	a4(d.rsrc, "198.18.71.31");
	assert_int_equal(ct_table_add(c->ct, &d), 0);
	memset(&n, 0, sizeof(n));
	assert_false(ct_translate(&c->base, &r[2], SOCK_DIR_ACTIVE, &n));
	c->lk_dumped = true;
	assert_true(ct_translate(&c->base, &r[2], SOCK_DIR_ACTIVE, &n));
	assert_int_equal(n.peer[3], 31);
	c->lk_dumped = false;
	/* plain_peer: vouches for nothing the lookups did not see. */
	c->gen = 1;
	assert_false(ct_plain_peer(&c->base, &r[2]));
	r[0].lport = 40000;
	assert_false(ct_plain_peer(&c->base, &r[0])); /* a DNAT: no */

	ct_table_free(c->ct);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_set_v4),
		cmocka_unit_test(test_slot_set_v6),
		cmocka_unit_test(test_slot_get_dnat),
		cmocka_unit_test(test_slot_get_snat_reply),
		cmocka_unit_test(test_slot_get_v6_plain_and_ipvs),
		cmocka_unit_test(test_slot_get_error),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_queries_build),
		cmocka_unit_test(test_translate_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
