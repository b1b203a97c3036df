// SPDX-License-Identifier: MIT
/*
 * The dependency map of `shawk serve` (core/depmap: folding to workloads,
 * roots, depth, namespace filter) and its HTML pages against golden files
 * (tests/fixtures/serve/), on a fixed map: front -> api -> db in "shop",
 * a host process calling api, a pod without a controller whose name is
 * markup, and a process name with quotes and an escape. Set
 * SHAWK_UPDATE_GOLDEN=1 to rewrite the golden files after an intended
 * change.
 */
#include "core/depmap.h"
#include "serve/page.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "test_util.h"
#include "golden.h"

#define T0 1795000000000LL

static const struct depmap_end front1 = { "10.1.0.2", "front", "shop",
					  "front-7d9c-a", "Deployment",
					  "front" };
static const struct depmap_end front2 = { "10.1.0.5", "front", "shop",
					  "front-7d9c-b", "Deployment",
					  "front" };
static const struct depmap_end api = { "10.1.0.3", "api", "shop",
				       "api-5f6d-x", "Deployment", "api" };
static const struct depmap_end db = { "10.1.0.4", "postgres", "shop", "db-0",
				      "StatefulSet", "db" };
static const struct depmap_end curl = { "198.18.0.9", "cu'rl\"\x1b[1m", NULL,
					NULL, NULL, NULL };
static const struct depmap_end evil = { "10.1.0.6", "sh", "shop",
					"<script>alert(1)</script>", NULL,
					NULL };
static const struct depmap_end unknown = { "10.2.0.1", "", NULL, NULL, NULL,
					   NULL };
static const struct depmap_end mon = { "10.3.0.1", "prom", "monitoring",
				       "prometheus-0", "StatefulSet",
				       "prometheus" };

static void build(struct depmap *m, enum depmap_level level)
{
	depmap_init(m, level, 0);
	assert_int_equal(depmap_add(m, &front1, &api, IPPROTO_TCP, 8080, 3, T0), 0);
	assert_int_equal(depmap_add(m, &front2, &api, IPPROTO_TCP, 8080, 4, T0 + 9), 0);
	assert_int_equal(depmap_add(m, &api, &db, IPPROTO_TCP, 5432, 2, T0), 0);
	assert_int_equal(depmap_add(m, &curl, &api, IPPROTO_TCP, 8080, 1, T0), 0);
	assert_int_equal(depmap_add(m, &evil, &db, IPPROTO_TCP, 5432, 5, T0), 0);
	assert_int_equal(depmap_add(m, &unknown, &evil, IPPROTO_UDP, 53, 1, T0), 0);
	assert_int_equal(depmap_add(m, &mon, &api, IPPROTO_TCP, 9090, 6, T0), 0);
}

static void test_depmap_fold(void **state)
{
	(void)state;
	struct depmap m;
	build(&m, DEPMAP_WORKLOAD);
	/* front, api, db, curl, evil (no controller: a pod), unknown, prom */
	assert_int_equal(m.nn, 7);
	assert_int_equal(m.ne, 6);
	assert_int_equal(m.e[0].connections, 7); /* two front pods folded */
	assert_int_equal(m.e[0].last_seen_ms, T0 + 9);
	assert_int_equal(m.n[m.e[3].client].kind, DEPMAP_KIND_POD);
	assert_int_equal(depmap_select(&m, NULL, 1), 6);
	assert_int_equal(depmap_select(&m, "monitoring", 1), 1);
	assert_int_equal(depmap_root_workload(&m, "shop", "StatefulSet", "db"), 1);
	/* db's callers at depth 1: api, evil; at depth 2 also front,
	 * curl, prom (into api) and unknown (into evil). */
	assert_int_equal(depmap_select(&m, NULL, 1), 2);
	assert_int_equal(depmap_select(&m, NULL, 2), 6);
	assert_int_equal(depmap_root_addr(&m, "198.18.0.9"), 1);
	depmap_clear(&m);

	build(&m, DEPMAP_POD);
	assert_int_equal(m.nn, 8);
	assert_int_equal(m.ne, 7);
	assert_int_equal(depmap_root_pod(&m, "shop", "front-7d9c-b"), 1);
	assert_int_equal(depmap_select(&m, NULL, 1), 1);
	assert_int_equal(depmap_select(&m, NULL, 3), 2);
	depmap_clear(&m);

	depmap_init(&m, DEPMAP_POD, 2);
	assert_int_equal(depmap_add(&m, &front1, &api, IPPROTO_TCP, 1, 1, T0), 0);
	assert_int_equal(depmap_add(&m, &front1, &db, IPPROTO_TCP, 1, 1, T0), -E2BIG);
	depmap_clear(&m);
}

/* Calls through a Service: the edge names it (the first named row wins),
 * and the map's drawing labels the edge with the Service's name only. */
