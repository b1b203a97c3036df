// SPDX-License-Identifier: MIT
/*
 * Decoding of BPF iterator records (bpf/iter_record.h): well-formed
 * streams, records split across reads, truncated and hostile buffers.
 */
#include "probe/iterrec.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "iter_record.h"

struct collect {
	struct sock_record recs[8];
	size_t n;
	int fail_at; /* return -EINTR at this record (1-based), 0: never */
};

static int collect_cb(const struct sock_record *rec, void *ud)
{
	struct collect *c = ud;
	if (c->fail_at && (int)c->n + 1 == c->fail_at)
		return -EINTR;
	if (c->n < 8)
		c->recs[c->n] = *rec;
	c->n++;
	return 0;
}

static struct shawk_iter_sock sock4(void)
{
	struct shawk_iter_sock s;
	memset(&s, 0, sizeof(s));
	s.magic = SHAWK_ITER_SOCK_MAGIC;
	s.proto = IPPROTO_TCP;
	s.family = AF_INET;
	s.state = 1;
	s.lport = 8080;
	s.rport = 40000;
	inet_pton(AF_INET, "10.0.0.1", s.laddr);
	inet_pton(AF_INET, "10.0.0.2", s.raddr);
	/* Garbage past the IPv4 word must not leak into the record. */
	memset(s.laddr + 4, 0xaa, 12);
	s.netns = 4026531840u;
	s.inode = 12345;
	s.cookie = 0x1122334455667788ull;
	s.cgroup_id = 77;
	s.uid = 1000;
	return s;
}

static void test_decode_v4(void **state)
{
	(void)state;
	struct shawk_iter_sock s = sock4();
	struct collect c = { 0 };
	size_t used = 0;
	assert_int_equal(iterrec_decode_socks(&s, sizeof(s), collect_cb, &c,
					      &used),
			 1);
	assert_int_equal(used, sizeof(s));
	struct sock_record *r = &c.recs[0];
	assert_int_equal(r->proto, IPPROTO_TCP);
	assert_int_equal(r->family, AF_INET);
	assert_int_equal(r->state, 1);
	assert_int_equal(r->lport, 8080);
	assert_int_equal(r->rport, 40000);
	uint8_t want[16] = { 10, 0, 0, 1 };
	assert_memory_equal(r->laddr, want, 16);
	assert_int_equal(r->netns, 4026531840u);
	assert_int_equal(r->inode, 12345);
	assert_int_equal(r->cookie, 0x1122334455667788ull);
	assert_int_equal(r->cgroup_id, 77);
	assert_int_equal(r->uid, 1000);
	assert_int_equal(r->pid, 0);
	assert_int_equal(r->flags, 0);
}

static void test_decode_v6_mapped(void **state)
{
	(void)state;
	struct shawk_iter_sock s[3];
	s[0] = sock4();
	s[0].family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.0.0.1", s[0].laddr);
	inet_pton(AF_INET6, "::ffff:10.0.0.2", s[0].raddr);
	/* listener on [::] with a mapped address: reads as 0.0.0.0 */
	s[1] = s[0];
	inet_pton(AF_INET6, "::", s[1].raddr);
	s[1].state = 10;
	/* real IPv6 */
	s[2] = s[0];
	inet_pton(AF_INET6, "fd00::1", s[2].laddr);
	inet_pton(AF_INET6, "fd00::2", s[2].raddr);
	s[2].proto = IPPROTO_UDP;
	s[2].state = 7;

	struct collect c = { 0 };
	size_t used = 0;
	assert_int_equal(iterrec_decode_socks(s, sizeof(s), collect_cb, &c,
					      &used),
			 3);
	uint8_t v4[16] = { 10, 0, 0, 1 }, any[16] = { 0 }, v6[16];
	inet_pton(AF_INET6, "fd00::1", v6);
	assert_int_equal(c.recs[0].family, AF_INET);
	assert_memory_equal(c.recs[0].laddr, v4, 16);
	assert_int_equal(c.recs[1].family, AF_INET);
	assert_memory_equal(c.recs[1].raddr, any, 16);
	assert_int_equal(c.recs[2].family, AF_INET6);
	assert_int_equal(c.recs[2].proto, IPPROTO_UDP);
	assert_memory_equal(c.recs[2].laddr, v6, 16);
}

