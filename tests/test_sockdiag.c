// SPDX-License-Identifier: MIT
/*
 * sock_diag request building and reply parsing, on dumps recorded from the
 * kernel by tests/tools/record_sockdiag.c (see tests/fixtures/sockdiag/README).
 */
#include "probe/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_util.h"

#define NETNS 4026531840ULL

/* ---- fixtures ----------------------------------------------------------- */

struct frame {
	uint8_t *data; /* malloc'd with exactly len bytes: ASan sees overreads */
	size_t len;
};

struct dump {
	char name[16];
	uint32_t seq;
	struct frame frames[8];
	size_t nframes;
};

struct fixtures {
	struct manifest m;
	struct dump dumps[8];
	size_t ndumps;
};

static struct fixtures fx;

static void load_dump(struct dump *d)
{
	char rel[64];
	size_t len;
	snprintf(rel, sizeof(rel), "sockdiag/%s.bin", d->name);
	char *raw = fixture_read(rel, &len);
	size_t off = 0;
	while (off < len) {
		assert_true(len - off >= 4);
		const uint8_t *p = (const uint8_t *)raw + off;
		size_t n = (size_t)p[0] | (size_t)p[1] << 8 |
			   (size_t)p[2] << 16 | (size_t)p[3] << 24;
		off += 4;
		assert_true(n <= len - off);
		assert_true(d->nframes < sizeof(d->frames) / sizeof(d->frames[0]));
		struct frame *f = &d->frames[d->nframes++];
		f->data = malloc(n ? n : 1);
		assert_non_null(f->data);
		memcpy(f->data, raw + off, n);
		f->len = n;
		off += n;
	}
	assert_true(d->nframes > 0);
	free(raw);
}

static int load_fixtures(void **state)
{
	(void)state;
	if (manifest_load(&fx.m) < 0)
		return -1;
	for (size_t i = 0; i < fx.m.nseqs; i++) {
		struct dump *d = &fx.dumps[fx.ndumps++];
		strcpy(d->name, fx.m.seqs[i].dump);
		d->seq = fx.m.seqs[i].seq;
		load_dump(d);
	}
	return fx.m.nentries >= 16 && fx.ndumps >= 7 ? 0 : -1;
}

static int free_fixtures(void **state)
{
	(void)state;
	for (size_t i = 0; i < fx.ndumps; i++)
		for (size_t j = 0; j < fx.dumps[i].nframes; j++)
			free(fx.dumps[i].frames[j].data);
	memset(&fx, 0, sizeof(fx));
	return 0;
}

static const struct dump *get_dump(const char *name)
{
	for (size_t i = 0; i < fx.ndumps; i++)
		if (strcmp(fx.dumps[i].name, name) == 0)
			return &fx.dumps[i];
	print_error("no dump '%s' in the manifest\n", name);
	fail();
	return NULL;
}

static const struct manifest_entry *get_entry(const char *role)
{
	return manifest_entry(&fx.m, role);
}

/* ---- record collection -------------------------------------------------- */

struct collect {
	struct sock_record recs[64];
	size_t n;
	size_t fail_at; /* return -EINTR on this call (1-based), 0 = never */
	size_t calls;
};

static int collect_cb(const struct sock_record *rec, void *ud)
{
	struct collect *c = ud;
	c->calls++;
	if (c->fail_at && c->calls == c->fail_at)
		return -EINTR;
	assert_true(c->n < sizeof(c->recs) / sizeof(c->recs[0]));
	c->recs[c->n++] = *rec;
	return 0;
}

static int parse_buf(const void *buf, size_t len, uint32_t seq, int proto,
		     struct collect *c)
{
	return sockdiag_parse(buf, len, seq, proto, NETNS, collect_cb, c);
}

/* Parses a whole recorded dump; the last datagram must say DONE. */
static void parse_dump(const struct dump *d, int proto, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < d->nframes; i++) {
		int r = parse_buf(d->frames[i].data, d->frames[i].len, d->seq,
				  proto, c);
		assert_int_equal(r, i + 1 == d->nframes ? 1 : 0);
	}
}

static void addr_bytes(int family, const char *text, uint8_t out[16])
{
	memset(out, 0, 16);
	assert_int_equal(inet_pton(family, text, out), 1);
}

/* ---- request ------------------------------------------------------------ */

