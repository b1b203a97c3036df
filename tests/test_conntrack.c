// SPDX-License-Identifier: MIT
/*
 * The ctnetlink parser and NAT table (conntrack/ct.h) on dumps recorded on
 * a kernel 6.18 machine (tests/fixtures/conntrack/, recorded with
 * record.py in the topology of tests/integration/services_netns.sh: a
 * ClusterIP 198.18.161.10:80 with backends .21 and .22 on 8080, a UDP
 * Service on :53, a NodePort 198.18.61.1:30080 with masquerade, an IPv6
 * ClusterIP, and a direct connection without NAT), then on truncated and
 * hand-made hostile messages.
 */
#include "conntrack/ct.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_util.h"

#define ALIGN4(x) (((x) + 3u) & ~3u)

static void ip4(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	assert_int_equal(inet_pton(AF_INET, s, a), 1);
}

static void ip6(uint8_t a[16], const char *s)
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

/* Every entry message of a recorded dump, parsed one by one. */
static size_t parse_all(const char *buf, size_t len, struct ct_entry *out,
			size_t max, size_t *ret_skipped)
{
	size_t n = 0, off = 0;
	*ret_skipped = 0;
	while (off + sizeof(struct nlmsghdr) <= len) {
		const struct nlmsghdr *h = (const void *)(buf + off);
		assert_true(h->nlmsg_len >= sizeof(*h) &&
			    h->nlmsg_len <= len - off);
		if (h->nlmsg_type == NLMSG_DONE)
			break;
		int r = ct_parse_entry(buf + off + NLMSG_HDRLEN,
				       h->nlmsg_len - NLMSG_HDRLEN, &out[n]);
		assert_true(r >= 0);
		if (r == CT_PARSE_NAT && n < max)
			n++;
		else if (r == CT_PARSE_SKIP)
			(*ret_skipped)++;
		off += ALIGN4(h->nlmsg_len);
	}
	return n;
}

static const struct ct_entry *find_by_odst(const struct ct_entry *v, size_t n,
					   uint8_t proto, const uint8_t *dst,
					   uint16_t dport, size_t nth)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].proto == proto && v[i].odport == dport &&
		    !memcmp(v[i].odst, dst, 16) && nth-- == 0)
			return &v[i];
	return NULL;
}

