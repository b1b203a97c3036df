// SPDX-License-Identifier: MIT
/*
 * Renderers of `shawk look` (tree, json, dot) against golden files (tests/fixtures/render/),
 * on a graph built in memory: a 3-tier chain with a pod, a cycle and a
 * process name carrying quotes and terminal escapes. Set SHAWK_UPDATE_GOLDEN=1
 * to rewrite the golden files after an intended change.
 */
#include "core/graph.h"
#include "render/common.h"
#include "render/graph.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_util.h"
#include "golden.h"

static uint32_t vtx(struct graph *g, const char *a, uint16_t port,
		    uint32_t pgid, const char *comm, const char *container)
{
	uint8_t addr[16] = { 0 };
	int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
	uint32_t idx;
	assert_int_equal(inet_pton(fam, a, addr), 1);
	assert_int_equal(graph_vertex_add(g, fam, addr, port, pgid, comm,
					  container, &idx),
			 0);
	return idx;
}

#define T0 1795000000000LL /* 2026-11-18T... fixed for golden output */

/*
 *  wrk (10.0.0.11) -> nginx 10.0.0.10:80 -> python 10.0.0.12:8080
 *  python (10.0.0.12) -> nginx 10.0.0.10:80   (a cycle)
 *  unknown client 10.0.0.13 -> nginx :80      (seen from one side only)
 *  evil comm at [fd00::5]:443 called by nginx
 */
static void build(struct graph *g)
{
	graph_init(g, 0);
	uint32_t ngx = vtx(g, "10.0.0.10", 80, 4656, "nginx", "nginx");
	uint32_t ngx_c = vtx(g, "10.0.0.10", 0, 4656, "nginx", NULL);
	uint32_t wrk = vtx(g, "10.0.0.11", 0, 5982, "wrk", NULL);
	uint32_t py = vtx(g, "10.0.0.12", 8080, 6111, "python", NULL);
	uint32_t py_c = vtx(g, "10.0.0.12", 0, 6111, "python", NULL);
	uint32_t unk = vtx(g, "10.0.0.13", 0, 0, "", NULL);
	uint32_t evil = vtx(g, "fd00::5", 443, 7, "ev\"il\x1b[31m\\", NULL);
	assert_int_equal(graph_edge_add(g, wrk, ngx, 6, 3, 30, T0, T0 + 5000), 0);
	assert_int_equal(graph_edge_add(g, ngx_c, py, 6, 2, 2, T0, T0 + 4000), 0);
	assert_int_equal(graph_edge_add(g, py_c, ngx, 6, 1, 9, T0 + 1, T0 + 2), 0);
	assert_int_equal(graph_edge_add(g, unk, ngx, 17, 1, 1, T0, T0), 0);
	assert_int_equal(graph_edge_add(g, ngx_c, evil, 6, 1, 1, T0, T0), 0);
	uint8_t a[16] = { 10, 0, 0, 10 };
	assert_int_equal(graph_set_pod(g, AF_INET, a, "default", "nginx-7c5d8"), 0);
	assert_int_equal(graph_root_add(g, ngx), 0);
	assert_int_equal(graph_root_add(g, ngx_c), 0);
	graph_roots_finish(g);
	/* Ages: 19 s and 20 s ago are fresh, 23 s and 24 s stale. */
	g->now_ms = T0 + 24000;
	g->stale_ms = 20000;
}

/* `look` without a selector: every server endpoint is a root. */
static void build_all(struct graph *g)
{
	build(g);
	for (size_t i = 0; i < g->nv; i++)
		if (g->v[i].port)
			assert_int_equal(graph_root_add(g, (uint32_t)i), 0);
	graph_roots_finish(g);
}

/*
 * Pod labels as `look --pod shop/cart-5d8f7c9b6-abcde` gets them: the cart
 * pod (both of its endpoints), a caller in another pod on this node (by
 * cgroup), a caller from another node known only by its pod IP (no
 * process), and, at the node address, a hostNetwork pod's exporter next
 * to a host sshd that carries no pod.
 */
