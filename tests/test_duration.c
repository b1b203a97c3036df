// SPDX-License-Identifier: MIT
#include "core/duration.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static void test_duration_parse_valid(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t ms;
	} cases[] = {
		{ "0ms", 0 },
		{ "0s", 0 },
		{ "1ms", 1 },
		{ "500ms", 500 },
		{ "1s", SEC },
		{ "90s", 90 * SEC },
		{ "1m", MIN },
		{ "10m", 10 * MIN },
		{ "2h", 2 * HOUR },
		{ "1d", DAY },
		{ "365d", 365 * DAY },
		{ "1h30m", HOUR + 30 * MIN },
		{ "1m1ms", MIN + 1 },
		{ "1d2h3m4s5ms", DAY + 2 * HOUR + 3 * MIN + 4 * SEC + 5 },
		/* The same unit twice is a sum too. */
		{ "1s1s", 2 * SEC },
		{ "007s", 7 * SEC },
		/* Near INT64_MAX (the digit loop's bound is conservative:
		 * it stops 8 short of INT64_MAX itself). */
		{ "9223372036854775799ms", INT64_MAX - 8 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int r = duration_parse_ms(cases[i].in, &ms);
		if (r != 0 || ms != cases[i].ms)
			print_error("case '%s': r=%d ms=%lld\n", cases[i].in,
				    r, (long long)ms);
		assert_int_equal(r, 0);
		assert_true(ms == cases[i].ms);
	}
}

static void test_duration_parse_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int err;
	} cases[] = {
		{ "", -EINVAL },
		{ "banana", -EINVAL },
		{ "-1s", -EINVAL },
		{ "+1s", -EINVAL },
		{ "10", -EINVAL }, /* a bare number has no unit */
		{ "1x", -EINVAL },
		{ "1 s", -EINVAL },
		{ " 1s", -EINVAL },
		{ "1s ", -EINVAL },
		{ "1.5s", -EINVAL },
		{ "1S", -EINVAL },
		{ "s", -EINVAL },
		{ "1h30", -EINVAL }, /* trailing number without unit */
		{ "1msx", -EINVAL },
		{ "1w", -EINVAL },
		{ "9223372036854775808ms", -ERANGE },
		{ "99999999999999999999s", -ERANGE },
		{ "9223372036854775807s", -ERANGE },
		{ "106751991168d", -ERANGE }, /* * 86400000 > INT64_MAX */
		{ "9223372036854775799ms9ms", -ERANGE }, /* sum overflows */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int r = duration_parse_ms(cases[i].in, &ms);
		if (r != cases[i].err)
			print_error("case '%s': r=%d, want %d\n", cases[i].in,
				    r, cases[i].err);
		assert_int_equal(r, cases[i].err);
		/* Out-parameters are written only on success. */
		assert_true(ms == -42);
	}
	int64_t ms = -42;
	assert_int_equal(duration_parse_ms(NULL, &ms), -EINVAL);
	assert_true(ms == -42);
}

static void test_duration_format(void **state)
{
	(void)state;
	static const struct {
		int64_t ms;
		const char *out;
	} cases[] = {
		{ 0, "0ms" },
		{ 1, "1ms" },
		{ 500, "500ms" },
		{ 1500, "1500ms" },
		{ SEC, "1s" },
		{ 90 * SEC, "90s" },
		{ MIN, "1m" },
		{ 10 * MIN, "10m" },
		{ 90 * MIN, "90m" },
		{ HOUR, "1h" },
		{ 25 * HOUR, "25h" },
		{ DAY, "1d" },
		{ 7 * DAY, "7d" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[32];
		memset(buf, 'X', sizeof(buf));
		duration_format(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].out);

		/* And the formatted form parses back to the same value. */
		int64_t back = -1;
		assert_int_equal(duration_parse_ms(buf, &back), 0);
		assert_true(back == cases[i].ms);
	}

	/* A short buffer is truncated, still NUL-terminated. */
	char small[3];
	duration_format(1500, small, sizeof(small));
	assert_string_equal(small, "15");
}

static void test_rfc3339_valid(void **state)
{
	(void)state;
	/* Reference values from `date -u -d ... +%s%3N`. */
	static const struct {
		const char *in;
		int64_t ms;
	} cases[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "1970-01-01T00:00:01Z", 1000 },
		{ "2000-01-01T00:00:00Z", 946684800000LL },
		{ "2026-11-22T10:00:00Z", 1795341600000LL },
		{ "2026-11-22t10:00:00z", 1795341600000LL },
		{ "2026-11-22 10:00:00Z", 1795341600000LL },
		{ "2026-11-22T12:00:00+02:00", 1795341600000LL },
		{ "2026-11-22T05:30:00-04:30", 1795341600000LL },
		{ "2026-11-22T10:00:00+00:00", 1795341600000LL },
		{ "2026-11-22T10:00:00-00:00", 1795341600000LL },
		{ "2026-11-22T10:00:00.5Z", 1795341600500LL },
		{ "2026-11-22T10:00:00.05Z", 1795341600050LL },
		{ "2026-11-22T10:00:00.123Z", 1795341600123LL },
		/* Digits beyond milliseconds are truncated. */
		{ "2026-11-22T10:00:00.123999999Z", 1795341600123LL },
		{ "2026-11-22T12:00:00.250+02:00", 1795341600250LL },
		/* Leap day, end of year. */
		{ "2024-02-29T23:59:59Z", 1709251199000LL },
		{ "1999-12-31T23:59:59Z", 946684799000LL },
		/* Before the epoch. */
		{ "1969-12-31T23:59:59Z", -1000 },
		/* A leap second reads as the first second of the next minute. */
		{ "2016-12-31T23:59:60Z", 1483228800000LL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int r = duration_rfc3339_parse_ms(cases[i].in, &ms);
		if (r != 0 || ms != cases[i].ms)
			print_error("case '%s': r=%d ms=%lld want %lld\n",
				    cases[i].in, r, (long long)ms,
				    (long long)cases[i].ms);
		assert_int_equal(r, 0);
		assert_true(ms == cases[i].ms);
	}
}

