// SPDX-License-Identifier: MIT
/*
 * procfs text parsers, on lines recorded from this machine (see
 * tests/fixtures/sockdiag/README: the /proc/net files hold the same sockets
 * as the sock_diag dumps) and on hand-written edge cases.
 */
#include "probe/procfs.h"

#include <arpa/inet.h>
#include <errno.h>
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

#include "test_util.h"

/* Parses a copy of exactly len bytes so ASan sees a read past the end. */
static int parse_stat_exact(const char *s, size_t len, struct procfs_stat *st)
{
	char *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, s, len);
	int r = procfs_parse_stat(p, len, st);
	free(p);
	return r;
}

/* ---- /proc/<pid>/stat ------------------------------------------------- */

static void test_stat_table(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		uint32_t pid, ppid, pgid;
		uint64_t starttime;
		const char *comm;
	} cases[] = {
		/* comm with spaces and ')' inside: the last ')' ends it. */
		{ "1234 (a) b) (c) S 1 1234 1234 0 -1 4194560 91 0 0 0 0 7 0 "
		  "0 20 0 1 0 93463 2613248 401\n",
		  1234, 1, 1234, 93463, "a) b) (c" },
		{ "42 (my prog) R 7 40 40 34816 42 4194304 1 2 3 4 5 6 7 8 -100 "
		  "-20 3 0 555 0 0",
		  42, 7, 40, 555, "my prog" },
		{ "5 (a(b) S 1 5 5 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9 0 0", 5, 1, 5,
		  9, "a(b" },
		{ "6 () S 1 6 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 10 0 0", 6, 1, 6,
		  10, "" },
		/* 15 characters: the kernel's maximum, kept whole. */
		{ "7 (abcdefghijklmno) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
		  "11 0 0",
		  7, 1, 7, 11, "abcdefghijklmno" },
		/* Longer than comm[16]: truncated, NUL-terminated. */
		{ "8 (abcdefghijklmnopqrstuvwxyz) S 1 8 8 0 -1 0 0 0 0 0 0 0 0 0 "
		  "20 0 1 0 12 0 0",
		  8, 1, 8, 12, "abcdefghijklmno" },
		{ "9 (x)) S 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 13 0 0", 9, 1, 9,
		  13, "x)" },
		{ "4294967295 (max) S 4294967294 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
		  "1 0 18446744073709551609 0 0",
		  4294967295u, 4294967294u, 1, 18446744073709551609ULL, "max" },
		/* Field 22 is the last one present. */
		{ "10 (t) S 1 10 10 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 77", 10, 1, 10,
		  77, "t" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct procfs_stat st;
		memset(&st, 0xee, sizeof(st));
		int r = parse_stat_exact(cases[i].line, strlen(cases[i].line),
					 &st);
		if (r)
			print_error("case %zu: r=%d\n", i, r);
		assert_int_equal(r, 0);
		assert_int_equal(st.pid, cases[i].pid);
		assert_int_equal(st.ppid, cases[i].ppid);
		assert_int_equal(st.pgid, cases[i].pgid);
		assert_true(st.starttime == cases[i].starttime);
		assert_string_equal(st.comm, cases[i].comm);
	}
}

static void test_stat_invalid(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"",
		"1234",
		"1234 (a",			  /* no ')' */
		"1234 a) S 1 1 1",		  /* no '(' */
		"(a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", /* no pid */
		"x (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9",
		"0 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", /* pid 0 */
		"4294967296 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9",
		"99999999999999999999999 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20",
		"1 (a) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", /* ppid */
		"1 (a) S 1 -1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 9", /* pgrp */
		"1 (a) S 1 1",			     /* stops at field 5 */
		"1 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", /* no 22 */
		"1 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x",
		"1 (a) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct procfs_stat st;
		memset(&st, 0xee, sizeof(st));
		int r = parse_stat_exact(cases[i], strlen(cases[i]), &st);
		if (r != -EINVAL)
			print_error("case '%s': r=%d\n", cases[i], r);
		assert_int_equal(r, -EINVAL);
		/* Written only on success. */
		assert_int_equal(st.pid, 0xeeeeeeee);
	}
}

