/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_GOLDEN_H
#define SHAWK_TESTS_GOLDEN_H

/*
 * Golden files: output compared byte for byte with a fixture. Set
 * SHAWK_UPDATE_GOLDEN=1 to rewrite the fixture after an intended change.
 * Include after test_util.h.
 */
static inline void golden_check(const char *rel, const char *buf,
				size_t len)
{
	if (getenv("SHAWK_UPDATE_GOLDEN")) {
		char path[4096];
		fixture_path(path, sizeof(path), rel);
		FILE *o = fopen(path, "we");
		assert_non_null(o);
		fwrite(buf, 1, len, o);
		fclose(o);
	}
	size_t wl;
	char *want = fixture_read(rel, &wl);
	if (wl != len || memcmp(want, buf, len) != 0)
		print_error("%s differs; got:\n%.*s\n", rel, (int)len, buf);
	assert_int_equal(wl, len);
	assert_memory_equal(want, buf, len);
	free(want);
}

#endif