static void test_build_request(void **state)
{
	(void)state;
	static const struct {
		int family, proto;
		uint32_t states, seq;
	} cases[] = {
		{ AF_INET, IPPROTO_TCP, SOCKDIAG_TCP_STATES, 1 },
		{ AF_INET6, IPPROTO_TCP, SOCKDIAG_TCP_STATES, 0xdeadbeef },
		{ AF_INET, IPPROTO_UDP, SOCKDIAG_UDP_STATES, 7 },
		{ AF_INET6, IPPROTO_UDP, ~0u, UINT32_MAX },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		union {
			uint8_t bytes[256];
			struct nlmsghdr nlh;
		} buf;
		memset(buf.bytes, 0xa5, sizeof(buf.bytes));
		int len = sockdiag_build_request(buf.bytes, sizeof(buf.bytes),
						 cases[i].family,
						 cases[i].proto,
						 cases[i].states, cases[i].seq);
		const size_t want = NLMSG_LENGTH(sizeof(struct inet_diag_req_v2));
		assert_int_equal(len, want);
		assert_int_equal(buf.nlh.nlmsg_len, want);
		assert_int_equal(buf.nlh.nlmsg_type, SOCK_DIAG_BY_FAMILY);
		assert_int_equal(buf.nlh.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
		assert_int_equal(buf.nlh.nlmsg_seq, cases[i].seq);
		assert_int_equal(buf.nlh.nlmsg_pid, 0);

		struct inet_diag_req_v2 req;
		memcpy(&req, buf.bytes + NLMSG_HDRLEN, sizeof(req));
		assert_int_equal(req.sdiag_family, cases[i].family);
		assert_int_equal(req.sdiag_protocol, cases[i].proto);
		assert_int_equal(req.idiag_states, cases[i].states);
		assert_int_equal(req.idiag_ext, 0);
		assert_int_equal(req.pad, 0);
		/* The socket id (ports, addresses, interface, cookie) is a
		 * wildcard: all zero. */
		static const struct inet_diag_sockid zero_id;
		assert_memory_equal(&req.id, &zero_id, sizeof(zero_id));
		/* Nothing written past the request. */
		assert_int_equal(buf.bytes[want], 0xa5);
	}

	/* AF_UNSPEC + TCP: the legacy TCPDIAG_GETSOCK request, which
	 * dumps both families in one pass. */
	union {
		uint8_t bytes[256];
		struct nlmsghdr nlh;
	} compat;
	memset(compat.bytes, 0xa5, sizeof(compat.bytes));
	const size_t clen = NLMSG_LENGTH(sizeof(struct inet_diag_req));
	assert_int_equal(sockdiag_build_request(compat.bytes,
						sizeof(compat.bytes), AF_UNSPEC,
						IPPROTO_TCP,
						SOCKDIAG_TCP_STATES, 9),
			 clen);
	assert_int_equal(compat.nlh.nlmsg_len, clen);
	assert_int_equal(compat.nlh.nlmsg_type, TCPDIAG_GETSOCK);
	assert_int_equal(compat.nlh.nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	assert_int_equal(compat.nlh.nlmsg_seq, 9);
	struct inet_diag_req old;
	memcpy(&old, compat.bytes + NLMSG_HDRLEN, sizeof(old));
	assert_int_equal(old.idiag_family, AF_UNSPEC);
	assert_int_equal(old.idiag_states, SOCKDIAG_TCP_STATES);
	assert_int_equal(old.idiag_ext, 0);
	assert_int_equal(old.idiag_dbs, 0);
	assert_int_equal(compat.bytes[clen], 0xa5);
	assert_int_equal(sockdiag_build_request(compat.bytes, clen - 1,
						AF_UNSPEC, IPPROTO_TCP, 0, 1),
			 -ENOBUFS);

	/* Too small: -ENOBUFS and the buffer is left alone. */
	uint8_t small[256];
	memset(small, 0x5a, sizeof(small));
	size_t need = NLMSG_LENGTH(sizeof(struct inet_diag_req_v2));
	assert_int_equal(sockdiag_build_request(small, need - 1, AF_INET,
						IPPROTO_TCP, 0, 1),
			 -ENOBUFS);
	assert_int_equal(sockdiag_build_request(small, 0, AF_INET,
						IPPROTO_TCP, 0, 1),
			 -ENOBUFS);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0x5a);
	assert_int_equal(sockdiag_build_request(small, need, AF_INET,
						IPPROTO_TCP, 0, 1),
			 (int)need);
}

/* The kernel echoes the request it refused in NLMSG_ERROR: it must be
 * byte for byte what sockdiag_build_request() makes. */
static void test_request_echoed_by_kernel(void **state)
{
	(void)state;
	const struct dump *d = get_dump("badfamily");
	const struct frame *f = &d->frames[0];
	uint8_t req[256];
	int len = sockdiag_build_request(req, sizeof(req), 255, IPPROTO_TCP,
					 ~0u, d->seq);
	assert_true(len > 0);
	size_t echo = NLMSG_HDRLEN + offsetof(struct nlmsgerr, msg);
	assert_true(f->len >= echo + (size_t)len);
	assert_memory_equal(f->data + echo, req, (size_t)len);
}

/* ---- recorded dumps ----------------------------------------------------- */

static void test_parse_recorded(void **state)
{
	(void)state;
	/* Which manifest dumps' sockets each recorded dump holds. */
	static const struct {
		const char *dump;
		int proto;
		const char *holds[2];
	} dumps[] = {
		{ "tcp4", IPPROTO_TCP, { "tcp4", "tcp4" } },
		{ "tcp6", IPPROTO_TCP, { "tcp6", "tcp6" } },
		{ "udp4", IPPROTO_UDP, { "udp4", "udp4" } },
		{ "udp6", IPPROTO_UDP, { "udp6", "udp6" } },
		/* Legacy TCPDIAG_GETSOCK, AF_UNSPEC: both families at once,
		 * replies of type TCPDIAG_GETSOCK. */
		{ "tcp46", IPPROTO_TCP, { "tcp4", "tcp6" } },
	};

	const struct manifest_expect *expects = manifest_expects;
	const size_t nexpects =
		sizeof(manifest_expects) / sizeof(manifest_expects[0]);
	assert_int_equal(fx.m.nentries, nexpects);
	for (size_t di = 0; di < sizeof(dumps) / sizeof(dumps[0]); di++) {
		struct collect c;
		parse_dump(get_dump(dumps[di].dump), dumps[di].proto, &c);

		/* The dump holds exactly the recorder's sockets. */
		size_t want = 0, checked = 0;
		for (size_t i = 0; i < fx.m.nentries; i++)
			want += strcmp(fx.m.entries[i].dump,
				       dumps[di].holds[0]) == 0 ||
				strcmp(fx.m.entries[i].dump,
				       dumps[di].holds[1]) == 0;
		assert_int_equal(c.n, want);

		for (size_t ei = 0; ei < nexpects; ei++) {
			const struct manifest_expect *x = &expects[ei];
			const struct manifest_entry *m = get_entry(x->role);
			if (strcmp(m->dump, dumps[di].holds[0]) != 0 &&
			    strcmp(m->dump, dumps[di].holds[1]) != 0)
				continue;
			const struct sock_record *rec = NULL;
			for (size_t i = 0; i < c.n; i++)
				if (c.recs[i].inode == m->inode)
					rec = &c.recs[i];
			if (!rec)
				print_error("%s: inode %llu not in dump\n",
					    x->role,
					    (unsigned long long)m->inode);
			assert_non_null(rec);

			uint8_t la[16], ra[16];
			addr_bytes(x->family, x->laddr, la);
			addr_bytes(x->family, x->raddr, ra);
			if (rec->family != x->family ||
			    memcmp(rec->laddr, la, 16) ||
			    memcmp(rec->raddr, ra, 16)) {
				char l[64], r[64];
				inet_ntop(AF_INET6, rec->laddr, l, sizeof(l));
				inet_ntop(AF_INET6, rec->raddr, r, sizeof(r));
				print_error("%s: family %d laddr %s raddr %s "
					    "(as v6)\n",
					    x->role, rec->family, l, r);
			}
			assert_int_equal(rec->family, x->family);
			assert_memory_equal(rec->laddr, la, 16);
			assert_memory_equal(rec->raddr, ra, 16);
			assert_int_equal(rec->proto, x->proto);
			assert_int_equal(rec->state, x->state);
			assert_int_equal(rec->lport, m->lport);
			assert_int_equal(rec->rport, m->rport);
			assert_true(rec->cookie == m->cookie);
			assert_true(rec->netns == NETNS);
			/* Sources leave attribution to procmap. */
			assert_int_equal(rec->pid, 0);
			assert_int_equal(rec->dir, SOCK_DIR_UNKNOWN);
			assert_int_equal(rec->flags, 0);
			if (fx.m.cgroup_id)
				assert_true(rec->cgroup_id == fx.m.cgroup_id);
			else
				assert_true(rec->cgroup_id != 0);
			checked++;
		}
		assert_int_equal(checked, want);
	}
}

static void test_dump_ends(void **state)
{
	(void)state;
	struct collect c = { 0 };

	/* DONE alone in the last datagram of each dump. */
	const char *const names[] = { "tcp4", "tcp6", "udp4", "udp6",
				      "tcp46" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct dump *d = get_dump(names[i]);
		const struct frame *last = &d->frames[d->nframes - 1];
		memset(&c, 0, sizeof(c));
		assert_int_equal(parse_buf(last->data, last->len, d->seq,
					   IPPROTO_TCP, &c),
				 1);
		assert_int_equal(c.n, 0);
	}

	/* Family >= AF_MAX: the kernel refuses the request with
	 * NLMSG_ERROR -EINVAL. */
	const struct dump *bad = get_dump("badfamily");
	assert_int_equal(parse_buf(bad->frames[0].data, bad->frames[0].len,
				   bad->seq, IPPROTO_TCP, &c),
			 -EINVAL);

	/* No diag handler for the protocol: the kernel reports -ENOENT in
	 * the payload of NLMSG_DONE (netlink(7)); it must not read as an
	 * empty, successful dump. */
	const struct dump *np = get_dump("noproto");
	assert_int_equal(parse_buf(np->frames[0].data, np->frames[0].len,
				   np->seq, 255, &c),
			 -ENOENT);
}

/* Builds a datagram of one message header plus payload. */
static size_t make_msg(uint8_t *buf, uint16_t type, uint32_t seq,
		       const void *payload, size_t plen)
{
	struct nlmsghdr h = { .nlmsg_len = (uint32_t)NLMSG_LENGTH(plen),
			      .nlmsg_type = type,
			      .nlmsg_flags = NLM_F_MULTI,
			      .nlmsg_seq = seq };
	memset(buf, 0, NLMSG_SPACE(plen));
	memcpy(buf, &h, sizeof(h));
	if (plen)
		memcpy(buf + NLMSG_HDRLEN, payload, plen);
	return NLMSG_SPACE(plen);
}

static void test_done_and_error_synthetic(void **state)
{
	(void)state;
	union {
		uint8_t b[256];
		struct nlmsghdr align;
	} u;
	struct collect c = { 0 };
	int zero = 0;

	/* DONE with a zero payload, and with none at all (old kernels). */
	size_t n = make_msg(u.b, NLMSG_DONE, 5, &zero, sizeof(zero));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), 1);
	n = make_msg(u.b, NLMSG_DONE, 5, NULL, 0);
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), 1);

	/* NLMSG_ERROR: negated errno passed up; an ACK (error 0) is not
	 * a valid answer to a dump. */
	struct nlmsgerr e = { .error = -EPERM };
	n = make_msg(u.b, NLMSG_ERROR, 5, &e, sizeof(e));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), -EPERM);
	e.error = 0;
	n = make_msg(u.b, NLMSG_ERROR, 5, &e, sizeof(e));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), -EPROTO);

	/* An error message too short to hold struct nlmsgerr. */
	e.error = -EPERM;
	n = make_msg(u.b, NLMSG_ERROR, 5, &e, sizeof(int));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), -EBADMSG);

	/* Replies to another request are ignored, DONE and ERROR too. */
	n = make_msg(u.b, NLMSG_DONE, 4, &zero, sizeof(zero));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), 0);
	n = make_msg(u.b, NLMSG_ERROR, 4, &e, sizeof(e));
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), 0);

	/* Unknown types with our seq (NLMSG_NOOP...) are skipped. */
	n = make_msg(u.b, NLMSG_NOOP, 5, NULL, 0);
	assert_int_equal(parse_buf(u.b, n, 5, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.n, 0);
}

