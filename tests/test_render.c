// SPDX-License-Identifier: MIT
#include "render/common.h"
#include "render/flows.h"
#include "render/table.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

/* ---- output capture ----------------------------------------------------- */

struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static void capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	assert_non_null(c->f);
}

/* Returns the captured text (owned by c until capture_free). */
static const char *capture_close(struct capture *c)
{
	assert_int_equal(fclose(c->f), 0);
	c->f = NULL;
	return c->buf;
}

static void capture_free(struct capture *c)
{
	free(c->buf);
}

/* ---- flows -------------------------------------------------------------- */

static void set_addr(struct flow_key *k, const char *l, const char *r)
{
	k->family = strchr(l, ':') ? AF_INET6 : AF_INET;
	memset(k->laddr, 0, 16);
	memset(k->raddr, 0, 16);
	assert_int_equal(inet_pton(k->family, l, k->laddr), 1);
	assert_int_equal(inet_pton(k->family, r, k->raddr), 1);
}

/* The example of DESIGN.md §4, inside a pod. */
static void flow_passive(struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->key.dir = SOCK_DIR_PASSIVE;
	f->key.proto = IPPROTO_TCP;
	set_addr(&f->key, "10.0.0.10", "10.0.0.11");
	f->key.lport = 80;
	f->key.netns = 4026531840ULL;
	f->key.pgid = 4656;
	strcpy(f->key.comm, "nginx");
	f->pid = 4657;
	f->connections = 3;
	f->new_connections = 1;
	f->cgroup = strdup("/kubepods.slice/kubepods-podu1.slice/cri-c0.scope");
	f->container_id = strdup("c0ffee");
	f->container_name = strdup("nginx");
	f->pod_namespace = strdup("default");
	f->pod_name = strdup("nginx-7c5d8");
	f->pod_uid = strdup("0d4b1f8e-6a7c-4d8e-9f3e-1b2c3d4e5f60");
	f->node = strdup("n1");
	assert_non_null(f->node);
}

/* An active UDP flow over IPv6, of a process outside any container. */
static void flow_active(struct flow *f)
{
	memset(f, 0, sizeof(*f));
	f->key.dir = SOCK_DIR_ACTIVE;
	f->key.proto = IPPROTO_UDP;
	set_addr(&f->key, "fd00::2", "fd00::1");
	f->key.rport = 8080;
	f->key.netns = 4026532001ULL;
	f->key.pgid = 5982;
	strcpy(f->key.comm, "wrk");
	f->pid = 5983;
	f->connections = 1;
}

static const cJSON *member(const cJSON *o, const char *name)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!m)
		print_error("no member '%s'\n", name);
	assert_non_null(m);
	return m;
}

static void assert_str_member(const cJSON *o, const char *name,
			      const char *want)
{
	const cJSON *m = member(o, name);
	assert_true(cJSON_IsString(m));
	assert_string_equal(m->valuestring, want);
}

static void assert_num_member(const cJSON *o, const char *name, double want)
{
	const cJSON *m = member(o, name);
	assert_true(cJSON_IsNumber(m));
	if (m->valuedouble != want)
		print_error("%s: %.17g, want %.17g\n", name, m->valuedouble,
			    want);
	assert_true(m->valuedouble == want);
}

static void assert_null_member(const cJSON *o, const char *name)
{
	assert_true(cJSON_IsNull(member(o, name)));
}

/* Every member is documented (or a known addition), none is missing. */
static void assert_keys(const cJSON *o, const char *const *required,
			const char *const *optional)
{
	assert_true(cJSON_IsObject(o));
	for (const char *const *k = required; *k; k++)
		member(o, *k);
	for (const cJSON *m = o->child; m; m = m->next) {
		bool known = false;
		for (const char *const *k = required; *k && !known; k++)
			known = strcmp(m->string, *k) == 0;
		for (const char *const *k = optional; *k && !known; k++)
			known = strcmp(m->string, *k) == 0;
		if (!known)
			print_error("undocumented member '%s'\n", m->string);
		assert_true(known);
	}
}