/* Independent reading of fields 1, 2, 4, 5 and 22 of a stat line. */
static void stat_reference(const char *buf, struct procfs_stat *ret)
{
	unsigned pid, ppid, pgid;
	unsigned long long start;
	const char *open = strchr(buf, '(');
	const char *close = strrchr(buf, ')');
	assert_non_null(open);
	assert_non_null(close);
	assert_int_equal(sscanf(buf, "%u", &pid), 1);
	assert_int_equal(sscanf(close + 1,
				" %*c %u %u %*d %*d %*d %*u %*u %*u %*u %*u "
				"%*u %*u %*d %*d %*d %*d %*d %*d %llu",
				&ppid, &pgid, &start),
			 3);
	memset(ret, 0, sizeof(*ret));
	ret->pid = pid;
	ret->ppid = ppid;
	ret->pgid = pgid;
	ret->starttime = start;
	size_t n = (size_t)(close - open - 1);
	if (n > sizeof(ret->comm) - 1)
		n = sizeof(ret->comm) - 1;
	memcpy(ret->comm, open + 1, n);
}

static void check_stat_fixture(const char *rel, const char *want_comm)
{
	size_t len;
	char *buf = fixture_read(rel, &len);
	struct procfs_stat st, ref;
	stat_reference(buf, &ref);
	assert_int_equal(parse_stat_exact(buf, len, &st), 0);
	assert_int_equal(st.pid, ref.pid);
	assert_int_equal(st.ppid, ref.ppid);
	assert_int_equal(st.pgid, ref.pgid);
	assert_true(st.starttime == ref.starttime);
	assert_string_equal(st.comm, want_comm);

	/* Every prefix: parsed or refused, never read past it. */
	for (size_t l = 0; l < len; l++) {
		struct procfs_stat p;
		int r = parse_stat_exact(buf, l, &p);
		assert_true(r == 0 || r == -EINVAL);
		if (r == 0) {
			assert_int_equal(p.pid, ref.pid);
			assert_int_equal(p.pgid, ref.pgid);
		}
	}
	free(buf);
}

static void test_stat_recorded(void **state)
{
	(void)state;
	/* A user process whose comm was set to "a) b) (c" (PR_SET_NAME). */
	check_stat_fixture("procfs/stat_self", "a) b) (c");
	/* A kernel thread: ppid 0, pgrp 0. */
	check_stat_fixture("procfs/stat_kthreadd", "kthreadd");

	size_t len;
	char *buf = fixture_read("procfs/stat_kthreadd", &len);
	struct procfs_stat st;
	assert_int_equal(procfs_parse_stat(buf, len, &st), 0);
	assert_int_equal(st.pid, 2);
	assert_int_equal(st.ppid, 0);
	assert_int_equal(st.pgid, 0);
	free(buf);
}

static void test_stat_live(void **state)
{
	(void)state;
	char buf[4096];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	struct procfs_stat st, ref;
	stat_reference(buf, &ref);
	assert_int_equal(procfs_parse_stat(buf, (size_t)n, &st), 0);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.pgid, getpgrp());
	assert_true(st.starttime == ref.starttime);
	assert_string_equal(st.comm, ref.comm);
}

/* ---- fd link targets -------------------------------------------------- */