/* First SOCK_DIAG_BY_FAMILY message of a recorded dump, copied. */
static size_t first_msg(const char *dump, uint8_t *out, size_t outsz)
{
	const struct frame *f = &get_dump(dump)->frames[0];
	struct nlmsghdr h;
	assert_true(f->len >= sizeof(h));
	memcpy(&h, f->data, sizeof(h));
	assert_int_equal(h.nlmsg_type, SOCK_DIAG_BY_FAMILY);
	assert_true(h.nlmsg_len <= f->len && h.nlmsg_len <= outsz);
	memcpy(out, f->data, h.nlmsg_len);
	return h.nlmsg_len;
}

static void set_seq(uint8_t *msg, uint32_t seq)
{
	memcpy(msg + offsetof(struct nlmsghdr, nlmsg_seq), &seq, sizeof(seq));
}

static void test_seq_filter(void **state)
{
	(void)state;
	const struct dump *d = get_dump("tcp4");
	struct collect c = { 0 };

	/* A whole datagram of a stale dump yields nothing. */
	assert_int_equal(parse_buf(d->frames[0].data, d->frames[0].len,
				   d->seq - 1, IPPROTO_TCP, &c),
			 0);
	assert_int_equal(c.n, 0);
	const struct frame *last = &d->frames[d->nframes - 1];
	assert_int_equal(parse_buf(last->data, last->len, d->seq + 1,
				   IPPROTO_TCP, &c),
			 0);

	/* Stale and current messages mixed in one datagram. */
	union {
		uint8_t b[1024];
		struct nlmsghdr align;
	} u;
	size_t l = first_msg("tcp4", u.b, sizeof(u.b));
	size_t off = NLMSG_ALIGN(l);
	memcpy(u.b + off, u.b, l);
	set_seq(u.b, d->seq - 1); /* stale copy first */
	size_t total = off + NLMSG_ALIGN(l);
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse_buf(u.b, total, d->seq, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.n, 1);

	/* ...then a stale DONE: must not end the current dump. */
	int zero = 0;
	total += make_msg(u.b + total, NLMSG_DONE, d->seq - 1, &zero,
			  sizeof(zero));
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse_buf(u.b, total, d->seq, IPPROTO_TCP, &c), 0);
	assert_int_equal(c.n, 1);
	/* ...and the current DONE does. */
	total += make_msg(u.b + total, NLMSG_DONE, d->seq, &zero,
			  sizeof(zero));
	memset(&c, 0, sizeof(c));
	assert_int_equal(parse_buf(u.b, total, d->seq, IPPROTO_TCP, &c), 1);
	assert_int_equal(c.n, 1);
}