static void test_node_dump(void **state)
{
	(void)state;
	size_t len, skipped;
	char *buf = fixture_read("conntrack/node-all.bin", &len);
	struct ct_entry v[16];
	uint8_t svc[16], b1[16], b2[16], node[16], ext[16], cli[16];
	ip4(svc, "198.18.161.10");
	ip4(b1, "198.18.61.21");
	ip4(b2, "198.18.61.22");
	ip4(node, "198.18.61.1");
	ip4(ext, "198.18.61.50");
	ip4(cli, "198.18.61.10");

	size_t n = parse_all(buf, len, v, 16, &skipped);
	assert_int_equal(n, 5);	      /* 2 TCP + 1 UDP Service, NodePort, v6 */
	assert_int_equal(skipped, 1); /* the direct connection */

	/* Two connections to one ClusterIP reached the two backends. */
	const struct ct_entry *e1 = find_by_odst(v, n, IPPROTO_TCP, svc, 80, 0);
	const struct ct_entry *e2 = find_by_odst(v, n, IPPROTO_TCP, svc, 80, 1);
	assert_non_null(e1);
	assert_non_null(e2);
	assert_int_equal(e1->nat, CT_NAT_DST);
	assert_int_equal(e1->family, AF_INET);
	assert_memory_equal(e1->osrc, cli, 16);
	assert_int_equal(e1->rsport, 8080);
	assert_int_equal(e1->rdport, e1->osport);
	assert_true(!memcmp(e1->rsrc, b1, 16) || !memcmp(e1->rsrc, b2, 16));
	assert_true(!memcmp(e2->rsrc, b1, 16) || !memcmp(e2->rsrc, b2, 16));
	assert_memory_not_equal(e1->rsrc, e2->rsrc, 16);

	const struct ct_entry *u = find_by_odst(v, n, IPPROTO_UDP, svc, 53, 0);
	assert_non_null(u);
	assert_memory_equal(u->rsrc, b1, 16);
	assert_int_equal(u->rsport, 5353);

	/* NodePort with masquerade: DNAT and SNAT, the reply goes to the
	 * node's address. */
	const struct ct_entry *np = find_by_odst(v, n, IPPROTO_TCP, node,
						 30080, 0);
	assert_non_null(np);
	assert_int_equal(np->nat, CT_NAT_DST | CT_NAT_SRC);
	assert_memory_equal(np->osrc, ext, 16);
	assert_memory_equal(np->rsrc, b2, 16);
	assert_memory_equal(np->rdst, node, 16);

	uint8_t svc6[16], b16[16];
	ip6(svc6, "2001:db8:61:ffff::10");
	ip6(b16, "2001:db8:61::21");
	const struct ct_entry *e6 = find_by_odst(v, n, IPPROTO_TCP, svc6, 80, 0);
	assert_non_null(e6);
	assert_int_equal(e6->family, AF_INET6);
	assert_memory_equal(e6->rsrc, b16, 16);

	/* The table: one feed of the whole recorded stream. */
	struct ct_table *t = ct_table_new(0);
	assert_non_null(t);
	assert_int_equal(ct_table_feed(t, buf, len), 1);
	assert_int_equal(ct_table_count(t), 5);
	struct ct_table_stats st;
	ct_table_get_stats(t, &st);
	assert_int_equal(st.messages, 6);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.malformed, 0);

	/* An active socket's (local, peer) is the original tuple. */
	const struct ct_entry *f = ct_table_find_orig(
		t, AF_INET, IPPROTO_TCP, e1->osrc, e1->osport, svc, 80);
	assert_non_null(f);
	assert_memory_equal(f->rsrc, e1->rsrc, 16);
	assert_null(ct_table_find_orig(t, AF_INET, IPPROTO_UDP, e1->osrc,
				       e1->osport, svc, 80));
	assert_null(ct_table_find_orig(t, AF_INET, IPPROTO_TCP, e1->osrc,
				       (uint16_t)(e1->osport + 1), svc, 80));
	assert_null(ct_table_find_orig(t, AF_INET6, IPPROTO_TCP, e1->osrc,
				       e1->osport, svc, 80));
	f = ct_table_find_orig(t, AF_INET6, IPPROTO_TCP, e6->osrc, e6->osport,
			       svc6, 80);
	assert_ptr_not_equal(f, NULL);
	assert_memory_equal(f->rsrc, b16, 16);

	/* A passive socket at the backend: (local, peer) is the reply
	 * tuple, found only for source-NATed entries. */
	f = ct_table_find_reply(t, AF_INET, IPPROTO_TCP, b2, 8080, node,
				np->rdport);
	assert_non_null(f);
	assert_memory_equal(f->osrc, ext, 16);
	assert_null(ct_table_find_reply(t, AF_INET, IPPROTO_TCP, e1->rsrc,
					8080, cli, e1->rdport));

	/* Fed again (a second netns, an event): kept once. */
	assert_int_equal(ct_table_feed(t, buf, len), 1);
	assert_int_equal(ct_table_count(t), 5);
	ct_table_clear(t);
	assert_int_equal(ct_table_count(t), 0);
	assert_null(ct_table_find_orig(t, AF_INET, IPPROTO_TCP, e1->osrc,
				       e1->osport, svc, 80));
	ct_table_free(t);
	free(buf);
}

/* 6.18 honours CTA_STATUS/CTA_STATUS_MASK: the filtered dumps hold exactly
 * the NAT entries; a netns without NAT has entries but none kept. */
static void test_filtered_dumps(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		size_t nat, skipped;
	} cases[] = {
		{ "conntrack/node-dnat.bin", 5, 0 },
		{ "conntrack/node-snat.bin", 0, 0 },
		{ "conntrack/pod-nonat-all.bin", 0, 3 },
		{ "conntrack/pod-nonat-dnat.bin", 0, 0 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t len;
		char *buf = fixture_read(cases[i].file, &len);
		struct ct_table *t = ct_table_new(0);
		struct ct_table_stats st;
		assert_int_equal(ct_table_feed(t, buf, len), 1);
		ct_table_get_stats(t, &st);
		assert_int_equal(st.nat, cases[i].nat);
		assert_int_equal(st.skipped, cases[i].skipped);
		ct_table_free(t);
		free(buf);
	}
}

static void test_cap(void **state)
{
	(void)state;
	size_t len;
	char *buf = fixture_read("conntrack/node-all.bin", &len);
	struct ct_table *t = ct_table_new(2);
	struct ct_table_stats st;
	assert_int_equal(ct_table_feed(t, buf, len), 1);
	ct_table_get_stats(t, &st);
	assert_int_equal(st.nat, 2);
	assert_int_equal(st.dropped, 3);
	ct_table_free(t);
	free(buf);
}

/* Every prefix of a recorded dump: never more than what is whole, never a
 * read past the end (ASan in `make SANITIZE=1 unit`). */