static const char *const flow_keys[] = {
	"direction", "proto", "local",	"peer", "connections", "process",
	"netns",     "cgroup", "container", "pod", NULL,
};
/* Additions to DESIGN.md §4 that consumers may ignore. */
static const char *const flow_extra[] = { "new_connections", "cgroup_id",
					  "service", "nat_peer", NULL };
static const char *const endpoint_keys[] = { "addr", "port", NULL };
static const char *const ephemeral_keys[] = { "addr", "port", "ephemeral",
					      NULL };
static const char *const process_keys[] = { "name", "pgid", "pid", NULL };
static const char *const process_extra[] = { "cmdline", NULL };
static const char *const container_keys[] = { "id", "name", NULL };
static const char *const pod_keys[] = { "namespace", "name", "uid", "node",
					NULL };
static const char *const none[] = { NULL };

/* Renders flows, checks it is one line, returns the parsed array. */
static cJSON *render_json(const struct flow *flows, size_t n)
{
	struct capture c;
	capture_open(&c);
	assert_int_equal(render_flows_json(c.f, flows, n), 0);
	const char *out = capture_close(&c);
	/* One line, newline-terminated, nothing raw below 0x20 inside. */
	assert_true(c.len > 0);
	assert_int_equal(out[c.len - 1], '\n');
	for (size_t i = 0; i + 1 < c.len; i++)
		if ((unsigned char)out[i] < 0x20) {
			print_error("raw control byte %#x at %zu\n",
				    (unsigned char)out[i], i);
			fail();
		}
	const char *end = NULL;
	cJSON *arr = cJSON_ParseWithOpts(out, &end, false);
	assert_non_null(arr);
	assert_string_equal(end, "\n");
	capture_free(&c);
	assert_true(cJSON_IsArray(arr));
	assert_int_equal(cJSON_GetArraySize(arr), (int)n);
	return arr;
}

static const char *ns_name(uint64_t ino, void *ud)
{
	(void)ud;
	return ino == 4026531840ULL ? "web" : NULL;
}

/* A daemon's line: node, window, flows; netns names where known. */
static void test_json_daemon_line(void **state)
{
	(void)state;
	struct flow flows[2];
	struct capture c;
	flow_passive(&flows[0]);
	flow_active(&flows[1]);
	const struct render_flows_meta m = {
		.node = "n1",
		.window_start_ms = 1795000000000LL,
		.window_end_ms = 1795000010500LL,
		.netns_name = ns_name,
	};
	capture_open(&c);
	assert_int_equal(render_flows_json_meta(c.f, flows, 2, &m), 0);
	const char *out = capture_close(&c);
	cJSON *o = cJSON_Parse(out);
	assert_non_null(o);
	assert_str_member(o, "node", "n1");
	const cJSON *w = member(o, "window");
	assert_str_member(w, "start", "2026-11-18T11:06:40.000Z");
	assert_str_member(w, "end", "2026-11-18T11:06:50.500Z");
	const cJSON *arr = member(o, "flows");
	assert_int_equal(cJSON_GetArraySize(arr), 2);
	assert_str_member(cJSON_GetArrayItem(arr, 0), "netns_name", "web");
	assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 1),
						     "netns_name"));
	cJSON_Delete(o);
	capture_free(&c);
	for (size_t i = 0; i < 2; i++)
		flow_clear(&flows[i]);
}

