// SPDX-License-Identifier: MIT
/*
 * The parts of src/cmdb that need no server: array literals (on flows and
 * pods), the outage buffer (merge, cap, oldest dropped). The flush's COPY
 * rows are tested in test_flush_data.c.
 */
#include "agent/pending.h"
#include "cmdb/pgcopy.h"
#include "cmdb/pods_store.h"
#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/util.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "test_util.h"
#include "cmdb_flows.h"

static void test_sql_array_literals(void **s)
{
	(void)s;
	static const struct {
		const char *in; /* NULL: SQL NULL */
		const char *out;
	} cases[] = {
		{ NULL, "{NULL}" },
		{ "", "{\"\"}" },
		{ "nginx", "{\"nginx\"}" },
		/* The literal word NULL quoted is a string, not NULL. */
		{ "NULL", "{\"NULL\"}" },
		{ "a\"b", "{\"a\\\"b\"}" },
		{ "a\\b", "{\"a\\\\b\"}" },
		{ "{x,y}", "{\"{x,y}\"}" },
		{ "tab\there", "{\"tab\there\"}" },
		/* Valid UTF-8 kept, invalid bytes replaced. */
		{ "caf\xc3\xa9", "{\"caf\xc3\xa9\"}" },
		{ "bad\xff\xc3", "{\"bad??\"}" },
		{ "\xed\xa0\x80", "{\"???\"}" }, /* UTF-16 surrogate */
		{ "\xe0\x80\xaf", "{\"???\"}" }, /* overlong */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sql_array a;
		sql_array_init(&a);
		sql_array_add_str(&a, cases[i].in);
		const char *got = sql_array_finish(&a);
		assert_non_null(got);
		if (strcmp(got, cases[i].out))
			print_error("case %zu: got %s\n", i, got);
		assert_string_equal(got, cases[i].out);
		sql_array_clear(&a);
	}

	struct sql_array a;
	sql_array_init(&a);
	assert_string_equal(sql_array_finish(&a), "{}");
	sql_array_clear(&a);
	sql_array_add_int(&a, 0);
	sql_array_add_int(&a, -42);
	sql_array_add_int(&a, INT64_MAX);
	sql_array_add_str(&a, NULL);
	assert_string_equal(sql_array_finish(&a),
			    "{0,-42,9223372036854775807,NULL}");
	assert_int_equal(a.n, 4);
	sql_array_clear(&a);

	/* Growth across many elements keeps every one. */
	for (int i = 0; i < 10000; i++)
		sql_array_add_int(&a, i);
	const char *big = sql_array_finish(&a);
	assert_non_null(big);
	assert_int_equal(strncmp(big, "{0,1,2,", 7), 0);
	assert_non_null(strstr(big, ",9999}"));
	sql_array_clear(&a);
}

/*
 * The flows as array literals, one per column (what the flush sent before
 * it streamed binary COPYs): the sql_array encoding on flow-shaped data.
 * Returns 0 or -ENOMEM.
 */
#define FLOW_COLUMNS 21
static int build_arrays(const struct flow *flows, size_t n,
			struct sql_array *c)
{
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		const struct flow_key *k = &f->key;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN];
		char comm[sizeof(k->comm) + 1];

		addr_format(k->family, k->laddr, la);
		addr_format(k->family, k->raddr, ra);
		/* comm is a fixed array, not always NUL-terminated. */
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		sql_array_add_str(&c[0], k->dir == SOCK_DIR_PASSIVE ? "passive"
								      : "active");
		sql_array_add_str(&c[1], k->proto == IPPROTO_UDP ? "udp" : "tcp");
		sql_array_add_str(&c[2], la);
		sql_array_add_int(&c[3], k->lport);
		sql_array_add_str(&c[4], ra);
		sql_array_add_int(&c[5], k->rport);
		sql_array_add_int(&c[6], (int64_t)k->netns);
		sql_array_add_int(&c[7], k->pgid);
		sql_array_add_str(&c[8], comm);
		if (f->pid)
			sql_array_add_int(&c[9], f->pid);
		else
			sql_array_add_str(&c[9], NULL);
		sql_array_add_str(&c[10], f->cmdline);
		sql_array_add_str(&c[11], f->cgroup);
		sql_array_add_str(&c[12], f->container_id);
		sql_array_add_str(&c[13], f->container_name);
		sql_array_add_str(&c[14], f->pod_namespace);
		sql_array_add_str(&c[15], f->pod_name);
		sql_array_add_str(&c[16], f->pod_uid);
		sql_array_add_int(&c[17], f->connections);
		sql_array_add_int(&c[18], f->new_connections);
		sql_array_add_int(&c[19], f->first_seen_ms);
		sql_array_add_int(&c[20], f->last_seen_ms);
	}
	for (size_t i = 0; i < FLOW_COLUMNS; i++)
		if (!sql_array_finish(&c[i]))
			return -ENOMEM;
	return 0;
}

