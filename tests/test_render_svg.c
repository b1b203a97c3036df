// SPDX-License-Identifier: MIT
/*
 * The SVG renderer (Graphviz in process) and the web escaping: labels
 * with Graphviz escapes, markup and invalid UTF-8 stay text; links keep
 * their escaping.
 */
#include "core/util.h"
#include "render/html.h"
#include "render/svg.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "test_util.h"
#include "golden.h"

static char *render(const struct svg_graph *g, bool inline_svg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(render_svg_graph(f, g, inline_svg), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_svg_escapes_labels(void **state)
{
	(void)state;
	struct svg_graph g = { 0 };
	uint32_t a, b;
	assert_int_equal(svg_graph_node_add(&g, "shop/<script>alert(1)</script>\npod",
					    "/pod/shop/%3Cscript%3E?since=1h&depth=2",
					    true, &a),
			 0);
	assert_int_equal(svg_graph_node_add(&g, "10.0.0.1\n'\\N \"q\" \xff'",
					    NULL, false, &b),
			 0);
	assert_int_equal(svg_graph_edge_add(&g, a, b, "tcp:80 (3)"), 0);
	assert_int_equal(svg_graph_edge_add(&g, a, 7, "x"), -EINVAL);
	char *s = render(&g, true);
	assert_true(strncmp(s, "<svg", 4) == 0);
	assert_non_null(strstr(s, "shop/&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_null(strstr(s, "<script"));
	/* \N would be the node's name: it stays a backslash and an N. */
	assert_non_null(strstr(s, "\\N"));
	assert_non_null(strstr(s, "?&#39;"));
	assert_non_null(strstr(s, "xlink:href=\"/pod/shop/%3Cscript%3E?since=1h&amp;depth=2\""));
	assert_non_null(strstr(s, "tcp:80 (3)"));
	free(s);
	s = render(&g, false);
	assert_true(strncmp(s, "<?xml", 5) == 0);
	free(s);
	svg_graph_clear(&g);
}

/* `look --format svg`: a 3-tier chain whose client has a pod, golden. */
static void test_look_svg_golden(void **state)
{
	(void)state;
	struct graph g;
	uint8_t a[16] = { 0 }, b[16] = { 0 }, c[16] = { 0 };
	uint32_t cl, mid, mid_c, bk;
	inet_pton(AF_INET, "10.0.0.11", a);
	inet_pton(AF_INET, "10.0.0.10", b);
	inet_pton(AF_INET, "10.0.0.12", c);
	graph_init(&g, 0);
	assert_int_equal(graph_vertex_add(&g, AF_INET, a, 0, 5982, "wrk", NULL, &cl), 0);
	assert_int_equal(graph_vertex_add(&g, AF_INET, b, 80, 4656, "nginx", "nginx", &mid), 0);
	assert_int_equal(graph_vertex_add(&g, AF_INET, b, 0, 4656, "nginx", NULL, &mid_c), 0);
	assert_int_equal(graph_vertex_add(&g, AF_INET, c, 5432, 7, "<pg\\N>", NULL, &bk), 0);
	assert_int_equal(graph_edge_add(&g, cl, mid, 6, 3, 30, 0, 0), 0);
	assert_int_equal(graph_edge_add(&g, mid_c, bk, 6, 2, 2, 0, 0), 0);
	assert_int_equal(graph_set_pod(&g, AF_INET, a, "default", "wrk-1"), 0);
	assert_int_equal(graph_root_add(&g, cl), 0);
	graph_roots_finish(&g);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(render_svg(f, &g, 2), 0);
	fclose(f);
	graph_clear(&g);
	assert_non_null(strstr(buf, "&lt;pg\\N&gt;"));
	golden_check("render/graph_depth2.svg", buf, len);
	free(buf);
}

/* A map past dot's comfortable size is still drawn, in seconds (sfdp). */
static void test_svg_large_map(void **state)
{
	(void)state;
	struct svg_graph g = { 0 };
	char label[32];
	uint32_t id;
	for (int i = 0; i < 600; i++) {
		snprintf(label, sizeof(label), "ns%d/wl-%d\nDeployment", i / 20, i);
		assert_int_equal(svg_graph_node_add(&g, label, "/x", false, &id), 0);
	}
	for (uint32_t i = 0; i < 2400; i++)
		assert_int_equal(svg_graph_edge_add(&g, i % 600, (i * 7919 + 13) % 600, "tcp:80 (1)"), 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *s = render(&g, true);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_non_null(strstr(s, "ns29/wl&#45;599"));
	/* dot takes minutes on such a graph; a busy machine is not one. */
	assert_true(t1.tv_sec - t0.tv_sec < 60);
	free(s);
	svg_graph_clear(&g);
}

static char *esc(void (*fn)(FILE *, const char *), const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, in);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void test_html_url_escape(void **state)
{
	(void)state;
	static const struct {
		const char *in, *html, *url;
	} cases[] = {
		{ "<script>alert('x')</script>",
		  "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
		  "%3Cscript%3Ealert%28%27x%27%29%3C%2Fscript%3E" },
		{ "a&b=\"c\"", "a&amp;b=&quot;c&quot;", "a%26b%3D%22c%22" },
		{ "tab\there\x1b[31m", "tab?here?[31m", "tab%09here%1B%5B31m" },
		{ "caf\xc3\xa9 \xff", "caf\xc3\xa9 ?", "caf%C3%A9%20%FF" },
		{ "c1\xc2\x9b", "c1?", "c1%C2%9B" },
		{ "fd00::1", "fd00::1", "fd00%3A%3A1" },
		{ "web-1.x_y~", "web-1.x_y~", "web-1.x_y~" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *h = esc(html_escape, cases[i].in);
		char *u = esc(url_escape, cases[i].in);
		assert_string_equal(h, cases[i].html);
		assert_string_equal(u, cases[i].url);
		free(h);
		free(u);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_svg_escapes_labels),
		cmocka_unit_test(test_html_url_escape),
		cmocka_unit_test(test_look_svg_golden),
		cmocka_unit_test(test_svg_large_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