static void test_truncated(void **state)
{
	(void)state;
	size_t len;
	char *buf = fixture_read("conntrack/node-all.bin", &len);
	for (size_t cut = 0; cut < len; cut++) {
		/* An exact copy so ASan sees the end. */
		char *p = malloc(cut ? cut : 1);
		memcpy(p, buf, cut);
		struct ct_table *t = ct_table_new(0);
		int r = ct_table_feed(t, p, cut);
		assert_true(r == 0 || r == -EBADMSG);
		assert_true(ct_table_count(t) <= 5);
		ct_table_free(t);
		free(p);
	}
	/* Each message's payload cut short is malformed, never kept. */
	size_t off = 0;
	while (off < len) {
		const struct nlmsghdr *h = (const void *)(buf + off);
		if (h->nlmsg_type == NLMSG_DONE)
			break;
		size_t pl = h->nlmsg_len - NLMSG_HDRLEN;
		for (size_t cut = 0; cut < pl; cut++) {
			char *p = malloc(cut ? cut : 1);
			memcpy(p, buf + off + NLMSG_HDRLEN, cut);
			struct ct_entry e;
			int r = ct_parse_entry(p, cut, &e);
			/* A cut exactly between attributes may leave a
			 * complete entry without its tail attributes. */
			assert_true(r == -EBADMSG || r == CT_PARSE_SKIP ||
				    r == CT_PARSE_NAT);
			free(p);
		}
		off += ALIGN4(h->nlmsg_len);
	}
	free(buf);
}

/* Bit flips all over a recorded dump: whatever is kept is one of the
 * well-formed entries' shapes (a family, TCP or UDP, NAT flags). */
static void test_bit_flips(void **state)
{
	(void)state;
	size_t len;
	char *buf = fixture_read("conntrack/node-all.bin", &len);
	uint64_t seed = 15;
	for (int round = 0; round < 4000; round++) {
		char *p = malloc(len);
		memcpy(p, buf, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = hash_u64(seed + 1);
			p[seed % len] ^= (char)(1u << ((seed >> 32) % 8));
		}
		struct ct_table *t = ct_table_new(0);
		int r = ct_table_feed(t, p, len);
		assert_true(r <= 1);
		size_t n = ct_table_count(t);
		assert_true(n <= 6);
		ct_table_free(t);
		free(p);
	}
	free(buf);
}

/* ---- hand-made messages ------------------------------------------------ */

struct msg {
	uint8_t b[512];
	size_t len;
};

static size_t put(struct msg *m, uint16_t type, const void *data, size_t n)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + n),
			    .nla_type = type };
	size_t at = m->len;
	memcpy(m->b + m->len, &a, sizeof(a));
	if (n)
		memcpy(m->b + m->len + NLA_HDRLEN, data, n);
	m->len += ALIGN4(NLA_HDRLEN + n);
	return at;
}

static size_t nest(struct msg *m, uint16_t type)
{
	return put(m, type | NLA_F_NESTED, NULL, 0);
}

static void nest_end(struct msg *m, size_t at)
{
	struct nlattr *a = (void *)(m->b + at);
	a->nla_len = (uint16_t)(m->len - at);
}

static void tuple(struct msg *m, uint16_t type, const char *src,
		  const char *dst, uint8_t proto, uint16_t sport,
		  uint16_t dport, int v4_len)
{
	uint8_t s[16], d[16];
	size_t t = nest(m, type), ip = nest(m, CTA_TUPLE_IP);
	ip4(s, src);
	ip4(d, dst);
	put(m, CTA_IP_V4_SRC, s, (size_t)v4_len);
	put(m, CTA_IP_V4_DST, d, 4);
	nest_end(m, ip);
	size_t pr = nest(m, CTA_TUPLE_PROTO);
	put(m, CTA_PROTO_NUM, &proto, 1);
	uint16_t ps = htons(sport), pd = htons(dport);
	put(m, CTA_PROTO_SRC_PORT, &ps, 2);
	put(m, CTA_PROTO_DST_PORT, &pd, 2);
	nest_end(m, pr);
	nest_end(m, t);
}

static void msg_start(struct msg *m)
{
	memset(m, 0, sizeof(*m));
	struct nfgenmsg g = { .nfgen_family = AF_INET };
	memcpy(m->b, &g, sizeof(g));
	m->len = sizeof(g);
}

static void status(struct msg *m, uint32_t st)
{
	uint32_t be = htonl(st);
	put(m, CTA_STATUS, &be, 4);
}