static void test_rfc3339_invalid(void **state)
{
	(void)state;
	static const char *const cases[] = {
		"",
		"banana",
		"2026-11-22",		      /* date only */
		"2026-11-22T10:00:00",	      /* no offset */
		"2026-11-22T10:00Z",	      /* no seconds */
		"2026-11-22X10:00:00Z",	      /* bad separator */
		"26-11-22T10:00:00Z",	      /* two-digit year */
		"2026-1-22T10:00:00Z",	      /* one-digit month */
		"2026-00-22T10:00:00Z",	      /* month 0 */
		"2026-13-22T10:00:00Z",	      /* month 13 */
		"2026-11-00T10:00:00Z",	      /* day 0 */
		"2026-11-32T10:00:00Z",	      /* day 32 */
		"2026-02-31T10:00:00Z",	      /* no 31 February */
		"2026-04-31T10:00:00Z",	      /* April has 30 days */
		"2026-02-29T10:00:00Z",	      /* 2026 is not a leap year */
		"2100-02-29T10:00:00Z",	      /* century, not leap */
		"2026-11-22T24:00:00Z",	      /* hour 24 */
		"2026-11-22T10:60:00Z",	      /* minute 60 */
		"2026-11-22T10:00:61Z",	      /* second 61 */
		"2026-11-22T10:00:00.Z",      /* empty fraction */
		"2026-11-22T10:00:00+2:00",   /* short offset */
		"2026-11-22T10:00:00+0200",   /* offset without colon */
		"2026-11-22T10:00:00+24:00",  /* offset hour 24 */
		"2026-11-22T10:00:00+02:60",  /* offset minute 60 */
		"2026-11-22T10:00:00Zjunk",   /* trailing garbage */
		"2026-11-22T10:00:00+02:00 ", /* trailing space */
		"2026/11/22T10:00:00Z",
		"1h",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int r = duration_rfc3339_parse_ms(cases[i], &ms);
		if (r != -EINVAL)
			print_error("case '%s': r=%d ms=%lld\n", cases[i], r,
				    (long long)ms);
		assert_int_equal(r, -EINVAL);
		assert_true(ms == -42);
	}
}

static void test_time_point(void **state)
{
	(void)state;
	const int64_t now = 1795341600000LL;
	static const struct {
		const char *in;
		int r;
		int64_t ms;
	} cases[] = {
		{ "1h", 0, 1795341600000LL - HOUR },
		{ "0s", 0, 1795341600000LL },
		{ "500ms", 0, 1795341600000LL - 500 },
		{ "1d12h", 0, 1795341600000LL - DAY - 12 * HOUR },
		{ "2026-11-22T10:00:00Z", 0, 1795341600000LL },
		{ "2026-11-22T09:00:00-01:00", 0, 1795341600000LL },
		{ "2026-11-21T10:00:00.001Z", 0, 1795341600000LL - DAY + 1 },
		{ "", -EINVAL, 0 },
		{ "yesterday", -EINVAL, 0 },
		{ "10", -EINVAL, 0 },
		{ "-1h", -EINVAL, 0 },
		{ "2026-11-22T10:00:00", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -42;
		int r = duration_time_point_parse_ms(cases[i].in, now, &ms);
		if (r != cases[i].r)
			print_error("case '%s': r=%d\n", cases[i].in, r);
		assert_int_equal(r, cases[i].r);
		if (r == 0)
			assert_true(ms == cases[i].ms);
		else
			assert_true(ms == -42);
	}
}

static void test_duration_poll_timeout(void **state)
{
	(void)state;
	static const struct {
		int64_t in;
		int out;
	} cases[] = {
		{ INT64_MIN, 0 },
		{ -1, 0 },
		{ 0, 0 },
		{ 1, 1 },
		{ 1000, 1000 },
		{ INT_MAX, INT_MAX },
		/* 25 days: (int) would wrap to a negative timeout. */
		{ 25 * DAY, INT_MAX },
		{ (int64_t)INT_MAX + 1, INT_MAX },
		{ INT64_MAX, INT_MAX },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(duration_poll_timeout(cases[i].in),
				 cases[i].out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_valid),
		cmocka_unit_test(test_duration_poll_timeout),
		cmocka_unit_test(test_duration_parse_invalid),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_rfc3339_valid),
		cmocka_unit_test(test_rfc3339_invalid),
		cmocka_unit_test(test_time_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