static void test_socket_inode(void **state)
{
	(void)state;
	static const struct {
		const char *link;
		uint64_t inode;
	} cases[] = {
		{ "socket:[123]", 123 },
		{ "socket:[1]", 1 },
		{ "socket:[4026531840]", 4026531840ULL },
		{ "socket:[4294967296]", 4294967296ULL }, /* > 32 bits */
		{ "socket:[007]", 7 },
		{ "socket:[0]", 0 },
		{ "socket:[]", 0 },
		{ "socket:[", 0 },
		{ "socket:", 0 },
		{ "socket:[123", 0 },
		{ "socket:123]", 0 },
		{ "socket:[12a]", 0 },
		{ "socket:[-1]", 0 },
		{ "socket:[ 1]", 0 },
		{ "socket:[1]x", 0 },
		{ "Socket:[1]", 0 },
		{ "socket:[99999999999999999999]", 0 }, /* overflow */
		{ "socket:[184467440737095516150]", 0 },
		{ "pipe:[1]", 0 },
		{ "pipe:[123456]", 0 },
		{ "anon_inode:[eventfd]", 0 },
		{ "anon_inode:inotify", 0 },
		{ "/dev/null", 0 },
		{ "/tmp/socket:[1]", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* readlink() does not NUL-terminate: exact-size copy. */
		size_t len = strlen(cases[i].link);
		char *p = malloc(len ? len : 1);
		assert_non_null(p);
		memcpy(p, cases[i].link, len);
		uint64_t ino = procfs_socket_inode(p, len);
		free(p);
		if (ino != cases[i].inode)
			print_error("case '%s': %llu\n", cases[i].link,
				    (unsigned long long)ino);
		assert_true(ino == cases[i].inode);
	}
	/* len, not the NUL, delimits the target. */
	assert_true(procfs_socket_inode("socket:[123]", 11) == 0);
	assert_true(procfs_socket_inode("socket:[123]]", 12) == 123);
}

/* ---- /proc/<pid>/cgroup ----------------------------------------------- */

static void test_cgroup_table(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		const char *buf;
		int r;
		const char *path;
	} cases[] = {
		{ "v2 only", "0::/system.slice/docker-1a2b.scope\n", 0,
		  "/system.slice/docker-1a2b.scope" },
		{ "v2 only, no newline", "0::/user.slice", 0, "/user.slice" },
		{ "v2 root", "0::/\n", 0, "/" },
		{ "v2 kubelet systemd driver",
		  "0::/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod0d4b1f8e_6a7c_4d8e_9f3e_1b2c3d4e5f60."
		  "slice/cri-containerd-"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		  "cdef.scope\n",
		  0,
		  "/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod0d4b1f8e_6a7c_4d8e_9f3e_1b2c3d4e5f60."
		  "slice/cri-containerd-"
		  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
		  "cdef.scope" },
		{ "hybrid: the 0:: line wins over name=systemd",
		  "12:memory:/docker/abc\n"
		  "11:cpu,cpuacct:/docker/abc\n"
		  "1:name=systemd:/system.slice/docker.service\n"
		  "0::/system.slice/docker-abc.scope\n",
		  0, "/system.slice/docker-abc.scope" },
		{ "hybrid, 0:: first",
		  "0::/a\n1:name=systemd:/b\n", 0, "/a" },
		{ "v1 only: name=systemd fallback",
		  "12:pids:/docker/abc\n"
		  "4:memory:/docker/abc\n"
		  "1:name=systemd:/docker/abc\n",
		  0, "/docker/abc" },
		{ "v1 only, name=systemd last line without newline",
		  "2:cpu:/x\n1:name=systemd:/y", 0, "/y" },
		{ "v1 only without name=systemd",
		  "12:pids:/docker/abc\n4:memory:/docker/abc\n", -ENOENT,
		  NULL },
		{ "name=systemd2 is another hierarchy",
		  "1:name=systemd2:/x\n", -ENOENT, NULL },
		{ "10:: is not the v2 line", "10::/x\n", -ENOENT, NULL },
		{ "empty", "", -ENOENT, NULL },
		{ "blank lines", "\n\n\n", -ENOENT, NULL },
		{ "garbage", "hello world", -ENOENT, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[512];
		size_t len = strlen(cases[i].buf);
		char *p = malloc(len ? len : 1);
		assert_non_null(p);
		memcpy(p, cases[i].buf, len);
		strcpy(out, "untouched");
		int r = procfs_parse_cgroup_v2(p, len, out, sizeof(out));
		free(p);
		if (r != cases[i].r)
			print_error("%s: r=%d\n", cases[i].what, r);
		assert_int_equal(r, cases[i].r);
		if (r == 0)
			assert_string_equal(out, cases[i].path);
		else
			assert_string_equal(out, "untouched");
	}
}

static void test_cgroup_small_buffer(void **state)
{
	(void)state;
	static const char *const bufs[] = {
		"0::/abcd\n",
		"3:memory:/zz\n1:name=systemd:/abcd\n",
	};
	for (size_t i = 0; i < 2; i++) {
		char out[8];
		size_t len = strlen(bufs[i]);
		/* "/abcd" needs 6 bytes with its NUL. */
		memset(out, 'X', sizeof(out));
		assert_int_equal(procfs_parse_cgroup_v2(bufs[i], len, out, 5),
				 -ENAMETOOLONG);
		assert_int_equal(out[0], 'X');
		assert_int_equal(procfs_parse_cgroup_v2(bufs[i], len, out, 1),
				 -ENAMETOOLONG);
		assert_int_equal(procfs_parse_cgroup_v2(bufs[i], len, out, 0),
				 -ENAMETOOLONG);
		assert_int_equal(out[0], 'X');
		assert_int_equal(procfs_parse_cgroup_v2(bufs[i], len, out, 6),
				 0);
		assert_string_equal(out, "/abcd");
		assert_int_equal(out[6], 'X');
	}
}

static void test_cgroup_recorded(void **state)
{
	(void)state;
	/* This host is hybrid: v1 controllers, name=systemd, and "0::" for
	 * the v2 hierarchy, where the recorder sat in /shawk-record. */
	size_t len;
	char *buf = fixture_read("procfs/cgroup_hybrid", &len);
	char out[256];
	assert_non_null(strstr(buf, "name=systemd"));
	assert_int_equal(procfs_parse_cgroup_v2(buf, len, out, sizeof(out)), 0);
	assert_string_equal(out, "/shawk-record");

	/* Without its v2 line, the name=systemd line answers. */
	char *v2 = strstr(buf, "0::");
	assert_non_null(v2);
	assert_int_equal(procfs_parse_cgroup_v2(buf, (size_t)(v2 - buf), out,
						sizeof(out)),
			 0);
	assert_string_equal(out, "/");
	free(buf);
}

/* ---- /proc/net/{tcp,udp}[6] ------------------------------------------- */

static void assert_addr(int family, const uint8_t got[16], const char *want)
{
	uint8_t w[16] = { 0 };
	assert_int_equal(inet_pton(family, want, w), 1);
	if (memcmp(got, w, 16)) {
		char g[64];
		inet_ntop(AF_INET6, got, g, sizeof(g));
		print_error("address %s (as v6), want %s\n", g, want);
	}
	assert_memory_equal(got, w, 16);
}

/* Parses every line of a recorded /proc/net file; checks each socket
 * against the manifest. Returns how many sockets it checked. */
static size_t check_net_file(const struct manifest *m, const char *file,
			     const char *dump)
{
	char rel[64];
	size_t len, checked = 0, lines = 0;
	snprintf(rel, sizeof(rel), "procfs/%s", file);
	char *text = fixture_read(rel, &len);
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct sock_record rec;
		memset(&rec, 0xee, sizeof(rec));
		int r = procfs_parse_net_line(line, &rec);
		if (lines++ == 0) {
			assert_int_equal(r, -ENOENT); /* the header */
			continue;
		}
		if (r)
			print_error("%s: '%s': r=%d\n", file, line, r);
		assert_int_equal(r, 0);
		/* proto and netns are the caller's. */
		assert_int_equal(rec.proto, 0);
		assert_true(rec.netns == 0);
		assert_int_equal(rec.uid, 0);

		const struct manifest_entry *e = NULL;
		for (size_t i = 0; i < m->nentries; i++)
			if (m->entries[i].inode == rec.inode)
				e = &m->entries[i];
		assert_non_null(e);
		assert_string_equal(e->dump, dump);
		const struct manifest_expect *x = NULL;
		for (size_t i = 0; i < sizeof(manifest_expects) /
					       sizeof(manifest_expects[0]);
		     i++)
			if (strcmp(manifest_expects[i].role, e->role) == 0)
				x = &manifest_expects[i];
		assert_non_null(x);
		if (rec.family != x->family)
			print_error("%s: family %d\n", e->role, rec.family);
		assert_int_equal(rec.family, x->family);
		assert_addr(x->family, rec.laddr, x->laddr);
		assert_addr(x->family, rec.raddr, x->raddr);
		assert_int_equal(rec.lport, e->lport);
		assert_int_equal(rec.rport, e->rport);
		assert_int_equal(rec.state, x->state);
		checked++;
	}
	free(text);
	return checked;
}

