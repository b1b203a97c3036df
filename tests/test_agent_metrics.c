// SPDX-License-Identifier: MIT
/*
 * The agent's endpoints: /healthz's judgement, the labels of
 * shawk_connections_total (workloads from pods, processes outside pods,
 * peers by address), and the whole object on a loopback socket: the
 * series, their hard cap and what it dropped, hostile label values, the
 * histogram, 404/405/400, and /healthz turning 503 while a flush hangs.
 */
#include "agent/metrics.h"

#include "core/addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_util.h"

static void test_health_check(void **state)
{
	(void)state;
	char why[256];
	struct agent_health_state s = { .started_ms = 1000,
					.interval_ms = 1000,
					.stall_ms = 5000 };
	/* Starting: the bound counts from the start. */
	assert_true(agent_health_check(&s, 6999, why, sizeof(why)));
	assert_false(agent_health_check(&s, 7001, why, sizeof(why)));
	assert_non_null(strstr(why, "no successful scan for 6.0s"));
	s.last_scan_ok_ms = 7000;
	assert_true(agent_health_check(&s, 13000, why, sizeof(why)));
	assert_false(agent_health_check(&s, 13001, why, sizeof(why)));
	/* Failing scans say why. */
	s.last_scan_err = -EACCES;
	assert_false(agent_health_check(&s, 14000, why, sizeof(why)));
	assert_non_null(strstr(why, "last scan failed: Permission denied"));
	assert_null(strchr(why, '\n'));
	/* A write that does not come back, before the scans look late. */
	s.last_scan_err = 0;
	s.last_scan_ok_ms = 20000;
	s.flush_since_ms = 20500;
	s.flush_sink = "cmdb";
	assert_true(agent_health_check(&s, 25499, why, sizeof(why)));
	assert_false(agent_health_check(&s, 25500, why, sizeof(why)));
	assert_string_equal(why, "flush to cmdb running for 5.0s (bound 5.0s)");
	s.flush_since_ms = 0;
	assert_true(agent_health_check(&s, 25500, why, sizeof(why)));
}

static void set_addr(uint8_t out[16], int family, const char *s)
{
	int fam;
	assert_int_equal(addr_parse(s, family, &fam, out), 0);
	assert_int_equal(fam, family);
}

static struct flow make_flow(int dir, int family, const char *l,
			     uint16_t lport, const char *r, uint16_t rport,
			     const char *comm)
{
	struct flow f = { 0 };
	f.key.dir = (uint8_t)dir;
	f.key.proto = IPPROTO_TCP;
	f.key.family = (uint8_t)family;
	f.key.lport = lport;
	f.key.rport = rport;
	set_addr(f.key.laddr, family, l);
	set_addr(f.key.raddr, family, r);
	memcpy(f.key.comm, comm, strnlen(comm, sizeof(f.key.comm)));
	f.connections = f.new_connections = 1;
	return f;
}

static struct workload_index *three_pods(void)
{
	static char *web_ips[] = { "198.18.63.10", "2001:db8:63::10" };
	static char *db_ips[] = { "198.18.63.20" };
	static char *host_ips[] = { "198.18.63.1" };
	struct pod web = { .namespace = "shop", .name = "web-7d9c-abcde",
			   .uid = "uid-web", .workload_kind = "Deployment",
			   .workload_name = "web" };
	memcpy(web.ips, web_ips, sizeof(web_ips));
	web.n_ips = 2;
	struct pod db = { .namespace = "shop", .name = "db-0", .uid = "uid-db",
			  .workload_kind = "StatefulSet",
			  .workload_name = "db" };
	memcpy(db.ips, db_ips, sizeof(db_ips));
	db.n_ips = 1;
	/* Shares the node's address: never names a peer. */
	struct pod agent = { .namespace = "kube-system", .name = "proxy",
			     .uid = "uid-proxy", .host_network = true };
	memcpy(agent.ips, host_ips, sizeof(host_ips));
	agent.n_ips = 1;
	struct workload_index *x = workload_index_new();
	assert_non_null(x);
	assert_int_equal(workload_index_add(x, &web), 0);
	assert_int_equal(workload_index_add(x, &db), 0);
	assert_int_equal(workload_index_add(x, &agent), 0);
	return x;
}