static void build_pods(struct graph *g)
{
	graph_init(g, 0);
	uint32_t cart = vtx(g, "198.18.0.42", 8200, 7, "cart", "cart");
	uint32_t cart_c = vtx(g, "198.18.0.42", 0, 7, "cart", "cart");
	uint32_t front = vtx(g, "198.18.0.10", 0, 12, "front", "front");
	uint32_t remote = vtx(g, "198.18.1.77", 0, 0, "", NULL);
	uint32_t nexp = vtx(g, "10.77.0.1", 9100, 77, "node_exporter",
			    "node-exporter");
	uint32_t sshd = vtx(g, "10.77.0.1", 22, 1, "sshd", NULL);
	assert_int_equal(graph_vertex_set_pod(g, cart, "shop", "cart-5d8f7c9b6-abcde"), 0);
	assert_int_equal(graph_vertex_set_pod(g, cart_c, "shop", "cart-5d8f7c9b6-abcde"), 0);
	/* The first label wins. */
	assert_int_equal(graph_vertex_set_pod(g, cart, "other", "x"), 0);
	assert_int_equal(graph_vertex_set_pod(g, front, "web", "front-7f9c8-xk2lp"), 0);
	assert_int_equal(graph_vertex_set_pod(g, remote, "shop", "checkout-6b4d-q9z8w"), 0);
	assert_int_equal(graph_vertex_set_pod(g, nexp, "kube-system", "node-exporter-q7r2s"), 0);
	assert_int_equal(graph_vertex_set_pod(g, sshd, NULL, NULL), 0);
	assert_int_equal(graph_edge_add(g, front, cart, 6, 4, 40, T0, T0 + 9000), 0);
	assert_int_equal(graph_edge_add(g, remote, cart, 6, 1, 2, T0, T0 + 1000), 0);
	assert_int_equal(graph_edge_add(g, cart_c, nexp, 6, 1, 1, T0, T0), 0);
	assert_int_equal(graph_edge_add(g, cart_c, sshd, 6, 1, 1, T0, T0), 0);
	assert_int_equal(graph_root_add(g, cart), 0);
	assert_int_equal(graph_root_add(g, cart_c), 0);
	graph_roots_finish(g);
}

static struct graph_via svc_via(const char *addr, uint16_t port,
				const char *ns, const char *name)
{
	struct graph_via v = { .service = true, .svc_port = port,
			       .svc_namespace = ns, .svc_name = name };
	assert_int_equal(inet_pton(AF_INET, addr, v.svc_addr), 1);
	return v;
}

/*
 * Issue 15's chain through Services, as `look --pod
 * shop/checkout-7f6d9b8c5-q2w3e --depth 2` gets it: checkout dials the
 * catalog Service (198.18.162.10:80), conntrack names the two replicas
 * that answered; one catalog replica calls mysql directly and a cache
 * through a Service without a name (no API server list); the other was
 * also called by a client behind a NodePort's source NAT (seen as the
 * node's 198.18.62.1).
 */
static void build_services(struct graph *g)
{
	graph_init(g, 0);
	uint32_t co = vtx(g, "198.18.62.61", 0, 7, "checkout", "checkout");
	uint32_t c1 = vtx(g, "198.18.62.62", 8300, 9, "catalog", "catalog");
	uint32_t c1c = vtx(g, "198.18.62.62", 0, 9, "catalog", "catalog");
	uint32_t c2 = vtx(g, "198.18.62.63", 8300, 9, "catalog", "catalog");
	uint32_t db = vtx(g, "198.18.62.70", 3306, 30, "mysqld", "mysql");
	uint32_t rd = vtx(g, "198.18.62.71", 6379, 31, "redis-server", NULL);
	uint32_t ext = vtx(g, "198.18.62.90", 0, 0, "", NULL);
	assert_int_equal(graph_vertex_set_pod(g, co, "shop", "checkout-7f6d9b8c5-q2w3e"), 0);
	assert_int_equal(graph_vertex_set_pod(g, c1, "shop", "catalog-5c4b3a291-aaaa1"), 0);
	assert_int_equal(graph_vertex_set_pod(g, c1c, "shop", "catalog-5c4b3a291-aaaa1"), 0);
	assert_int_equal(graph_vertex_set_pod(g, c2, "shop", "catalog-5c4b3a291-bbbb2"), 0);
	struct graph_via cat = svc_via("198.18.162.10", 80, "shop", "catalog");
	struct graph_via cache = svc_via("198.18.162.11", 6379, NULL, NULL);
	struct graph_via nat = { .nat = true };
	assert_int_equal(inet_pton(AF_INET, "198.18.62.1", nat.nat_seen), 1);
	assert_int_equal(graph_edge_add_via(g, co, c1, 6, 2, 20, T0, T0 + 5000, &cat), 0);
	assert_int_equal(graph_edge_add_via(g, co, c2, 6, 1, 12, T0, T0 + 5000, &cat), 0);
	/* The same again merges into the edge (one line). */
	assert_int_equal(graph_edge_add_via(g, co, c2, 6, 1, 3, T0, T0 + 6000, &cat), 0);
	assert_int_equal(graph_edge_add(g, c1c, db, 6, 1, 4, T0, T0 + 1000), 0);
	assert_int_equal(graph_edge_add_via(g, c1c, rd, 6, 1, 1, T0, T0, &cache), 0);
	assert_int_equal(graph_edge_add_via(g, ext, c2, 6, 1, 5, T0, T0, &nat), 0);
	/* Rooted at checkout and at the second replica (its callers). */
	assert_int_equal(graph_root_add(g, co), 0);
	assert_int_equal(graph_root_add(g, c2), 0);
	graph_roots_finish(g);
}