/* `shawk list`: ages for people, columns aligned, escapes; JSON types. */
static void test_table(void **state)
{
	(void)state;
	static const char *const names[] = { "namespace", "name", "pods",
					      "last_seen" };
	char *cells[] = {
		"shop",	      "cart",	   "3", "1795000000000",
		"web\x1b[31m", "", "12", "1794999880000",
	};
	const struct render_table t = {
		.section = "workloads", .names = names, .ncols = 4,
		.nrows = 2, .cells = cells,
	};
	struct capture c;
	capture_open(&c);
	assert_int_equal(render_table_text(c.f, &t, 1795000042000LL), 0);
	const char *out = capture_close(&c);
	assert_string_equal(out, "NAMESPACE  NAME  PODS  LAST SEEN\n"
				 "shop       cart  3     42s ago\n"
				 "web?[31m   -     12    2m ago\n");
	capture_free(&c);

	capture_open(&c);
	assert_int_equal(render_table_json(c.f, &t, 1, true), 0);
	out = capture_close(&c);
	assert_string_equal(out, "{\"workloads\":[{\"namespace\":\"shop\","
				 "\"name\":\"cart\",\"pods\":3,\"last_seen\":"
				 "\"2026-11-18T11:06:40.000Z\"},{\"namespace\":"
				 "\"web\\u001b[31m\",\"name\":null,\"pods\":12,"
				 "\"last_seen\":\"2026-11-18T11:04:40.000Z\"}]}\n");
	capture_free(&c);

	/* One kind: a bare array; none: an empty one. */
	capture_open(&c);
	assert_int_equal(render_table_json(c.f, &t, 1, false), 0);
	out = capture_close(&c);
	assert_true(out[0] == '[');
	capture_free(&c);
	capture_open(&c);
	assert_int_equal(render_table_json(c.f, &t, 0, false), 0);
	assert_string_equal(capture_close(&c), "[]\n");
	capture_free(&c);

	char age[32];
	render_age(age, sizeof(age), 10000, 9500);
	assert_string_equal(age, "just now");
	render_age(age, sizeof(age), 3 * 86400000LL, 0);
	assert_string_equal(age, "3d ago");
	render_age(age, sizeof(age), 3 * 3600000LL, 0);
	assert_string_equal(age, "3h ago");
}

/* The conntrack stage's fields: the dialed Service of an active flow, the
 * original client of a passive one (its port ephemeral, as a peer's). */
static void test_json_service(void **state)
{
	(void)state;
	struct flow flows[2];
	flow_active(&flows[0]);
	flows[0].key.proto = IPPROTO_TCP;
	set_addr(&flows[0].key, "198.18.61.10", "198.18.61.21");
	flows[0].key.family = AF_INET;
	flows[0].key.svc_port = 80;
	inet_pton(AF_INET, "198.18.161.10", flows[0].key.svc_addr);
	flow_passive(&flows[1]);
	inet_pton(AF_INET, "198.18.61.50", flows[1].key.nat_addr);
	cJSON *arr = render_json(flows, 2);
	const cJSON *o = cJSON_GetArrayItem(arr, 0);
	const cJSON *svc = member(o, "service");
	assert_keys(svc, endpoint_keys, none);
	assert_str_member(svc, "addr", "198.18.161.10");
	assert_num_member(svc, "port", 80);
	assert_str_member(member(o, "peer"), "addr", "198.18.61.21");
	assert_null_member(o, "nat_peer");
	o = cJSON_GetArrayItem(arr, 1);
	const cJSON *np = member(o, "nat_peer");
	assert_keys(np, ephemeral_keys, none);
	assert_str_member(np, "addr", "198.18.61.50");
	assert_num_member(np, "port", 0);
	assert_null_member(o, "service");
	cJSON_Delete(arr);

	struct capture c;
	capture_open(&c);
	assert_int_equal(render_flows_text(c.f, flows, 2), 0);
	const char *out = capture_close(&c);
	assert_non_null(strstr(out, "--> 198.18.61.21:8080"));
	assert_non_null(strstr(out, " via 198.18.161.10:80 "));
	assert_non_null(strstr(out, " nat-peer 198.18.61.50:many "));
	capture_free(&c);
	flow_clear(&flows[0]);
	flow_clear(&flows[1]);
}

