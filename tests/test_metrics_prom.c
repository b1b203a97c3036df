// SPDX-License-Identifier: MIT
/*
 * The Prometheus text exposition writer: label value escaping, HELP
 * escaping, histogram buckets, and the hard cap on labelled series.
 */
#include "metrics/prom.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_util.h"

static void capture_begin(FILE **f, size_t *len, char **buf)
{
	*buf = NULL;
	*f = open_memstream(buf, len);
	assert_non_null(*f);
}

static void test_label_escaping(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "a\"b", "a\\\"b" },
		{ "back\\slash", "back\\\\slash" },
		{ "new\nline", "new\\nline" },
		{ "<script>", "<script>" },
		{ "bad\xff", "bad?" },
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		FILE *f;
		size_t len;
		char *buf;
		capture_begin(&f, &len, &buf);
		prom_label_value(f, cases[i].in);
		fclose(f);
		assert_string_equal(buf, cases[i].out);
		free(buf);
	}
	FILE *f;
	size_t len;
	char *buf;
	capture_begin(&f, &len, &buf);
	static const char *const keys[] = { "a", "b" };
	const char *vals[] = { "x\"y", NULL };
	prom_family(f, "shawk_x_total", "counter", "a \\ help\nline");
	prom_sample(f, "shawk_x_total", keys, vals, 2, 42);
	prom_sample(f, "shawk_up", NULL, NULL, 0, 1);
	fclose(f);
	assert_string_equal(buf, "# HELP shawk_x_total a \\\\ help\\nline\n"
				 "# TYPE shawk_x_total counter\n"
				 "shawk_x_total{a=\"x\\\"y\",b=\"\"} 42\n"
				 "shawk_up 1\n");
	free(buf);
}

static void test_histogram(void **state)
{
	(void)state;
	static const double b[] = { 0.001, 0.01, 0.1, 1 };
	struct prom_histogram h;
	prom_histogram_init(&h, b, 4);
	prom_histogram_observe(&h, 0.0005);
	prom_histogram_observe(&h, 0.001); /* le is inclusive */
	prom_histogram_observe(&h, 0.05);
	prom_histogram_observe(&h, 5);
	FILE *f;
	size_t len;
	char *buf;
	capture_begin(&f, &len, &buf);
	prom_histogram_write(f, "shawk_scan_duration_seconds", "Scan time.", &h);
	fclose(f);
	assert_string_equal(buf,
			    "# HELP shawk_scan_duration_seconds Scan time.\n"
			    "# TYPE shawk_scan_duration_seconds histogram\n"
			    "shawk_scan_duration_seconds_bucket{le=\"0.001\"} 2\n"
			    "shawk_scan_duration_seconds_bucket{le=\"0.01\"} 2\n"
			    "shawk_scan_duration_seconds_bucket{le=\"0.1\"} 3\n"
			    "shawk_scan_duration_seconds_bucket{le=\"1\"} 3\n"
			    "shawk_scan_duration_seconds_bucket{le=\"+Inf\"} 4\n"
			    "shawk_scan_duration_seconds_sum 5.0515\n"
			    "shawk_scan_duration_seconds_count 4\n");
	free(buf);
}

static void test_series_cap(void **state)
{
	(void)state;
	static const char *const keys[] = { "client", "server", "port" };
	struct prom_series s;
	char c[32];
	prom_series_init(&s, keys, 3, 100);
	for (int i = 0; i < 150; i++) {
		snprintf(c, sizeof(c), "client-%d", i % 120);
		const char *v[] = { c, "db", "5432" };
		int r = prom_series_add(&s, v, 2);
		/* 0..99 are new series; 100..119 refused; 120..149 repeat
		 * 0..29, which exist. */
		assert_int_equal(r, (i >= 100 && i < 120) ? 1 : 0);
	}
	assert_int_equal(s.n, 100);
	assert_int_equal(s.dropped, 40);
	assert_int_equal(s.dropped_events, 20);
	assert_int_equal(s.counts[0], 4);
	assert_int_equal(s.counts[99], 2);
	const char *nul[] = { NULL, "db", "5432" };
	assert_int_equal(prom_series_add(&s, nul, 1), 1); /* still capped */

	FILE *f;
	size_t len;
	char *buf;
	capture_begin(&f, &len, &buf);
	prom_series_write(f, "shawk_connections_total", "Connections.", &s);
	fclose(f);
	size_t lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 102);
	assert_non_null(strstr(buf, "shawk_connections_total{client=\"client-0\",server=\"db\",port=\"5432\"} 4\n"));
	free(buf);
	prom_series_clear(&s);
	assert_int_equal(s.n, 0);
	assert_int_equal(prom_series_add(&s, nul, 1), 0); /* NULL is "" */
	const char *empty[] = { "", "db", "5432" };
	assert_int_equal(prom_series_add(&s, empty, 1), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.counts[0], 2);
	prom_series_clear(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_series_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