static void test_callback_error(void **state)
{
	(void)state;
	const struct dump *d = get_dump("tcp6");
	struct collect c = { .fail_at = 2 };
	assert_int_equal(parse_buf(d->frames[0].data, d->frames[0].len, d->seq,
				   IPPROTO_TCP, &c),
			 -EINTR);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.calls, 2);
}

/* ---- hostile input ------------------------------------------------------ */

static bool same_record(const struct sock_record *a,
			const struct sock_record *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/*
 * Every prefix of every recorded datagram: -EBADMSG, or success having
 * reported a prefix of the records of the whole datagram. Each prefix sits
 * in its own exact-size allocation so ASan catches any read past it.
 */
static void test_truncation(void **state)
{
	(void)state;
	size_t tried = 0;
	for (size_t di = 0; di < fx.ndumps; di++) {
		const struct dump *d = &fx.dumps[di];
		for (size_t fi = 0; fi < d->nframes; fi++) {
			const struct frame *f = &d->frames[fi];
			struct collect full = { 0 };
			int fr = parse_buf(f->data, f->len, d->seq, IPPROTO_TCP,
					   &full);
			for (size_t l = 0; l < f->len; l++) {
				uint8_t *p = malloc(l ? l : 1);
				assert_non_null(p);
				memcpy(p, f->data, l);
				struct collect c = { 0 };
				int r = parse_buf(p, l, d->seq, IPPROTO_TCP, &c);
				free(p);
				tried++;
				if (r != -EBADMSG && r != 0) {
					print_error("%s frame %zu len %zu: "
						    "r=%d\n",
						    d->name, fi, l, r);
					fail();
				}
				assert_true(c.n <= full.n);
				for (size_t i = 0; i < c.n; i++)
					assert_true(same_record(&c.recs[i],
								&full.recs[i]));
				if (l == 0)
					assert_int_equal(r, -EBADMSG);
			}
			(void)fr;
		}
	}
	assert_true(tried > 1000);
}

/* Offset of the attribute of the given type in a recorded message. */
static size_t find_attr(const uint8_t *msg, size_t len, uint16_t type)
{
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg));
	while (off + sizeof(struct rtattr) <= len) {
		struct rtattr a;
		memcpy(&a, msg + off, sizeof(a));
		if (a.rta_type == type)
			return off;
		assert_true(a.rta_len >= sizeof(a));
		off += RTA_ALIGN(a.rta_len);
	}
	print_error("attribute %u not found\n", type);
	fail();
	return 0;
}