static void expect_labels(const char *const *v, const char *dir,
			  const char *cns, const char *cwl, const char *sns,
			  const char *swl, const char *port)
{
	assert_string_equal(v[CONN_L_DIRECTION], dir);
	assert_string_equal(v[CONN_L_CLIENT_NS], cns);
	assert_string_equal(v[CONN_L_CLIENT_WORKLOAD], cwl);
	assert_string_equal(v[CONN_L_SERVER_NS], sns);
	assert_string_equal(v[CONN_L_SERVER_WORKLOAD], swl);
	assert_string_equal(v[CONN_L_SERVER_PORT], port);
	assert_string_equal(v[CONN_L_PROTO], "tcp");
}

static void test_flow_labels(void **state)
{
	(void)state;
	struct workload_index *x = three_pods();
	const char *v[CONN_L_N];
	char buf[256];

	/* The db pod accepts from web (a pod of this node, by address). */
	struct flow f = make_flow(SOCK_DIR_PASSIVE, AF_INET, "198.18.63.20",
				  5432, "198.18.63.10", 0, "postgres");
	f.pod_uid = "uid-db";
	f.pod_namespace = "shop";
	f.pod_name = "db-0";
	agent_metrics_flow_labels(&f, x, v, buf, sizeof(buf));
	expect_labels(v, "passive", "shop", "Deployment/web", "shop",
		      "StatefulSet/db", "5432");

	/* web dials an address no pod of this node has. */
	f = make_flow(SOCK_DIR_ACTIVE, AF_INET6, "2001:db8:63::10", 0,
		      "2001:db8:63::99", 443, "web");
	f.pod_uid = "uid-web";
	agent_metrics_flow_labels(&f, x, v, buf, sizeof(buf));
	expect_labels(v, "active", "shop", "Deployment/web", "",
		      "2001:db8:63::99", "443");

	/* A process outside pods calls the node's own address (a host-
	 * network pod's too): the address, not the pod. */
	f = make_flow(SOCK_DIR_ACTIVE, AF_INET, "198.18.63.2", 0,
		      "198.18.63.1", 80, "curl");
	agent_metrics_flow_labels(&f, x, v, buf, sizeof(buf));
	expect_labels(v, "active", "", "curl@198.18.63.2", "", "198.18.63.1",
		      "80");

	/* A pod the index does not know (yet): its name; a source-NATed
	 * client: the original address. */
	f = make_flow(SOCK_DIR_PASSIVE, AF_INET, "198.18.63.30", 8080,
		      "198.18.63.1", 0, "app");
	f.pod_uid = "uid-new";
	f.pod_namespace = "ns\"x";
	f.pod_name = "lonely";
	set_addr(f.key.nat_addr, AF_INET, "198.18.63.10");
	agent_metrics_flow_labels(&f, x, v, buf, sizeof(buf));
	expect_labels(v, "passive", "shop", "Deployment/web", "ns\"x",
		      "Pod/lonely", "8080");

	/* Without an index, and a buffer too small for everything: no
	 * overflow, still seven strings. */
	char tiny[8];
	f = make_flow(SOCK_DIR_ACTIVE, AF_INET, "198.18.63.2", 0,
		      "198.18.63.1", 80, "a-long-command");
	agent_metrics_flow_labels(&f, NULL, v, tiny, sizeof(tiny));
	for (int i = 0; i < CONN_L_N; i++)
		assert_non_null(v[i]);
	assert_true(strlen(v[CONN_L_CLIENT_WORKLOAD]) < sizeof(tiny));
	workload_index_free(x);
}

/* ---- the object on a socket ------------------------------------------- */

static char *get(uint16_t port, const char *method, const char *path,
		 int *status)
{
	int fd = test_dial_loopback(port);
	char req[512];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "\r\n",
			 method, path);
	assert_int_equal(write(fd, req, (size_t)n), n);
	size_t cap = 1 << 20, got = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	ssize_t r;
	while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	close(fd);
	assert_int_equal(sscanf(buf, "HTTP/1.1 %d", status), 1);
	char *body = strstr(buf, "\r\n\r\n");
	assert_non_null(body);
	char *ret = strdup(body + 4);
	free(buf);
	return ret;
}

