// SPDX-License-Identifier: MIT
/* Whole-file reads (core/file.c): bounds, NUL termination, errors. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

struct dir {
	char path[64];
	int fd;
};

static int setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));
	strcpy(d->path, "/tmp/shawk-test-file.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*state = d;
	if (d->fd < 0)
		return -1;
	write_file_at(d->fd, "empty", "", 0);
	write_file_at(d->fd, "abc", "abc", 3);
	write_file_at(d->fd, "abcd", "abcd", 4);
	return 0;
}

static int teardown(void **state)
{
	struct dir *d = *state;
	static const char *const names[] = { "empty", "abc", "abcd", "big" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlinkat(d->fd, names[i], 0);
	close(d->fd);
	rmdir(d->path);
	free(d);
	return 0;
}

static const char *at(const struct dir *d, const char *name)
{
	static char p[128];
	snprintf(p, sizeof(p), "%s/%s", d->path, name);
	return p;
}

static void test_file_read(void **state)
{
	struct dir *d = *state;
	char buf[4];
	assert_int_equal(file_read(at(d, "empty"), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	/* Exactly bufsz - 1 bytes fit. */
	assert_int_equal(file_read(at(d, "abc"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
	/* One more does not: the prefix is still terminated. */
	assert_int_equal(file_read(at(d, "abcd"), buf, sizeof(buf)), -EFBIG);
	assert_string_equal(buf, "abc");
	assert_int_equal(file_read(at(d, "none"), buf, sizeof(buf)), -ENOENT);
	assert_int_equal(file_read(at(d, "abc"), buf, 0), -EINVAL);
	/* A directory opens but does not read. */
	assert_int_equal(file_read(d->path, buf, sizeof(buf)), -EISDIR);
}

static void test_file_read_alloc(void **state)
{
	struct dir *d = *state;
	char *buf;
	size_t len;
	assert_int_equal(file_read_alloc(at(d, "empty"), 0, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	free(buf);
	assert_int_equal(file_read_alloc(at(d, "abc"), 3, &buf, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(buf, "abc");
	free(buf);
	buf = NULL;
	assert_int_equal(file_read_alloc(at(d, "abcd"), 3, &buf, &len), -EFBIG);
	assert_null(buf); /* out-parameters untouched on failure */
	assert_int_equal(file_read_alloc(at(d, "none"), 3, &buf, &len), -ENOENT);

	/* Past the first buffer, through several doublings, up to the
	 * bound exactly. */
	size_t n = 100000;
	char *want = malloc(n);
	assert_non_null(want);
	for (size_t i = 0; i < n; i++)
		want[i] = (char)('a' + i % 26);
	write_file_at(d->fd, "big", want, n);
	assert_int_equal(file_read_alloc(at(d, "big"), n, &buf, &len), 0);
	assert_int_equal(len, n);
	assert_memory_equal(buf, want, n);
	assert_int_equal(buf[n], '\0');
	free(buf);
	assert_int_equal(file_read_alloc(at(d, "big"), n - 1, &buf, &len),
			 -EFBIG);
	free(want);

	/* procfs hands out a file in pieces of at most a page. */
	assert_int_equal(file_read_alloc("/proc/self/maps", 1 << 24, &buf,
					 &len),
			 0);
	assert_true(len > 0 && strlen(buf) == len);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_file_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_read_alloc, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