static void test_store_arrays(void **s)
{
	(void)s;
	struct sql_array c[FLOW_COLUMNS];
	struct flow fl[2] = {
		mkflow(SOCK_DIR_PASSIVE, "nginx", 80, 2),
		mkflow(SOCK_DIR_ACTIVE, "0123456789abcdef", 0, 3),
	};
	fl[0].cmdline = (char *)"nginx: \"master\"";
	for (size_t i = 0; i < FLOW_COLUMNS; i++)
		sql_array_init(&c[i]);
	assert_int_equal(build_arrays(fl, 2, c), 0);
	assert_string_equal(c[0].buf, "{\"passive\",\"active\"}");
	assert_string_equal(c[1].buf, "{\"tcp\",\"tcp\"}");
	assert_string_equal(c[2].buf, "{\"10.0.0.1\",\"10.0.0.1\"}");
	assert_string_equal(c[3].buf, "{80,0}");
	assert_string_equal(c[4].buf, "{\"10.0.0.2\",\"10.0.0.3\"}");
	assert_string_equal(c[5].buf, "{0,80}");
	assert_string_equal(c[6].buf, "{4026531840,4026531840}");
	/* A 16-byte comm has no terminating NUL in the key. */
	assert_string_equal(c[8].buf, "{\"nginx\",\"0123456789abcdef\"}");
	assert_string_equal(c[10].buf, "{\"nginx: \\\"master\\\"\",NULL}");
	assert_string_equal(c[12].buf, "{NULL,NULL}");
	assert_string_equal(c[17].buf, "{3,3}");
	assert_string_equal(c[18].buf, "{2,2}");
	assert_string_equal(c[20].buf, "{2000,2000}");
	for (size_t i = 0; i < FLOW_COLUMNS; i++) {
		assert_int_equal(c[i].n, 2);
		sql_array_clear(&c[i]);
	}
}

static void test_pending_merge(void **s)
{
	(void)s;
	struct pending *p = pending_new();
	struct flow a = mkflow(SOCK_DIR_PASSIVE, "srv", 80, 2);
	a.cgroup = (char *)"/system.slice/x";
	assert_int_equal(pending_add(p, &a, 10), 0);
	struct flow b = a;
	b.connections = 5;
	b.new_connections = 1;
	b.first_seen_ms = 500;
	b.last_seen_ms = 9000;
	assert_int_equal(pending_add(p, &b, 10), 0);
	assert_int_equal(pending_count(p), 1);
	const struct flow *m = pending_flows(p);
	assert_int_equal(m->connections, 5); /* the latest interval */
	assert_int_equal(m->new_connections, 3);
	assert_true(m->first_seen_ms == 500 && m->last_seen_ms == 9000);
	/* A deep copy: the caller's strings may go away. */
	assert_ptr_not_equal(m->cgroup, a.cgroup);
	assert_string_equal(m->cgroup, "/system.slice/x");
	struct flow c = mkflow(SOCK_DIR_PASSIVE, "srv", 81, 2);
	assert_int_equal(pending_add(p, &c, 10), 0);
	assert_int_equal(pending_count(p), 2);
	pending_clear(p);
	assert_int_equal(pending_count(p), 0);
	pending_free(p);
}