static uint64_t sample(const char *text, const char *line_prefix)
{
	const char *p = strstr(text, line_prefix);
	if (!p)
		return UINT64_MAX;
	return strtoull(p + strlen(line_prefix), NULL, 10);
}

static void test_endpoints(void **state)
{
	(void)state;
	struct probe_config cfg = {
		.metrics_listen = "127.0.0.1:0",
		.metrics_max_series = 3,
		.interval_ms = 100,
		.health_stall_ms = 300,
	};
	char err[256];
	struct agent_metrics *m = NULL;
	assert_int_equal(agent_metrics_new(&cfg, NULL, NULL, &m, err,
					   sizeof(err)),
			 0);
	uint16_t port = agent_metrics_port(m);
	int st;

	/* Five flows into four series: the cap (3) drops the fourth. */
	struct flow f[5];
	f[0] = make_flow(SOCK_DIR_ACTIVE, AF_INET, "198.18.63.2", 0,
			 "198.18.63.1", 80, "curl");
	f[0].new_connections = 7;
	f[1] = f[0]; /* another process of the same name: same series */
	f[1].key.pgid = 42;
	f[1].new_connections = 5;
	f[2] = make_flow(SOCK_DIR_PASSIVE, AF_INET, "198.18.63.1", 80,
			 "198.18.63.2", 0, "nginx");
	f[2].pod_namespace = "a\\b";
	f[2].pod_name = "x\ny\"<script>";
	f[3] = make_flow(SOCK_DIR_ACTIVE, AF_INET, "127.0.0.1", 0,
			 "127.0.0.1", 80, "lo");
	f[4] = make_flow(SOCK_DIR_ACTIVE, AF_INET, "198.18.63.2", 0,
			 "198.18.63.1", 81, "curl");
	f[4].key.proto = IPPROTO_UDP;
	f[4].new_connections = 2;
	assert_int_equal(agent_metrics_flows(m, f, 5), 0);
	/* Over a second interval: counters add up, the cap still holds. */
	f[0].new_connections = 1;
	struct flow g[2] = { f[0], make_flow(SOCK_DIR_ACTIVE, AF_INET,
					     "198.18.63.3", 0, "198.18.63.1",
					     22, "ssh") };
	g[1].new_connections = 4;
	assert_int_equal(agent_metrics_flows(m, g, 2), 0);
	agent_metrics_scanned(m, 1200, 0, 17, 5);
	agent_metrics_scanned(m, 30000, -EIO, 0, 0);

	char *body = get(port, "GET", "/metrics", &st);
	assert_int_equal(st, 200);
	assert_int_equal(
		sample(body, "shawk_connections_total{direction=\"active\","
			     "client_namespace=\"\",client_workload=\"curl@"
			     "198.18.63.2\",server_namespace=\"\","
			     "server_workload=\"198.18.63.1\",server_port="
			     "\"80\",proto=\"tcp\"} "),
		13);
	/* Hostile label values stay inside their quotes. */
	assert_int_equal(
		sample(body, "shawk_connections_total{direction=\"passive\","
			     "client_namespace=\"\",client_workload="
			     "\"198.18.63.2\",server_namespace=\"a\\\\b\","
			     "server_workload=\"Pod/x\\ny\\\"<script>\","
			     "server_port=\"80\",proto=\"tcp\"} "),
		1);
	assert_non_null(strstr(body, "server_port=\"81\",proto=\"udp\"} 2\n"));
	/* The loopback flow is skipped (not --include-loopback), the ssh
	 * series is the fourth: refused. */
	assert_null(strstr(body, "ssh@"));
	assert_int_equal(sample(body, "\nshawk_connection_series "), 3);
	assert_int_equal(sample(body, "\nshawk_connections_dropped_total "), 4);
	assert_int_equal(sample(body, "\nshawk_connection_series_dropped_total "),
			 1);
	assert_int_equal(
		sample(body, "\nshawk_connections_loopback_skipped_total "), 1);
	/* Scans: one of 1.2 ms, one failed after 30 ms. */
	assert_int_equal(sample(body, "\nshawk_scans_total "), 2);
	assert_int_equal(sample(body, "\nshawk_scan_failures_total "), 1);
	assert_int_equal(
		sample(body, "shawk_scan_duration_seconds_bucket{le=\"0.001\"} "),
		0);
	assert_int_equal(
		sample(body, "shawk_scan_duration_seconds_bucket{le=\"0.0025\"} "),
		1);
	assert_int_equal(
		sample(body, "shawk_scan_duration_seconds_bucket{le=\"0.025\"} "),
		1);
	assert_int_equal(
		sample(body, "shawk_scan_duration_seconds_bucket{le=\"0.05\"} "),
		2);
	assert_int_equal(
		sample(body, "shawk_scan_duration_seconds_bucket{le=\"+Inf\"} "),
		2);
	assert_int_equal(sample(body, "\nshawk_scan_sockets "), 0);
	assert_non_null(strstr(body, "# TYPE shawk_connections_total counter\n"));
	assert_non_null(strstr(body, "shawk_build_info{version=\""));
	assert_true(sample(body, "\nshawk_memory_rss_bytes ") > 0);
	assert_int_equal(sample(body, "\nshawk_metrics_scrapes_total "), 1);
	free(body);

	/* Bad requests. */
	free(get(port, "GET", "/metrics/x", &st));
	assert_int_equal(st, 404);
	free(get(port, "GET", "/other", &st));
	assert_int_equal(st, 404);
	free(get(port, "POST", "/metrics", &st));
	assert_int_equal(st, 405);
	free(get(port, "DELETE", "/healthz", &st));
	assert_int_equal(st, 405);
	body = get(port, "GET", "/metrics?format=json", &st);
	assert_int_equal(st, 400);
	assert_non_null(strstr(body, "'format'"));
	free(body);

	/* Health: the last scan failed, the one before is recent. */
	agent_metrics_scanned(m, 1000, 0, 1, 1);
	body = get(port, "GET", "/healthz", &st);
	assert_int_equal(st, 200);
	assert_true(!strncmp(body, "ok: last scan", 13));
	free(body);
	/* A flush that hangs past the bound (300 ms): 503 and why, while
	 * /metrics is still served. */
	agent_metrics_flush_begin(m, "cmdb");
	usleep(350 * 1000);
	body = get(port, "GET", "/healthz", &st);
	assert_int_equal(st, 503);
	assert_non_null(strstr(body, "flush to cmdb running for"));
	assert_non_null(strchr(body, '\n'));
	assert_ptr_equal(strchr(body, '\n'), body + strlen(body) - 1);
	free(body);
	body = get(port, "GET", "/metrics", &st);
	assert_int_equal(st, 200);
	free(body);
	agent_metrics_flush_end(m, 350000, -EIO);
	/* The flush came back, but the scans are now late too (bound:
	 * interval 100 ms + 300 ms). */
	usleep(100 * 1000);
	body = get(port, "GET", "/healthz", &st);
	assert_int_equal(st, 503);
	assert_non_null(strstr(body, "no successful scan for"));
	free(body);
	agent_metrics_scanned(m, 1000, 0, 1, 1);
	body = get(port, "GET", "/healthz", &st);
	assert_int_equal(st, 200);
	free(body);
	body = get(port, "GET", "/metrics", &st);
	assert_int_equal(sample(body, "\nshawk_flush_failures_total "), 1);
	assert_int_equal(
		sample(body, "shawk_flush_duration_seconds_bucket{le=\"0.25\"} "),
		0);
	assert_int_equal(
		sample(body, "shawk_flush_duration_seconds_bucket{le=\"0.5\"} "),
		1);
	free(body);
	agent_metrics_free(m);
}

static void test_listen_errors(void **state)
{
	(void)state;
	struct probe_config cfg = { .metrics_listen = "127.0.0.1:0",
				    .metrics_max_series = 1 };
	char err[256];
	struct agent_metrics *a = NULL, *b = NULL;
	assert_int_equal(agent_metrics_new(&cfg, NULL, NULL, &a, err,
					   sizeof(err)),
			 0);
	char where[64];
	snprintf(where, sizeof(where), "127.0.0.1:%u",
		 (unsigned)agent_metrics_port(a));
	cfg.metrics_listen = where;
	assert_int_equal(agent_metrics_new(&cfg, NULL, NULL, &b, err,
					   sizeof(err)),
			 -EADDRINUSE);
	assert_non_null(strstr(err, where));
	assert_null(b);
	agent_metrics_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_check),
		cmocka_unit_test(test_flow_labels),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_listen_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