static void test_partial_record_left(void **state)
{
	(void)state;
	struct shawk_iter_sock s[2] = { sock4(), sock4() };
	struct collect c = { 0 };
	size_t used = 99;
	/* One and a half records: the half stays for the next read. */
	size_t len = sizeof(s[0]) + sizeof(s[0]) / 2;
	unsigned char *buf = malloc(len); /* exact size: ASan sees overreads */
	assert_non_null(buf);
	memcpy(buf, s, len);
	assert_int_equal(iterrec_decode_socks(buf, len, collect_cb, &c, &used),
			 1);
	assert_int_equal(used, sizeof(s[0]));
	/* Shorter than one record: nothing consumed. */
	assert_int_equal(iterrec_decode_socks(buf, 5, collect_cb, &c, &used),
			 0);
	assert_int_equal(used, 0);
	assert_int_equal(iterrec_decode_socks(buf, 0, collect_cb, &c, &used),
			 0);
	free(buf);
}

static void test_hostile(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		size_t off;
		uint8_t val;
	} bad[] = {
		{ "magic", offsetof(struct shawk_iter_sock, magic), 0x4f },
		{ "proto", offsetof(struct shawk_iter_sock, proto), 1 },
		{ "family", offsetof(struct shawk_iter_sock, family), 1 },
		{ "state", offsetof(struct shawk_iter_sock, state), 200 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct shawk_iter_sock s[2] = { sock4(), sock4() };
		((uint8_t *)&s[1])[bad[i].off] = bad[i].val;
		struct collect c = { 0 };
		size_t used = 42;
		assert_int_equal(iterrec_decode_socks(s, sizeof(s), collect_cb,
						      &c, &used),
				 -EBADMSG);
		assert_int_equal(used, 42); /* untouched on error */
	}
	/* Random bytes never crash and are refused (magic is checked). */
	unsigned char junk[sizeof(struct shawk_iter_sock) * 4];
	srand(1);
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rand();
		junk[offsetof(struct shawk_iter_sock, magic)] = 0;
		struct collect c = { 0 };
		size_t used;
		assert_int_equal(iterrec_decode_socks(junk, sizeof(junk),
						      collect_cb, &c, &used),
				 -EBADMSG);
	}
}

static void test_callback_error(void **state)
{
	(void)state;
	struct shawk_iter_sock s[3] = { sock4(), sock4(), sock4() };
	struct collect c = { .fail_at = 2 };
	size_t used;
	assert_int_equal(iterrec_decode_socks(s, sizeof(s), collect_cb, &c,
					      &used),
			 -EINTR);
	assert_int_equal(c.n, 1);
}

struct owners {
	uint32_t tgid[4];
	uint64_t ino[4];
	size_t n;
};

static int owner_cb(uint32_t tgid, uint64_t inode, void *ud)
{
	struct owners *o = ud;
	if (o->n < 4) {
		o->tgid[o->n] = tgid;
		o->ino[o->n] = inode;
	}
	o->n++;
	return 0;
}

static void test_owners(void **state)
{
	(void)state;
	struct shawk_iter_owner w[2] = {
		{ .inode = 5, .tgid = 100, .magic = SHAWK_ITER_OWNER_MAGIC },
		{ .inode = 6, .tgid = 101, .magic = SHAWK_ITER_OWNER_MAGIC },
	};
	struct owners o = { 0 };
	size_t used;
	assert_int_equal(iterrec_decode_owners(w, sizeof(w) - 3, owner_cb, &o,
					       &used),
			 1);
	assert_int_equal(used, sizeof(w[0]));
	assert_int_equal(o.tgid[0], 100);
	assert_int_equal(o.ino[0], 5);
	w[1].tgid = 0; /* no such owner */
	assert_int_equal(iterrec_decode_owners(w, sizeof(w), owner_cb, &o,
					       &used),
			 -EBADMSG);
	w[1].tgid = 101;
	w[1].magic = SHAWK_ITER_SOCK_MAGIC;
	assert_int_equal(iterrec_decode_owners(w, sizeof(w), owner_cb, &o,
					       &used),
			 -EBADMSG);
}

/* The fd reader joins records split across read() calls (a pipe delivers
 * what was written, in pieces of our choosing) and rejects a tail. */
