/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_TEST_UTIL_H
#define SHAWK_TESTS_TEST_UTIL_H

/*
 * Helpers shared by the cmocka unit tests. Include after <cmocka.h>.
 * Fixtures are found under $SHAWK_FIXTURES, else tests/fixtures relative to
 * the working directory (make runs the tests from the top of the checkout).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	fixture_path(path, sizeof(path), rel);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		print_error("cannot open fixture %s: %s (run from the top of "
			    "the checkout or set SHAWK_FIXTURES)\n",
			    path, strerror(errno));
		fail();
	}
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret_len = len;
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

#endif