static void test_json_shape(void **state)
{
	(void)state;
	struct flow flows[2];
	flow_passive(&flows[0]);
	flow_active(&flows[1]);
	cJSON *arr = render_json(flows, 2);

	const cJSON *o = cJSON_GetArrayItem(arr, 0);
	assert_keys(o, flow_keys, flow_extra);
	assert_str_member(o, "direction", "passive");
	assert_str_member(o, "proto", "tcp");
	const cJSON *local = member(o, "local");
	assert_keys(local, endpoint_keys, none);
	assert_str_member(local, "addr", "10.0.0.10");
	assert_num_member(local, "port", 80);
	const cJSON *peer = member(o, "peer");
	assert_keys(peer, ephemeral_keys, none);
	assert_str_member(peer, "addr", "10.0.0.11");
	/* Issue 17: always a number; the ephemeral side says so. */
	assert_num_member(peer, "port", 0);
	assert_true(cJSON_IsTrue(member(peer, "ephemeral")));
	assert_num_member(o, "connections", 3);
	const cJSON *p = member(o, "process");
	assert_keys(p, process_keys, process_extra);
	assert_str_member(p, "name", "nginx");
	assert_num_member(p, "pgid", 4656);
	assert_num_member(p, "pid", 4657);
	assert_num_member(o, "netns", 4026531840.0);
	assert_str_member(o, "cgroup",
			  "/kubepods.slice/kubepods-podu1.slice/cri-c0.scope");
	const cJSON *ctr = member(o, "container");
	assert_keys(ctr, container_keys, none);
	assert_str_member(ctr, "id", "c0ffee");
	assert_str_member(ctr, "name", "nginx");
	const cJSON *pod = member(o, "pod");
	assert_keys(pod, pod_keys, none);
	assert_str_member(pod, "namespace", "default");
	assert_str_member(pod, "name", "nginx-7c5d8");
	assert_str_member(pod, "uid", "0d4b1f8e-6a7c-4d8e-9f3e-1b2c3d4e5f60");
	assert_str_member(pod, "node", "n1");

	/* No conntrack translation: both null, always present. */
	assert_null_member(o, "service");
	assert_null_member(o, "nat_peer");

	o = cJSON_GetArrayItem(arr, 1);
	assert_keys(o, flow_keys, flow_extra);
	assert_str_member(o, "direction", "active");
	assert_str_member(o, "proto", "udp");
	local = member(o, "local");
	assert_str_member(local, "addr", "fd00::2");
	assert_num_member(local, "port", 0);
	assert_true(cJSON_IsTrue(member(local, "ephemeral")));
	assert_null(cJSON_GetObjectItemCaseSensitive(member(o, "peer"),
						     "ephemeral"));
	peer = member(o, "peer");
	assert_str_member(peer, "addr", "fd00::1");
	assert_num_member(peer, "port", 8080);
	assert_num_member(o, "connections", 1);
	p = member(o, "process");
	assert_keys(p, process_keys, none); /* no cmdline: no member */
	assert_str_member(p, "name", "wrk");
	assert_num_member(p, "pgid", 5982);
	assert_num_member(p, "pid", 5983);
	assert_num_member(o, "netns", 4026532001.0);
	assert_null_member(o, "cgroup");
	assert_null_member(o, "container");
	assert_null_member(o, "pod");

	cJSON_Delete(arr);
	flow_clear(&flows[0]);
	flow_clear(&flows[1]);
}

static void test_json_partial_objects(void **state)
{
	(void)state;
	struct flow f;
	flow_passive(&f);
	/* A container without a name, a pod known only by name. */
	free(f.container_name);
	f.container_name = NULL;
	free(f.pod_namespace);
	free(f.pod_uid);
	free(f.node);
	f.pod_namespace = f.pod_uid = f.node = NULL;
	f.cmdline = strdup("nginx: master process");
	f.cgroup_id = 12345;

	cJSON *arr = render_json(&f, 1);
	const cJSON *o = cJSON_GetArrayItem(arr, 0);
	const cJSON *ctr = member(o, "container");
	assert_str_member(ctr, "id", "c0ffee");
	assert_null_member(ctr, "name");
	const cJSON *pod = member(o, "pod");
	assert_keys(pod, pod_keys, none);
	assert_str_member(pod, "name", "nginx-7c5d8");
	assert_null_member(pod, "namespace");
	assert_null_member(pod, "uid");
	assert_null_member(pod, "node");
	assert_str_member(member(o, "process"), "cmdline",
			  "nginx: master process");
	assert_num_member(o, "cgroup_id", 12345);
	cJSON_Delete(arr);
	flow_clear(&f);
}