static void test_map_service_edge(void **state)
{
	(void)state;
	struct depmap m;
	depmap_init(&m, DEPMAP_WORKLOAD, 0);
	assert_int_equal(depmap_add(&m, &front1, &api, IPPROTO_TCP, 8080, 1, T0), 0);
	assert_int_equal(depmap_add_via(&m, &front1, &api, IPPROTO_TCP, 8080, 2,
					T0, NULL, NULL), 0);
	assert_null(m.e[0].service);
	assert_int_equal(depmap_add_via(&m, &front2, &api, IPPROTO_TCP, 8080, 3,
					T0, "shop", "api"), 0);
	assert_int_equal(depmap_add_via(&m, &front1, &api, IPPROTO_TCP, 8080, 1,
					T0, "shop", "other"), 0);
	/* front1 and front2 are one workload: one edge, 7 calls. */
	assert_int_equal(m.ne, 1);
	assert_int_equal(m.e[0].connections, 7);
	assert_string_equal(m.e[0].service, "shop/api");
	assert_int_equal(depmap_root_workload(&m, "shop", "Deployment", "api"), 1);
	assert_int_equal(depmap_select(&m, NULL, 1), 1);
	struct serve_view v = { .kind = SERVE_PAGE_MAP, .depth = 1 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(serve_page_map(f, &m, &v), 0);
	fclose(f);
	/* The SVG label: "tcp:8080 (7)" then "via api" on its own line. */
	assert_non_null(strstr(buf, ">via api</text>"));
	assert_null(strstr(buf, "via shop/api"));
	free(buf);
	depmap_clear(&m);
}

static void golden(struct depmap *m, const struct serve_view *v,
		   const char *name)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(serve_page_map(f, m, v), 0);
	fclose(f);

	char rel[128];
	snprintf(rel, sizeof(rel), "serve/%s", name);
	/* Whatever the golden file says: no markup from the data. */
	assert_null(strstr(buf, "<script"));
	assert_null(strstr(buf, "\x1b"));
	golden_check(rel, buf, len);
	free(buf);
}

static void test_page_workloads(void **state)
{
	(void)state;
	struct depmap m;
	struct serve_view v = { .kind = SERVE_PAGE_MAP, .depth = 1 };
	build(&m, DEPMAP_WORKLOAD);
	depmap_select(&m, NULL, 1);
	golden(&m, &v, "map_workloads.html");
	depmap_clear(&m);
}

static void test_page_pods_filtered(void **state)
{
	(void)state;
	struct depmap m;
	struct serve_view v = { .kind = SERVE_PAGE_MAP,
				.level = DEPMAP_POD,
				.filter_ns = "shop",
				.since = "1h",
				.until = "2026-11-18T00:00:00Z",
				.depth = 1 };
	build(&m, DEPMAP_POD);
	depmap_select(&m, "shop", 1);
	golden(&m, &v, "map_pods_shop.html");
	depmap_clear(&m);
}

static void test_page_workload_depth2(void **state)
{
	(void)state;
	struct depmap m;
	struct serve_view v = { .kind = SERVE_PAGE_WORKLOAD,
				.ns = "shop",
				.wkind = "Deployment",
				.name = "api",
				.since = "10m",
				.depth = 2 };
	build(&m, DEPMAP_WORKLOAD);
	assert_int_equal(depmap_root_workload(&m, "shop", "Deployment", "api"), 1);
	depmap_select(&m, NULL, 2);
	golden(&m, &v, "workload_api_depth2.html");
	depmap_clear(&m);
}

static void test_node_href(void **state)
{
	(void)state;
	struct depmap m;
	struct serve_view v = { .kind = SERVE_PAGE_MAP, .since = "a&b c",
				.depth = 3 };
	build(&m, DEPMAP_POD);
	static const struct {
		uint32_t node;
		const char *href;
	} cases[] = {
		{ 0, "/pod/shop/front-7d9c-a?since=a%26b%20c&depth=3" },
		{ 3, "/pod/shop/db-0?since=a%26b%20c&depth=3" },
		{ 4, "/host/198.18.0.9?since=a%26b%20c&depth=3" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *h = serve_node_href(&m.n[cases[i].node], &v);
		assert_non_null(h);
		assert_string_equal(h, cases[i].href);
		free(h);
	}
	/* A name holding '/' cannot be one path segment: no page. */
	assert_string_equal(m.n[5].name, "<script>alert(1)</script>");
	assert_null(serve_node_href(&m.n[5], &v));
	depmap_clear(&m);
}

static void test_error_page(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	serve_page_error(f, 503, "the CMDB is unreachable: <down>");
	fclose(f);
	assert_non_null(strstr(buf, "<title>shawk: error 503</title>"));
	assert_non_null(strstr(buf, "<p class=\"error\">the CMDB is unreachable: &lt;down&gt;</p>"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depmap_fold),
		cmocka_unit_test(test_page_workloads),
		cmocka_unit_test(test_page_pods_filtered),
		cmocka_unit_test(test_page_workload_depth2),
		cmocka_unit_test(test_node_href),
		cmocka_unit_test(test_error_page),
		cmocka_unit_test(test_map_service_edge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