static void test_net_recorded(void **state)
{
	(void)state;
	struct manifest m;
	assert_int_equal(manifest_load(&m), 0);
	size_t n = check_net_file(&m, "net_tcp", "tcp4") +
		   check_net_file(&m, "net_tcp6", "tcp6") +
		   check_net_file(&m, "net_udp", "udp4") +
		   check_net_file(&m, "net_udp6", "udp6");
	/* Every socket of the recorder, each in the file of its family. */
	assert_int_equal(n, m.nentries);
}

static void test_net_byte_order(void **state)
{
	(void)state;
	struct sock_record rec;

	/* The kernel prints each address word as a native-endian %08X of
	 * network-order bytes; ports are plain host-order %04X. */
	assert_int_equal(
		procfs_parse_net_line(
			"   0: 0100007F:9C41 0200000A:01BB 01 00000000:00000000 "
			"00:00000000 00000000  1000        0 318665 1 "
			"00000000cc61273b 100 0 0 10 0",
			&rec),
		0);
	assert_int_equal(rec.family, AF_INET);
	assert_addr(AF_INET, rec.laddr, "127.0.0.1");
	assert_addr(AF_INET, rec.raddr, "10.0.0.2");
	assert_int_equal(rec.lport, 40001);
	assert_int_equal(rec.rport, 443);
	assert_int_equal(rec.state, 1);
	assert_int_equal(rec.uid, 1000);
	assert_true(rec.inode == 318665);

	/* IPv6 fd00::1 port 8080 to 2001:db8::2 port 53000. */
	assert_int_equal(
		procfs_parse_net_line(
			"   4: 000000FD000000000000000001000000:1F90 "
			"B80D0120000000000000000002000000:CF08 01 "
			"00000000:00000000 00:00000000 00000000     0        0 "
			"99 2 0000000000000000 20 0 0 10 -1",
			&rec),
		0);
	assert_int_equal(rec.family, AF_INET6);
	assert_addr(AF_INET6, rec.laddr, "fd00::1");
	assert_addr(AF_INET6, rec.raddr, "2001:db8::2");
	assert_int_equal(rec.lport, 8080);
	assert_int_equal(rec.rport, 53000);
	assert_true(rec.inode == 99);

	/* Lower-case hex and v4-mapped on both ends. */
	assert_int_equal(
		procfs_parse_net_line(
			"   3: 0000000000000000ffff00000100007f:9c43 "
			"0000000000000000ffff00000100007f:9650 01 "
			"00000000:00000000 00:00000000 00000000     0        0 "
			"7 1 0 20 0 0 10 -1",
			&rec),
		0);
	assert_int_equal(rec.family, AF_INET);
	assert_addr(AF_INET, rec.laddr, "127.0.0.1");
	assert_addr(AF_INET, rec.raddr, "127.0.0.1");
	assert_int_equal(rec.lport, 40003);
	assert_int_equal(rec.rport, 38480);

	/* A [::] socket connected to a mapped peer: local reads 0.0.0.0. */
	assert_int_equal(
		procfs_parse_net_line(
			"   3: 00000000000000000000000000000000:9c43 "
			"0000000000000000FFFF00000200000A:0035 01 "
			"00000000:00000000 00:00000000 00000000     0        0 "
			"8 1 0 20 0 0 10 -1",
			&rec),
		0);
	assert_int_equal(rec.family, AF_INET);
	assert_addr(AF_INET, rec.laddr, "0.0.0.0");
	assert_addr(AF_INET, rec.raddr, "10.0.0.2");
}