static void test_pending_cap_drops_oldest(void **s)
{
	(void)s;
	struct pending *p = pending_new();
	for (int i = 0; i < 100; i++) {
		struct flow f = mkflow(SOCK_DIR_PASSIVE, "srv",
				       (uint16_t)(1000 + i), 2);
		assert_int_equal(pending_add(p, &f, 64), 0);
		assert_true(pending_count(p) <= 64);
	}
	assert_int_equal(pending_count(p) + pending_dropped(p), 100);
	assert_true(pending_dropped(p) > 0);
	/* The newest survive, in order. */
	const struct flow *fl = pending_flows(p);
	size_t n = pending_count(p);
	assert_int_equal(fl[n - 1].key.lport, 1099);
	for (size_t i = 1; i < n; i++)
		assert_true(fl[i].key.lport > fl[i - 1].key.lport);
	/* Survivors are still found for merging after the compaction. */
	struct flow again = mkflow(SOCK_DIR_PASSIVE, "srv", 1099, 2);
	assert_int_equal(pending_add(p, &again, 64), 0);
	assert_int_equal(pending_count(p), n);
	pending_free(p);
}

/* Pod rows: per-pod columns plus (pod index, value) pairs, 1-based like
 * WITH ORDINALITY; the bound holds; a missing start time is NULL. */
static void test_pod_rows(void **s)
{
	(void)s;
	struct pod_label labels[] = { { "app", "cart" }, { "tier", "b.2" } };
	struct pod_container ctrs[] = { { .name = "cart" }, { .name = "sidecar" } };
	struct pod pods[] = {
		{ .namespace = "shop", .name = "cart-1", .uid = "u1",
		  .workload_kind = "Deployment", .workload_name = "cart",
		  .start_time = "2026-11-22T10:00:00Z",
		  .ips = { "198.18.0.42", "fd00::42" }, .n_ips = 2,
		  .labels = labels, .n_labels = 2,
		  .containers = ctrs, .n_containers = 2 },
		{ .namespace = "kube-system", .name = "exp", .uid = "u2",
		  .host_network = true, .ips = { "10.77.0.1" }, .n_ips = 1 },
	};
	struct cmdb_pod_rows r;
	cmdb_pod_rows_init(&r, 2);
	/* A pod Kubernetes would refuse (a quote in a label value, an
	 * address that is none) adds nothing. */
	struct pod_label bad_label[] = { { "tier", "a\"b" } };
	struct pod bad = pods[1];
	bad.labels = bad_label;
	bad.n_labels = 1;
	assert_int_equal(cmdb_pod_rows_add(&r, &bad), -EINVAL);
	bad = pods[1];
	bad.ips[0] = "not-an-ip";
	assert_int_equal(cmdb_pod_rows_add(&r, &bad), -EINVAL);
	assert_int_equal(r.n, 0);
	assert_int_equal(cmdb_pod_rows_add(&r, &pods[0]), 0);
	assert_int_equal(cmdb_pod_rows_add(&r, &pods[1]), 0);
	assert_int_equal(cmdb_pod_rows_add(&r, &pods[1]), -ENOSPC);
	assert_int_equal(r.n, 2);
	const char *want[CMDB_POD_COLUMNS] = {
		"{\"u1\",\"u2\"}",
		"{\"shop\",\"kube-system\"}",
		"{\"cart-1\",\"exp\"}",
		"{\"Deployment\",NULL}",
		"{\"cart\",NULL}",
		"{\"f\",\"t\"}",
		"{1795341600000,NULL}",
		"{1,1,2}",
		"{\"198.18.0.42\",\"fd00::42\",\"10.77.0.1\"}",
		"{1,1}",
		"{\"app\",\"tier\"}",
		"{\"cart\",\"b.2\"}",
		"{1,1}",
		"{\"cart\",\"sidecar\"}",
	};
	for (size_t i = 0; i < CMDB_POD_COLUMNS; i++)
		assert_string_equal(sql_array_finish(&r.col[i]), want[i]);
	cmdb_pod_rows_clear(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sql_array_literals),
		cmocka_unit_test(test_store_arrays),
		cmocka_unit_test(test_pending_merge),
		cmocka_unit_test(test_pending_cap_drops_oldest),
		cmocka_unit_test(test_pod_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