static void test_handmade(void **state)
{
	(void)state;
	struct msg m;
	struct ct_entry e;

	/* The well-formed base case. */
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_TCP,
	      40000, 80, 4);
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      8080, 40000, 4);
	status(&m, IPS_DST_NAT | IPS_CONFIRMED);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), CT_PARSE_NAT);
	assert_int_equal(e.osport, 40000);
	assert_int_equal(e.rsport, 8080);

	/* Other protocols and entries without NAT are skipped. */
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_SCTP,
	      1, 80, 4);
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_SCTP,
	      8080, 1, 4);
	status(&m, IPS_DST_NAT);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), CT_PARSE_SKIP);
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.61.21", IPPROTO_TCP,
	      1, 80, 4);
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      80, 1, 4);
	status(&m, IPS_CONFIRMED);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), CT_PARSE_SKIP);

	/* A 3-byte IPv4 address. */
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_TCP,
	      1, 80, 3);
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      8080, 1, 4);
	status(&m, IPS_DST_NAT);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);

	/* No reply tuple; no status; a status of 2 bytes. */
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_TCP,
	      1, 80, 4);
	status(&m, IPS_DST_NAT);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_TCP,
	      1, 80, 4);
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      8080, 1, 4);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);
	uint16_t two = 1;
	put(&m, CTA_STATUS, &two, 2);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);

	/* An attribute claiming more than the message holds, one claiming
	 * less than its own header, a nested length past its parent. */
	msg_start(&m);
	tuple(&m, CTA_TUPLE_ORIG, "198.18.61.10", "198.18.161.10", IPPROTO_TCP,
	      1, 80, 4);
	size_t at = m.len;
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      8080, 1, 4);
	status(&m, IPS_DST_NAT);
	struct nlattr *a = (void *)(m.b + at);
	a->nla_len = (uint16_t)(m.len - at + 64);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);
	a->nla_len = 2;
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);
	a->nla_len = (uint16_t)(m.len - at - 8); /* cuts status off */
	struct nlattr *ipn = (void *)(m.b + at + NLA_HDRLEN);
	ipn->nla_len = 200;
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);

	/* An IPv4 source with an IPv6 destination. */
	msg_start(&m);
	{
		size_t t = nest(&m, CTA_TUPLE_ORIG), ip = nest(&m, CTA_TUPLE_IP);
		uint8_t s[16] = { 198, 18, 61, 10 }, d[16] = { 0x20, 0x01 };
		put(&m, CTA_IP_V4_SRC, s, 4);
		put(&m, CTA_IP_V6_DST, d, 16);
		nest_end(&m, ip);
		nest_end(&m, t);
	}
	tuple(&m, CTA_TUPLE_REPLY, "198.18.61.21", "198.18.61.10", IPPROTO_TCP,
	      8080, 1, 4);
	status(&m, IPS_DST_NAT);
	assert_int_equal(ct_parse_entry(m.b, m.len, &e), -EBADMSG);

	/* Shorter than its nfgenmsg. */
	assert_int_equal(ct_parse_entry(m.b, 2, &e), -EBADMSG);
}

static void test_netlink_errors(void **state)
{
	(void)state;
	struct ct_table *t = ct_table_new(0);
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} err;
	memset(&err, 0, sizeof(err));
	err.h.nlmsg_len = sizeof(err);
	err.h.nlmsg_type = NLMSG_ERROR;
	err.e.error = -EPERM;
	assert_int_equal(ct_table_feed(t, &err, sizeof(err)), -EPERM);
	err.e.error = 0; /* an ack ends the exchange */
	assert_int_equal(ct_table_feed(t, &err, sizeof(err)), 1);
	err.e.error = 12345; /* no errno */
	assert_int_equal(ct_table_feed(t, &err, sizeof(err)), -EBADMSG);
	err.h.nlmsg_len = sizeof(struct nlmsghdr) + 2; /* truncated error */
	assert_int_equal(ct_table_feed(t, &err, err.h.nlmsg_len), -EBADMSG);
	/* A header whose length exceeds the buffer. */
	err.h.nlmsg_len = 4000;
	assert_int_equal(ct_table_feed(t, &err, sizeof(err)), -EBADMSG);
	/* Messages of other subsystems are ignored. */
	struct nlmsghdr other = { .nlmsg_len = sizeof(other),
				  .nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) };
	assert_int_equal(ct_table_feed(t, &other, sizeof(other)), 0);
	assert_int_equal(ct_table_count(t), 0);
	ct_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_dump),
		cmocka_unit_test(test_filtered_dumps),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_handmade),
		cmocka_unit_test(test_netlink_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