/* `look --host 198.18.162.10`: the Service at the root, who dialed it,
 * which backends answered. */
static void build_service_root(struct graph *g)
{
	graph_init(g, 0);
	uint32_t sv = vtx(g, "198.18.162.10", 80, 0, "", NULL);
	uint32_t co = vtx(g, "198.18.62.61", 0, 7, "checkout", "checkout");
	uint32_t c1 = vtx(g, "198.18.62.62", 8300, 9, "catalog", "catalog");
	uint32_t c2 = vtx(g, "198.18.62.63", 8300, 9, "catalog", "catalog");
	assert_int_equal(graph_vertex_set_service(g, sv, "shop", "catalog"), 0);
	assert_int_equal(graph_edge_add(g, co, sv, 6, 3, 35, T0, T0 + 6000), 0);
	assert_int_equal(graph_edge_add(g, sv, c1, 6, 2, 20, T0, T0 + 5000), 0);
	assert_int_equal(graph_edge_add(g, sv, c2, 6, 1, 15, T0, T0 + 6000), 0);
	assert_int_equal(graph_root_add(g, sv), 0);
	graph_roots_finish(g);
}

typedef int (*render_fn)(FILE *, struct graph *, int);

static void golden_of(void (*builder)(struct graph *), render_fn fn,
		      int depth, const char *name)
{
	struct graph g;
	char *buf = NULL;
	size_t len = 0;
	builder(&g);
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(fn(f, &g, depth), 0);
	fclose(f);
	graph_clear(&g);

	char rel[128];
	snprintf(rel, sizeof(rel), "render/%s", name);
	golden_check(rel, buf, len);
	free(buf);
}

static void golden(render_fn fn, int depth, const char *name)
{
	golden_of(build, fn, depth, name);
}

static void test_tree_pods(void **s) { (void)s; golden_of(build_pods, render_tree, 1, "tree_pods.txt"); }
static void test_json_pods(void **s) { (void)s; golden_of(build_pods, render_json, 1, "graph_pods.json"); }
static void test_dot_pods(void **s) { (void)s; golden_of(build_pods, render_dot, 1, "graph_pods.dot"); }

static void test_tree_services(void **s) { (void)s; golden_of(build_services, render_tree, 2, "tree_services.txt"); }
static void test_json_services(void **s) { (void)s; golden_of(build_services, render_json, 2, "graph_services.json"); }
static void test_dot_services(void **s) { (void)s; golden_of(build_services, render_dot, 2, "graph_services.dot"); }
static void test_tree_service_root(void **s) { (void)s; golden_of(build_service_root, render_tree, 2, "tree_service_root.txt"); }
static void test_json_service_root(void **s) { (void)s; golden_of(build_service_root, render_json, 2, "graph_service_root.json"); }
static void test_tree_roots(void **s) { (void)s; golden_of(build_all, render_tree, 1, "tree_roots.txt"); }
static void test_tree_depth1(void **s) { (void)s; golden(render_tree, 1, "tree_depth1.txt"); }
static void test_tree_depth3(void **s) { (void)s; golden(render_tree, 3, "tree_depth3.txt"); }
static void test_json_depth2(void **s) { (void)s; golden(render_json, 2, "graph_depth2.json"); }
static void test_dot_depth2(void **s) { (void)s; golden(render_dot, 2, "graph_depth2.dot"); }

/* The tree never carries a control character, whatever the comm holds. */
static void test_tree_strips_controls(void **s)
{
	(void)s;
	struct graph g;
	char *buf = NULL;
	size_t len = 0;
	build(&g);
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(render_tree(f, &g, 3), 0);
	fclose(f);
	graph_clear(&g);
	for (size_t i = 0; i < len; i++)
		assert_true(buf[i] == '\n' || (unsigned char)buf[i] >= 0x20);
	assert_null(strchr(buf, 0x1b));
	free(buf);
}