static void test_net_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int r;
	} cases[] = {
		{ "  sl  local_address rem_address   st tx_queue rx_queue tr "
		  "tm->when retrnsmt   uid  timeout inode",
		  -ENOENT },
		{ "sl", -ENOENT },
		{ "", -EINVAL },
		{ "garbage", -EINVAL },
		{ "\n", -EINVAL },
		{ "   0:", -EINVAL },
		{ "   0: ", -EINVAL },
		{ "   0 0100007F:9C41 00000000:0000 0A", -EINVAL },
		{ "   0: 0100007F", -EINVAL },
		{ "   0: 0100007F:", -EINVAL },
		{ "   0: 0100007F:9C41", -EINVAL },
		{ "   0: 0100007F:9C4 00000000:0000 0A", -EINVAL },
		{ "   0: 0100007G:9C41 00000000:0000 0A", -EINVAL },
		{ "   0: 100007F:9C41 00000000:0000 0A", -EINVAL },
		{ "   0: 0100007F00:9C41 00000000:0000 0A", -EINVAL },
		/* Families disagree. */
		{ "   0: 0100007F:9C41 00000000000000000000000000000000:0000 0A "
		  "00000000:00000000 00:00000000 00000000     0        0 1",
		  -EINVAL },
		{ "   0: 0100007F:9C41 00000000:0000", -EINVAL },
		{ "   0: 0100007F:9C41 00000000:0000 ZZ", -EINVAL },
		/* Missing uid / inode. */
		{ "   0: 0100007F:9C41 00000000:0000 0A 00000000:00000000 "
		  "00:00000000 00000000",
		  -EINVAL },
		{ "   0: 0100007F:9C41 00000000:0000 0A 00000000:00000000 "
		  "00:00000000 00000000     0        0",
		  -EINVAL },
		{ "   0: 0100007F:9C41 00000000:0000 0A 00000000:00000000 "
		  "00:00000000 00000000     x        0 12",
		  -EINVAL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sock_record rec;
		memset(&rec, 0xee, sizeof(rec));
		int r = procfs_parse_net_line(cases[i].line, &rec);
		if (r != cases[i].r)
			print_error("case '%s': r=%d\n", cases[i].line, r);
		assert_int_equal(r, cases[i].r);
		assert_int_equal(rec.lport, 0xeeee); /* untouched */
	}

	/* Every prefix of recorded lines: no read past the NUL. */
	static const char *const files[] = { "procfs/net_tcp",
					     "procfs/net_tcp6" };
	for (size_t f = 0; f < 2; f++) {
		size_t len;
		char *text = fixture_read(files[f], &len);
		for (size_t l = 0; l <= len; l++) {
			char *p = malloc(l + 1);
			assert_non_null(p);
			memcpy(p, text, l);
			p[l] = '\0';
			struct sock_record rec;
			int r = procfs_parse_net_line(p, &rec);
			assert_true(r == 0 || r == -EINVAL || r == -ENOENT);
			free(p);
		}
		free(text);
	}
}