static void test_json_empty(void **state)
{
	(void)state;
	struct capture c;
	capture_open(&c);
	assert_int_equal(render_flows_json(c.f, NULL, 0), 0);
	assert_string_equal(capture_close(&c), "[]\n");
	capture_free(&c);
}

/* Untrusted strings stay valid, escaped JSON and read back unchanged. */
static void test_json_escaping(void **state)
{
	(void)state;
	static const char *const nasty[] = {
		"a\"b",
		"back\\slash",
		"nl\nx",
		"\x1b[31mred",
		"\x01\x02\x1f",
		"tab\there",
		"del\x7f",
		"}]},{\"x\":",
		"caf\xc3\xa9",
	};
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++) {
		struct flow f;
		flow_passive(&f);
		strncpy(f.key.comm, nasty[i], sizeof(f.key.comm) - 1);
		free(f.cgroup);
		f.cgroup = strdup(nasty[i]);
		f.cmdline = strdup(nasty[i]);
		free(f.pod_name);
		f.pod_name = strdup(nasty[i]);

		cJSON *arr = render_json(&f, 1);
		const cJSON *o = cJSON_GetArrayItem(arr, 0);
		assert_str_member(member(o, "process"), "name", f.key.comm);
		assert_str_member(member(o, "process"), "cmdline", nasty[i]);
		assert_str_member(o, "cgroup", nasty[i]);
		assert_str_member(member(o, "pod"), "name", nasty[i]);
		cJSON_Delete(arr);
		flow_clear(&f);
	}
}

static void test_text(void **state)
{
	(void)state;
	struct flow flows[2];
	flow_passive(&flows[0]);
	flow_active(&flows[1]);
	struct capture c;
	capture_open(&c);
	assert_int_equal(render_flows_text(c.f, flows, 2), 0);
	assert_string_equal(
		capture_close(&c),
		"passive tcp 10.0.0.10:80 <-- 10.0.0.11:many connections=3 "
		"('nginx', pgid=4656, pod=default/nginx-7c5d8) "
		"netns=4026531840\n"
		"active  udp [fd00::2]:many --> [fd00::1]:8080 connections=1 "
		"('wrk', pgid=5982) netns=4026532001\n");
	capture_free(&c);
	flow_clear(&flows[0]);
	flow_clear(&flows[1]);

	capture_open(&c);
	assert_int_equal(render_flows_text(c.f, NULL, 0), 0);
	assert_string_equal(capture_close(&c), "");
	capture_free(&c);
}

/* A comm or pod name must not inject terminal escapes or extra lines. */
static void test_text_strips_controls(void **state)
{
	(void)state;
	struct flow f;
	flow_passive(&f);
	strcpy(f.key.comm, "\x1b[2J\rx\ny\x7f");
	free(f.pod_namespace);
	f.pod_namespace = strdup("ns\x1b]0;title\x07");
	free(f.pod_name);
	f.pod_name = strdup("pod\n\xc2\x9b" "31m");

	struct capture c;
	capture_open(&c);
	assert_int_equal(render_flows_text(c.f, &f, 1), 0);
	const char *out = capture_close(&c);
	assert_string_equal(out,
			    "passive tcp 10.0.0.10:80 <-- 10.0.0.11:many "
			    "connections=3 ('?[2J?x?y?', pgid=4656, "
			    "pod=ns?]0;title?/pod??31m) netns=4026531840\n");
	capture_free(&c);
	flow_clear(&f);
}