static void test_escape_helpers(void **s)
{
	(void)s;
	char out[64];
	escape_terminal_buf(out, sizeof(out), "a\x1b[2Jb\x7f\xc2\x9b" "c");
	assert_string_equal(out, "a?[2Jb??c");
	escape_terminal_buf(out, 4, "abcdef");
	assert_string_equal(out, "abc");

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	escape_dot(f, "q\"b\\n\nx\x01");
	fclose(f);
	assert_string_equal(buf, "q\\\"b\\\\n\\nx?");
	free(buf);
}

/* A cycle longer than the depth bound still ends; lines are bounded. */
static void test_walk_cycle_and_bound(void **s)
{
	(void)s;
	struct graph g;
	graph_init(&g, 0);
	uint32_t a = vtx(&g, "10.1.0.1", 80, 1, "a", NULL);
	uint32_t ac = vtx(&g, "10.1.0.1", 0, 1, "a", NULL);
	uint32_t b = vtx(&g, "10.1.0.2", 80, 2, "b", NULL);
	uint32_t bc = vtx(&g, "10.1.0.2", 0, 2, "b", NULL);
	assert_int_equal(graph_edge_add(&g, ac, b, 6, 1, 1, 0, 0), 0);
	assert_int_equal(graph_edge_add(&g, bc, a, 6, 1, 1, 0, 0), 0);
	assert_int_equal(graph_root_add(&g, a), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(render_tree(f, &g, 10), 0);
	fclose(f);
	/* a, its caller b (b's caller a is on the path: shown, not
	 * expanded), its callee b, then a again. */
	assert_string_equal(buf, "10.1.0.1:80 ('a', pgid=1)\n"
				 "├<-- 10.1.0.2:many ('b', pgid=2)  [tcp 1 conn]\n"
				 "│    └<-- 10.1.0.1:many ('a', pgid=1)  [tcp 1 conn]\n"
				 "└--> 10.1.0.2:80 ('b', pgid=2)  [tcp 1 conn]\n"
				 "     └--> 10.1.0.1:80 ('a', pgid=1)  [tcp 1 conn]\n");
	free(buf);
	assert_int_equal(graph_walk(&g, 10, 2, NULL, NULL), 1);
	graph_clear(&g);
}

static void test_vertex_dedup_and_edge_merge(void **s)
{
	(void)s;
	struct graph g;
	graph_init(&g, 2);
	uint32_t a = vtx(&g, "10.2.0.1", 80, 1, "a", NULL);
	uint32_t a2 = vtx(&g, "10.2.0.1", 80, 1, "a", "ctr");
	assert_int_equal(a, a2);
	assert_string_equal(g.v[a].container, "ctr");
	uint32_t c = vtx(&g, "10.2.0.2", 0, 2, "c", NULL);
	assert_int_equal(graph_edge_add(&g, c, a, 6, 1, 5, 100, 200), 0);
	assert_int_equal(graph_edge_add(&g, c, a, 6, 2, 7, 50, 150), 0);
	assert_int_equal(g.ne, 1);
	assert_int_equal(g.e[0].connections_total, 12);
	assert_true(g.e[0].first_seen_ms == 50 && g.e[0].last_seen_ms == 200);
	uint8_t addr[16] = { 10, 2, 0, 3 };
	uint32_t idx;
	assert_int_equal(graph_vertex_add(&g, AF_INET, addr, 0, 3, "x", NULL,
					  &idx),
			 -E2BIG);
	graph_clear(&g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_roots),
		cmocka_unit_test(test_tree_depth1),
		cmocka_unit_test(test_tree_depth3),
		cmocka_unit_test(test_json_depth2),
		cmocka_unit_test(test_dot_depth2),
		cmocka_unit_test(test_tree_pods),
		cmocka_unit_test(test_json_pods),
		cmocka_unit_test(test_dot_pods),
		cmocka_unit_test(test_tree_services),
		cmocka_unit_test(test_json_services),
		cmocka_unit_test(test_dot_services),
		cmocka_unit_test(test_tree_service_root),
		cmocka_unit_test(test_json_service_root),
		cmocka_unit_test(test_tree_strips_controls),
		cmocka_unit_test(test_escape_helpers),
		cmocka_unit_test(test_walk_cycle_and_bound),
		cmocka_unit_test(test_vertex_dedup_and_edge_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