static void set_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void set_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static int parse_copy(const uint8_t *buf, size_t len, uint32_t seq,
		      struct collect *c)
{
	/* Exact-size heap copy: ASan reports a read past len. */
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, buf, len);
	memset(c, 0, sizeof(*c));
	int r = parse_buf(p, len, seq, IPPROTO_TCP, c);
	free(p);
	return r;
}

/* The first tcp4 message (orig, l bytes) and room for a spoiled copy (u). */
struct hostile {
	union {
		uint8_t b[512];
		struct nlmsghdr align;
	} orig, u;
	size_t l;
	uint32_t seq;
	struct collect c;
};

static void hostile_init(struct hostile *h)
{
	h->seq = get_dump("tcp4")->seq;
	h->l = first_msg("tcp4", h->orig.b, sizeof(h->orig.b));
}

static void test_hostile_headers(void **state)
{
	(void)state;
	struct hostile h;
	hostile_init(&h);
	const size_t len_off = offsetof(struct nlmsghdr, nlmsg_len);

	/* The unmodified message parses. */
	assert_int_equal(parse_copy(h.orig.b, h.l, h.seq, &h.c), 0);
	assert_int_equal(h.c.n, 1);

	/* Zero-length and header-only buffers. */
	assert_int_equal(parse_copy(h.orig.b, 0, h.seq, &h.c), -EBADMSG);
	assert_int_equal(parse_copy(h.orig.b, NLMSG_HDRLEN - 1, h.seq, &h.c),
			 -EBADMSG);

	static const uint32_t bad_lens[] = {
		0, 1, NLMSG_HDRLEN - 1, /* shorter than the header */
		NLMSG_HDRLEN,		/* no inet_diag_msg */
		NLMSG_HDRLEN + sizeof(struct inet_diag_msg) - 1,
		0x7fffffff, 0xffffffff, /* past the buffer */
	};
	for (size_t i = 0; i < sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		memcpy(h.u.b, h.orig.b, h.l);
		set_u32(h.u.b + len_off, bad_lens[i]);
		assert_int_equal(parse_copy(h.u.b, h.l, h.seq, &h.c), -EBADMSG);
		assert_int_equal(h.c.n, 0);
	}
	/* nlmsg_len one past the datagram. */
	memcpy(h.u.b, h.orig.b, h.l);
	set_u32(h.u.b + len_off, (uint32_t)h.l + 1);
	assert_int_equal(parse_copy(h.u.b, h.l, h.seq, &h.c), -EBADMSG);

	/* Exactly an inet_diag_msg without attributes is fine. */
	memcpy(h.u.b, h.orig.b, h.l);
	set_u32(h.u.b + len_off,
		NLMSG_HDRLEN + (uint32_t)sizeof(struct inet_diag_msg));
	assert_int_equal(parse_copy(h.u.b, NLMSG_HDRLEN +
						 sizeof(struct inet_diag_msg),
				    h.seq, &h.c),
			 0);
	assert_int_equal(h.c.n, 1);
	assert_true(h.c.recs[0].cgroup_id == 0);

	/* Trailing bytes too few for another header. */
	memcpy(h.u.b, h.orig.b, h.l);
	memset(h.u.b + h.l, 0, 4);
	assert_int_equal(parse_copy(h.u.b, h.l + 4, h.seq, &h.c), -EBADMSG);

	/* Family neither AF_INET nor AF_INET6. */
	static const uint8_t families[] = { AF_UNSPEC, AF_UNIX, AF_NETLINK,
					    AF_PACKET, 255 };
	for (size_t i = 0; i < sizeof(families); i++) {
		memcpy(h.u.b, h.orig.b, h.l);
		h.u.b[NLMSG_HDRLEN + offsetof(struct inet_diag_msg,
					    idiag_family)] = families[i];
		assert_int_equal(parse_copy(h.u.b, h.l, h.seq, &h.c), -EBADMSG);
		assert_int_equal(h.c.n, 0);
	}
}