static void test_endpoint(void **state)
{
	(void)state;
	static const struct {
		const char *addr;
		uint16_t port;
		const char *out;
	} cases[] = {
		{ "10.0.0.1", 80, "10.0.0.1:80" },
		{ "10.0.0.1", 0, "10.0.0.1:many" },
		{ "0.0.0.0", 65535, "0.0.0.0:65535" },
		{ "fd00::1", 8080, "[fd00::1]:8080" },
		{ "::1", 0, "[::1]:many" },
		{ "::", 1, "[::]:1" },
		{ "2001:db8:1:2:3:4:5:6", 443, "[2001:db8:1:2:3:4:5:6]:443" },
		{ "::ffff:10.0.0.1", 80, "[::ffff:10.0.0.1]:80" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t a[16] = { 0 };
		int family = strchr(cases[i].addr, ':') ? AF_INET6 : AF_INET;
		assert_int_equal(inet_pton(family, cases[i].addr, a), 1);
		char buf[64];
		memset(buf, 'X', sizeof(buf));
		render_endpoint(buf, sizeof(buf), family, a, cases[i].port);
		assert_string_equal(buf, cases[i].out);
	}

	/* A short buffer truncates, NUL-terminated. */
	uint8_t a[16] = { 0 };
	inet_pton(AF_INET6, "fd00::1", a);
	char small[6];
	render_endpoint(small, sizeof(small), AF_INET6, a, 80);
	assert_string_equal(small, "[fd00");
}

struct escape_case {
	const char *in, *out;
};

/* Each case through fn (an escape to a stream): its output is out. */
static void check_escape(void (*fn)(FILE *, const char *),
			 const struct escape_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct capture c;
		capture_open(&c);
		fn(c.f, cases[i].in);
		assert_string_equal(capture_close(&c), cases[i].out);
		capture_free(&c);
	}
}

static void test_escape_terminal(void **state)
{
	(void)state;
	static const struct escape_case cases[] = {
		{ "", "" },
		{ "nginx", "nginx" },
		{ "\x1b[31mred\x1b[0m", "?[31mred?[0m" },
		{ "a\nb\rc\td", "a?b?c?d" },
		{ "\x01\x1f\x7f", "???" },
		/* C1 controls, UTF-8 encoded (U+0080..U+009F): one '?'. */
		{ "\xc2\x80x\xc2\x9b" "1m\xc2\x9f", "?x?1m?" },
		/* Other UTF-8 passes: U+00A0, é, €. */
		{ "\xc2\xa0\xc3\xa9\xe2\x82\xac", "\xc2\xa0\xc3\xa9\xe2\x82\xac" },
		/* A lone 0xC2 at the end is not a C1 control. */
		{ "x\xc2", "x\xc2" },
	};
	check_escape(escape_terminal, cases, sizeof(cases) / sizeof(cases[0]));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		escape_terminal_buf(buf, sizeof(buf), cases[i].in);
		assert_string_equal(buf, cases[i].out);
	}

	/* Bounded: at most bufsz - 1 characters. */
	char buf[4];
	escape_terminal_buf(buf, sizeof(buf), "abcdef");
	assert_string_equal(buf, "abc");
	escape_terminal_buf(buf, sizeof(buf), "\x1b\x1b\x1b\x1b\x1b");
	assert_string_equal(buf, "???");
	escape_terminal_buf(buf, 1, "abc");
	assert_string_equal(buf, "");
	escape_terminal_buf(buf, sizeof(buf), "ab\xc2\x85z");
	assert_string_equal(buf, "ab?");
}

static void test_escape_dot(void **state)
{
	(void)state;
	static const struct escape_case cases[] = {
		{ "", "" },
		{ "nginx", "nginx" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "back\\slash", "back\\\\slash" },
		{ "two\nlines", "two\\nlines" },
		{ "\x1b[31m\r\t\x7f", "?[31m???" },
		{ "\"]; evil [label=\"", "\\\"]; evil [label=\\\"" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};
	check_escape(escape_dot, cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_json_service),
		cmocka_unit_test(test_json_daemon_line),
		cmocka_unit_test(test_json_partial_objects),
		cmocka_unit_test(test_json_empty),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_text_strips_controls),
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_escape_terminal),
		cmocka_unit_test(test_escape_dot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