static void test_read_split(void **state)
{
	(void)state;
	struct shawk_iter_sock s[3] = { sock4(), sock4(), sock4() };
	s[2].lport = 9;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	const unsigned char *p = (const unsigned char *)s;
	size_t cuts[] = { 10, sizeof(s[0]) + 7, sizeof(s) };
	size_t prev = 0;
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(write(fds[1], p + prev, cuts[i] - prev),
				 (ssize_t)(cuts[i] - prev));
		prev = cuts[i];
	}
	close(fds[1]);
	/* A buffer of exactly one record and a bit forces many reads. */
	unsigned char buf[sizeof(s[0]) + 5];
	struct collect c = { 0 };
	assert_int_equal(iterrec_read_socks(fds[0], buf, sizeof(buf),
					    collect_cb, &c),
			 3);
	assert_int_equal(c.recs[2].lport, 9);
	close(fds[0]);

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], s, sizeof(s[0]) + 3),
			 (ssize_t)(sizeof(s[0]) + 3));
	close(fds[1]);
	struct collect c2 = { 0 };
	assert_int_equal(iterrec_read_socks(fds[0], buf, sizeof(buf),
					    collect_cb, &c2),
			 -EBADMSG);
	close(fds[0]);
	/* A buffer smaller than a record cannot work. */
	assert_int_equal(iterrec_read_socks(0, buf, 4, collect_cb, &c2),
			 -EINVAL);
}

/* Records of sockets seen through an fd: the holder becomes rec->pid; a
 * socket record's magic, no process or no inode is not one; split reads. */
static void test_fdsocks(void **state)
{
	(void)state;
	struct shawk_iter_fdsock f[3];
	memset(f, 0, sizeof(f));
	for (size_t i = 0; i < 3; i++) {
		f[i].s = sock4();
		f[i].s.magic = SHAWK_ITER_FDSOCK_MAGIC;
		f[i].tgid = 100 + (uint32_t)i;
	}
	f[1].s.state = 10;
	f[2].s.proto = IPPROTO_UDP;
	f[2].s.state = 7;
	struct collect c = { 0 };
	size_t used = 0;
	assert_int_equal(iterrec_decode_fdsocks(f, sizeof(f), collect_cb, &c,
						&used),
			 3);
	assert_int_equal(used, sizeof(f));
	assert_int_equal(c.recs[0].pid, 100);
	assert_int_equal(c.recs[0].inode, 12345);
	assert_int_equal(c.recs[0].lport, 8080);
	uint8_t v4[16] = { 10, 0, 0, 1 };
	assert_memory_equal(c.recs[0].laddr, v4, 16);
	assert_int_equal(c.recs[1].state, 10);
	assert_int_equal(c.recs[2].proto, IPPROTO_UDP);
	assert_int_equal(c.recs[2].pid, 102);
	assert_int_equal(c.recs[2].flags, 0);

	/* A trailing partial record is left for the next read. */
	struct collect c1 = { 0 };
	assert_int_equal(iterrec_decode_fdsocks(f, sizeof(f) - 1, collect_cb,
						&c1, &used),
			 2);
	assert_int_equal(used, 2 * sizeof(f[0]));

	struct shawk_iter_fdsock bad[3] = { f[0], f[0], f[0] };
	bad[0].s.magic = SHAWK_ITER_SOCK_MAGIC; /* a plain socket record */
	bad[1].tgid = 0;
	bad[2].s.inode = 0;
	for (size_t i = 0; i < 3; i++) {
		struct collect cb = { 0 };
		assert_int_equal(iterrec_decode_fdsocks(&bad[i], sizeof(bad[i]),
							collect_cb, &cb, &used),
				 -EBADMSG);
		assert_int_equal(cb.n, 0);
	}
	/* ... nor is an fd record in a socket stream. */
	struct collect c2 = { 0 };
	assert_int_equal(iterrec_decode_socks(&f[0].s, sizeof(f[0].s),
					      collect_cb, &c2, &used),
			 -EBADMSG);

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], f, 50), 50);
	assert_int_equal(write(fds[1], (char *)f + 50, sizeof(f) - 50),
			 (ssize_t)(sizeof(f) - 50));
	close(fds[1]);
	unsigned char buf[sizeof(f[0]) + 3];
	struct collect c3 = { 0 };
	assert_int_equal(iterrec_read_fdsocks(fds[0], buf, sizeof(buf),
					      collect_cb, &c3),
			 3);
	assert_int_equal(c3.recs[1].pid, 101);
	close(fds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_v4),
		cmocka_unit_test(test_decode_v6_mapped),
		cmocka_unit_test(test_partial_record_left),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_owners),
		cmocka_unit_test(test_read_split),
		cmocka_unit_test(test_fdsocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