static void test_hostile_attributes(void **state)
{
	(void)state;
	struct hostile h;
	hostile_init(&h);
	size_t first = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct inet_diag_msg));
	size_t cg = find_attr(h.orig.b, h.l, INET_DIAG_CGROUP_ID);

	/* rta_len 0, below the attribute header, and past the message,
	 * on the first attribute and on the cgroup one. */
	const size_t where[] = { first, cg };
	for (size_t w = 0; w < 2; w++) {
		static const uint16_t lens[] = { 0, 1, 3, 0x1000, 0xffff };
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memcpy(h.u.b, h.orig.b, h.l);
			set_u16(h.u.b + where[w], lens[i]);
			int r = parse_copy(h.u.b, h.l, h.seq, &h.c);
			if (r != -EBADMSG)
				print_error("attr at %zu len %u: r=%d\n",
					    where[w], lens[i], r);
			assert_int_equal(r, -EBADMSG);
			assert_int_equal(h.c.n, 0);
		}
		/* One byte more than what is left of the message. */
		memcpy(h.u.b, h.orig.b, h.l);
		set_u16(h.u.b + where[w], (uint16_t)(h.l - where[w] + 1));
		assert_int_equal(parse_copy(h.u.b, h.l, h.seq, &h.c), -EBADMSG);
	}

	/* The cgroup attribute with a payload shorter than a u64. */
	for (uint16_t plen = 0; plen < 8; plen++) {
		memcpy(h.u.b, h.orig.b, h.l);
		set_u16(h.u.b + cg, (uint16_t)(RTA_LENGTH(plen)));
		assert_int_equal(parse_copy(h.u.b, h.l, h.seq, &h.c), -EBADMSG);
		assert_int_equal(h.c.n, 0);
	}

	/* The cgroup attribute as the last one, message cut right after
	 * its payload: parses with the id. */
	memcpy(h.u.b, h.orig.b, h.l);
	size_t end = cg + RTA_LENGTH(sizeof(uint64_t));
	set_u32(h.u.b, (uint32_t)end);
	assert_int_equal(parse_copy(h.u.b, end, h.seq, &h.c), 0);
	assert_int_equal(h.c.n, 1);
	if (fx.m.cgroup_id)
		assert_true(h.c.recs[0].cgroup_id == fx.m.cgroup_id);
	/* ...and cut inside its payload. */
	for (size_t cut = cg + 1; cut < end; cut++) {
		set_u32(h.u.b, (uint32_t)cut);
		assert_int_equal(parse_copy(h.u.b, cut, h.seq, &h.c), -EBADMSG);
	}
}