/* ---- cmdline ------------------------------------------------------------ */

static void test_cmdline(void **state)
{
	(void)state;
	static const struct {
		const char *buf;
		size_t len;
		const char *out;
	} cases[] = {
		{ "nginx\0-g\0daemon off;\0", 22, "nginx -g daemon off;" },
		{ "a\0b\0c\0", 6, "a b c" },
		{ "abc", 3, "abc" }, /* no trailing NUL (rewritten argv) */
		{ "a\0\0b\0", 5, "a  b" },
		{ "\0\0\0", 3, "" },
		{ "", 0, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The caller leaves one byte after len for the NUL. */
		char *p = malloc(cases[i].len + 1);
		assert_non_null(p);
		memcpy(p, cases[i].buf, cases[i].len);
		p[cases[i].len] = 'X';
		procfs_cmdline_to_string(p, cases[i].len);
		assert_string_equal(p, cases[i].out);
		free(p);
	}
}

/* Text recorded from /proc/self/net/sockstat{,6} on kernel 6.18. */
static void test_sockstat_inuse(void **state)
{
	(void)state;
	static const char v4[] =
		"sockets: used 30\n"
		"TCP: inuse 3 orphan 0 tw 1 alloc 1 mem 0\n"
		"UDP: inuse 2 mem 256\n"
		"UDPLITE: inuse 7\n"
		"RAW: inuse 5\n"
		"FRAG: inuse 0 memory 0\n";
	static const char v6[] = "TCP6: inuse 40000\n"
				 "UDP6: inuse 1\n"
				 "UDPLITE6: inuse 9\n"
				 "RAW6: inuse 0\n"
				 "FRAG6: inuse 0 memory 0\n";
	static const char idle[] = "sockets: used 2\n"
				   "TCP: inuse 0 orphan 0 tw 4 alloc 0 mem 0\n"
				   "UDP: inuse 0 mem 0";
	uint64_t v = 99;
	assert_int_equal(procfs_parse_sockstat_inuse(v4, strlen(v4), &v), 0);
	assert_int_equal(v, 5); /* TCP + UDP; UDPLITE and RAW not counted */
	assert_int_equal(procfs_parse_sockstat_inuse(v6, strlen(v6), &v), 0);
	assert_int_equal(v, 40001);
	/* TIME_WAIT only: nothing to report. No final newline. */
	assert_int_equal(procfs_parse_sockstat_inuse(idle, strlen(idle), &v),
			 0);
	assert_int_equal(v, 0);
	/* Truncated or foreign text is an error, never "empty". */
	assert_int_equal(procfs_parse_sockstat_inuse(v4, 10, &v), -EBADMSG);
	assert_int_equal(procfs_parse_sockstat_inuse("TCP: inuse x\n", 13, &v),
			 -EBADMSG);
	assert_int_equal(procfs_parse_sockstat_inuse(
				 "TCP: inuse 99999999999999999999999\n", 35, &v),
			 -EBADMSG);
	assert_int_equal(procfs_parse_sockstat_inuse("", 0, &v), -EBADMSG);
	/* Cut right after the prefix. */
	assert_int_equal(procfs_parse_sockstat_inuse("TCP: inuse ", 11, &v),
			 -EBADMSG);
}

/* procfs/net_snmp: /proc/net/snmp recorded on this machine (kernel 6.18). */
static void test_snmp_tcp(void **state)
{
	(void)state;
	size_t len;
	char *buf = fixture_read("procfs/net_snmp", &len);
	struct procfs_snmp_tcp t;
	assert_int_equal(procfs_parse_snmp_tcp(buf, len, &t), 0);
	assert_int_equal(t.active_opens, 2012);
	assert_int_equal(t.passive_opens, 1125);
	assert_int_equal(t.attempt_fails, 783);
	assert_int_equal(t.estab_resets, 206);
	assert_int_equal(t.curr_estab, 0);
	/* Cut inside the Tcp value line: a field is missing. */
	const char *vals = strstr(strstr(buf, "Tcp: ") + 5, "Tcp: ");
	assert_non_null(vals);
	assert_int_equal(procfs_parse_snmp_tcp(buf, (size_t)(vals - buf) + 12,
					       &t),
			 -EBADMSG);
	/* Header only. */
	assert_int_equal(procfs_parse_snmp_tcp(buf, (size_t)(vals - buf), &t),
			 -EBADMSG);
	free(buf);

	static const char ok[] =
		"Tcp: CurrEstab EstabResets AttemptFails PassiveOpens "
		"ActiveOpens MaxConn\n"
		"Tcp: 7 6 5 4 3 -1"; /* any column order, no final newline */
	assert_int_equal(procfs_parse_snmp_tcp(ok, strlen(ok), &t), 0);
	assert_int_equal(t.curr_estab, 7);
	assert_int_equal(t.active_opens, 3);
	static const char bad[] = "Tcp: ActiveOpens PassiveOpens AttemptFails "
				  "EstabResets CurrEstab\n"
				  "Tcp: 1 2 x 4 5\n";
	assert_int_equal(procfs_parse_snmp_tcp(bad, strlen(bad), &t),
			 -EBADMSG);
	assert_int_equal(procfs_parse_snmp_tcp("", 0, &t), -EBADMSG);
	assert_int_equal(procfs_parse_snmp_tcp("Udp: 1\n", 7, &t), -EBADMSG);
}

static void test_sockstat_value(void **state)
{
	(void)state;
	static const char v4[] =
		"sockets: used 29\n"
		"TCP: inuse 1 orphan 0 tw 14 alloc 100009 mem 239\n"
		"UDP: inuse 3 mem 256\n"
		"UDPLITE: inuse 0\n";
	uint64_t v = 99;
	assert_int_equal(procfs_parse_sockstat_value(v4, strlen(v4), "TCP",
						     "tw", &v), 0);
	assert_int_equal(v, 14);
	assert_int_equal(procfs_parse_sockstat_value(v4, strlen(v4), "UDP",
						     "inuse", &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(procfs_parse_sockstat_value(v4, strlen(v4), "TCP6",
						     "inuse", &v), -ENOENT);
	assert_int_equal(procfs_parse_sockstat_value(v4, strlen(v4), "UDP",
						     "tw", &v), -ENOENT);
	assert_int_equal(procfs_parse_sockstat_value("TCP: inuse x\n", 13,
						     "TCP", "inuse", &v),
			 -EBADMSG);
	assert_int_equal(procfs_parse_sockstat_value("TCP: inuse ", 11, "TCP",
						     "inuse", &v), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_table),
		cmocka_unit_test(test_stat_invalid),
		cmocka_unit_test(test_stat_recorded),
		cmocka_unit_test(test_stat_live),
		cmocka_unit_test(test_socket_inode),
		cmocka_unit_test(test_cgroup_table),
		cmocka_unit_test(test_cgroup_small_buffer),
		cmocka_unit_test(test_cgroup_recorded),
		cmocka_unit_test(test_net_recorded),
		cmocka_unit_test(test_net_byte_order),
		cmocka_unit_test(test_net_invalid),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_sockstat_inuse),
		cmocka_unit_test(test_snmp_tcp),
		cmocka_unit_test(test_sockstat_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
