/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_TEST_UTIL_H
#define SHAWK_TESTS_TEST_UTIL_H

/*
 * Helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 * Fixtures are found under $SHAWK_FIXTURES, else tests/fixtures relative to
 * the working directory (make runs the tests from the top of the checkout).
 */

#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A TCP connection to 127.0.0.1:port; the test fails when it cannot. */
static inline int test_dial_loopback(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static inline void fixture_path(char *buf, size_t bufsz, const char *rel)
{
	const char *dir = getenv("SHAWK_FIXTURES");
	snprintf(buf, bufsz, "%s/%s", dir && *dir ? dir : "tests/fixtures",
		 rel);
}

/*
 * Reads a fixture completely into a malloc'd, NUL-terminated buffer (the
 * NUL is not counted in *ret_len). Fails the test when it cannot.
 */
static inline char *fixture_read(const char *rel, size_t *ret_len)
{
	char path[4096];
	char *buf;
	fixture_path(path, sizeof(path), rel);
	/* Fixtures are small: 64 MiB is a bound, not an expectation. */
	int r = file_read_alloc(path, 64u << 20, &buf, ret_len);
	if (r < 0) {
		print_error("cannot read fixture %s: %s (run from the top of "
			    "the checkout or set SHAWK_FIXTURES)\n",
			    path, strerror(-r));
		fail();
	}
	return buf;
}

/* Writes s to dir/rel, creating the file (mode 0644). */
static inline void write_file_at(int dirfd, const char *rel, const char *s,
				 size_t len)
{
	int fd = openat(dirfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0644);
	if (fd < 0) {
		print_error("cannot create %s: %s\n", rel, strerror(errno));
		fail();
	}
	assert_int_equal(write(fd, s, len), (ssize_t)len);
	close(fd);
}

/*
 * tests/fixtures/sockdiag/manifest.txt: the sockets that
 * tests/tools/record_sockdiag.c created (see the README next to it).
 */
struct manifest_entry {
	char role[32];
	char dump[16];
	char laddr[INET6_ADDRSTRLEN];
	char raddr[INET6_ADDRSTRLEN];
	unsigned lport, rport;
	uint64_t inode, cookie;
};

struct manifest_seq {
	char dump[16];
	uint32_t seq;
};

struct manifest {
	uint64_t cgroup_id;
	struct manifest_entry entries[32];
	size_t nentries;
	struct manifest_seq seqs[8];
	size_t nseqs;
};

/* Returns 0, or -1 after printing what is wrong. */
static inline int manifest_load(struct manifest *m)
{
	size_t len;
	char *text = fixture_read("sockdiag/manifest.txt", &len);
	char *save = NULL;
	int r = 0;

	memset(m, 0, sizeof(*m));
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long a, b;
		struct manifest_entry *e = &m->entries[m->nentries];
		struct manifest_seq *q = &m->seqs[m->nseqs];
		if (line[0] == '#')
			continue;
		if (sscanf(line, "cgroup_id %llu", &a) == 1) {
			m->cgroup_id = a;
		} else if (m->nseqs < sizeof(m->seqs) / sizeof(m->seqs[0]) &&
			   sscanf(line, "seq %15s %llu", q->dump, &a) == 2) {
			q->seq = (uint32_t)a;
			m->nseqs++;
		} else if (m->nentries <
				   sizeof(m->entries) / sizeof(m->entries[0]) &&
			   sscanf(line, "%31s %15s %45s %u %45s %u %llu %llu",
				  e->role, e->dump, e->laddr, &e->lport,
				  e->raddr, &e->rport, &a, &b) == 8) {
			e->inode = a;
			e->cookie = b;
			m->nentries++;
		} else {
			print_error("bad manifest line '%s'\n", line);
			r = -1;
		}
	}
	free(text);
	return r;
}

static inline const struct manifest_entry *
manifest_entry(const struct manifest *m, const char *role)
{
	for (size_t i = 0; i < m->nentries; i++)
		if (strcmp(m->entries[i].role, role) == 0)
			return &m->entries[i];
	print_error("no role '%s' in the manifest\n", role);
	fail();
	return NULL;
}

/*
 * What a parser must make of each recorded socket: family and addresses
 * after v4-mapped normalisation, state (TCP_* numbers; UDP: 1 connected,
 * 7 bound). Ports come from the manifest.
 */
struct manifest_expect {
	const char *role;
	int proto;
	int family;
	uint8_t state;
	const char *laddr, *raddr;
};

static const struct manifest_expect manifest_expects[] = {
	{ "tcp4_listen", IPPROTO_TCP, AF_INET, 10, "127.0.0.1", "0.0.0.0" },
	{ "tcp4_client", IPPROTO_TCP, AF_INET, 1, "127.0.0.1", "127.0.0.1" },
	{ "tcp4_server", IPPROTO_TCP, AF_INET, 1, "127.0.0.1", "127.0.0.1" },
	{ "tcp6_listen", IPPROTO_TCP, AF_INET6, 10, "::1", "::" },
	{ "tcp6_client", IPPROTO_TCP, AF_INET6, 1, "::1", "::1" },
	{ "tcp6_server", IPPROTO_TCP, AF_INET6, 1, "::1", "::1" },
	{ "tcp6_any_listen", IPPROTO_TCP, AF_INET6, 10, "::", "::" },
	{ "mapped_client", IPPROTO_TCP, AF_INET, 1, "127.0.0.1", "127.0.0.1" },
	/* AF_INET6 socket with ::ffff:127.0.0.1 on both ends. */
	{ "mapped_server", IPPROTO_TCP, AF_INET, 1, "127.0.0.1", "127.0.0.1" },
	/* AF_INET6 listener bound to ::ffff:127.0.0.1, peer "::". */
	{ "tcp6_mapped_listen", IPPROTO_TCP, AF_INET, 10, "127.0.0.1",
	  "0.0.0.0" },
	{ "udp4_bound", IPPROTO_UDP, AF_INET, 7, "127.0.0.1", "0.0.0.0" },
	{ "udp4_connected", IPPROTO_UDP, AF_INET, 1, "127.0.0.1",
	  "127.0.0.1" },
	{ "udp6_bound", IPPROTO_UDP, AF_INET6, 7, "::1", "::" },
	{ "udp6_connected", IPPROTO_UDP, AF_INET6, 1, "::1", "::1" },
	{ "udp6_any_bound", IPPROTO_UDP, AF_INET6, 7, "::", "::" },
	{ "udp6_mapped_connected", IPPROTO_UDP, AF_INET, 1, "127.0.0.1",
	  "127.0.0.1" },
};

/* ---- temp trees (fake /proc and the like) ------------------------------ */

struct tmp_tree {
	char root[64];
	int dfd;
};

static inline int tmp_tree_rm_entry_(const char *path, const struct stat *st,
				     int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes path and everything below it. 0 or -1. */
static inline int rm_tree(const char *path)
{
	return nftw(path, tmp_tree_rm_entry_, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new tree /tmp/shawk-<name>-XXXXXX, opened; NULL on failure. */
static inline struct tmp_tree *tmp_tree_new(const char *name)
{
	struct tmp_tree *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->root, sizeof(t->root), "/tmp/shawk-%s-XXXXXX", name);
	if (!mkdtemp(t->root) ||
	    (t->dfd = open(t->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		free(t);
		return NULL;
	}
	return t;
}

static inline void tmp_tree_free(struct tmp_tree *t)
{
	if (!t)
		return;
	close(t->dfd);
	rm_tree(t->root);
	free(t);
}

#endif