/* Random byte flips: anything may come out but a crash or a read past the
 * buffer (under ASan). */
static void test_fuzz_flips(void **state)
{
	(void)state;
	uint64_t s = 0x5eed;
	for (size_t di = 0; di < fx.ndumps; di++) {
		const struct dump *d = &fx.dumps[di];
		const struct frame *f = &d->frames[0];
		uint8_t *p = malloc(f->len);
		assert_non_null(p);
		for (int iter = 0; iter < 3000; iter++) {
			memcpy(p, f->data, f->len);
			int flips = 1 + iter % 4;
			for (int k = 0; k < flips; k++) {
				s = s * 6364136223846793005ULL +
				    1442695040888963407ULL;
				size_t pos = (size_t)(s >> 33) % f->len;
				p[pos] = (uint8_t)(s >> 17);
			}
			struct collect c = { 0 };
			int r = parse_buf(p, f->len, d->seq, IPPROTO_TCP, &c);
			assert_true(r <= 1);
		}
		free(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_request),
		cmocka_unit_test(test_request_echoed_by_kernel),
		cmocka_unit_test(test_parse_recorded),
		cmocka_unit_test(test_dump_ends),
		cmocka_unit_test(test_done_and_error_synthetic),
		cmocka_unit_test(test_seq_filter),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_hostile_headers),
		cmocka_unit_test(test_hostile_attributes),
		cmocka_unit_test(test_fuzz_flips),
	};
	return cmocka_run_group_tests(tests, load_fixtures, free_fixtures);
}
