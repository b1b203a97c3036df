// SPDX-License-Identifier: MIT
/* kubelet PodList parsing, workload derivation and the pod cache. */
#include "k8s/pods.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

#define C1 "3f1a9c0d2b7e4f5a8c6d1e0b9a7f3c2d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b"
#define C3 "0a4c6e8f1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"
#define C4 "e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8"
#define C5 "1111aaaa2222bbbb3333cccc4444dddd5555eeee6666ffff7777000088889999"
#define C6 "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"

static struct pod_list *load(const char *rel, size_t max, int want)
{
	size_t len;
	char *buf = fixture_read(rel, &len);
	/* Exact-size copy: not NUL-terminated, ASan sees overreads. */
	char *exact = malloc(len ? len : 1);
	assert_non_null(exact);
	memcpy(exact, buf, len);
	struct pod_list *l = NULL;
	int r = pods_parse(exact, len, max, &l);
	free(exact);
	free(buf);
	assert_int_equal(r, want);
	return l;
}

static const struct pod *find(const struct pod_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->pods[i].name, name) == 0)
			return &l->pods[i];
	print_error("no pod %s\n", name);
	fail();
	return NULL;
}

static const char *label(const struct pod *p, const char *key)
{
	for (size_t i = 0; i < p->n_labels; i++)
		if (strcmp(p->labels[i].key, key) == 0)
			return p->labels[i].value;
	return NULL;
}

static void test_parse_fixture(void **state)
{
	(void)state;
	struct pod_list *l = load("kubelet/pods_node_a.json", 0, 0);
	assert_int_equal(l->n, 7);

	const struct pod *p = find(l, "cart-5d8f7c9b6-abcde");
	assert_string_equal(p->namespace, "shop");
	assert_string_equal(p->uid, "6f8b2c1e-3d4a-4b5c-9e7f-0a1b2c3d4e5f");
	assert_string_equal(p->node, "node-a");
	assert_string_equal(p->workload_kind, "Deployment");
	assert_string_equal(p->workload_name, "cart");
	assert_string_equal(p->qos_class, "Burstable");
	assert_string_equal(p->phase, "Running");
	assert_string_equal(p->start_time, "2024-05-14T08:12:00Z");
	assert_string_equal(p->host_ip, "172.18.0.3");
	assert_int_equal(p->n_ips, 2);
	assert_string_equal(p->ips[0], "10.244.1.5");
	assert_string_equal(p->ips[1], "fd00:10:244:1::5");
	assert_false(p->host_network);
	assert_string_equal(label(p, "app"), "cart");
	/* Two containers and one init container. */
	assert_int_equal(p->n_containers, 3);
	assert_string_equal(p->containers[0].name, "cart");
	assert_string_equal(p->containers[0].id, C1);
	assert_int_equal(p->containers[0].runtime, CGROUP_RUNTIME_CONTAINERD);
	assert_string_equal(p->containers[1].name, "istio-proxy");
	assert_string_equal(p->containers[2].name, "istio-init");
	assert_string_equal(p->containers[2].id, C6);

	p = find(l, "db-0");
	assert_string_equal(p->workload_kind, "StatefulSet");
	assert_string_equal(p->workload_name, "db");
	assert_int_equal(p->containers[0].runtime, CGROUP_RUNTIME_CRIO);
	assert_string_equal(p->containers[0].id, C3);

	p = find(l, "node-exporter-x7k2p");
	assert_true(p->host_network);
	assert_string_equal(p->workload_kind, "DaemonSet");
	assert_string_equal(p->workload_name, "node-exporter");
	assert_int_equal(p->containers[0].runtime, CGROUP_RUNTIME_DOCKER);
	assert_string_equal(p->qos_class, "Guaranteed");

	p = find(l, "migrate-28591220-q8w7z");
	assert_string_equal(p->workload_kind, "Job");
	assert_string_equal(p->workload_name, "migrate-28591220");
	assert_string_equal(p->phase, "Succeeded");

	p = find(l, "kube-apiserver-node-a");
	assert_string_equal(p->uid, "0e8d5c1f9a2b3c4d5e6f708192a3b4c5");
	assert_string_equal(p->workload_kind, "Node");

	p = find(l, "debug");
	assert_null(p->workload_kind);
	assert_int_equal(p->n_ips, 0);
	assert_int_equal(p->n_containers, 1);
	assert_null(p->containers[0].id);
	assert_string_equal(p->phase, "Pending");

	p = find(l, "legacy-rs-xk2p9");
	assert_string_equal(p->workload_kind, "ReplicaSet");
	assert_string_equal(p->workload_name, "legacy-rs");
	pod_list_free(l);
}

static void test_parse_errors(void **state)
{
	(void)state;
	assert_null(load("kubelet/garbage_html.txt", 0, -EINVAL));
	assert_null(load("kubelet/status_401.json", 0, -EINVAL));
	assert_null(load("kubelet/truncated.json", 0, -EINVAL));
	struct pod_list *l = load("kubelet/pods_empty.json", 0, 0);
	assert_int_equal(l->n, 0);
	pod_list_free(l);
	/* Bounded: only the first max_pods pods are kept. */
	l = load("kubelet/pods_node_a.json", 2, 0);
	assert_int_equal(l->n, 2);
	pod_list_free(l);
	pod_list_free(NULL);

	static const char *const bad[] = {
		"", "null", "[]", "{}", "{\"items\":{}}", "{\"kind\":\"Pod\",\"items\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = NULL;
		assert_int_equal(pods_parse(bad[i], strlen(bad[i]), 0, &l),
				 -EINVAL);
		assert_null(l);
	}
	/* Items of the wrong type or without identity are skipped. */
	const char *odd =
		"{\"items\":[1,\"x\",{},{\"metadata\":{\"name\":\"a\"}},"
		"{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"uid\":\"u\","
		"\"labels\":{\"k\":1,\"ok\":\"v\"},\"ownerReferences\":[7,{}]},"
		"\"status\":{\"podIPs\":[{\"ip\":3},{}],\"containerStatuses\":"
		"[{\"name\":\"c\",\"containerID\":\"rkt://abc\"},{\"id\":1}]}}]}";
	assert_int_equal(pods_parse(odd, strlen(odd), 0, &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->pods[0].n_labels, 1);
	assert_null(l->pods[0].workload_kind);
	assert_int_equal(l->pods[0].n_ips, 0);
	assert_int_equal(l->pods[0].n_containers, 1);
	assert_int_equal(l->pods[0].containers[0].runtime,
			 CGROUP_RUNTIME_UNKNOWN);
	assert_string_equal(l->pods[0].containers[0].id, "abc");
	pod_list_free(l);
}

static void test_workload(void **state)
{
	(void)state;
	static const struct {
		const char *kind, *name, *hash;
		int ret;
		const char *want_kind, *want_name;
	} cases[] = {
		{ "ReplicaSet", "cart-5d8f7c9b6", "5d8f7c9b6", 0, "Deployment",
		  "cart" },
		{ "ReplicaSet", "a-b-c-77f9c", "77f9c", 0, "Deployment", "a-b-c" },
		/* Hash absent or not the suffix: a bare ReplicaSet. */
		{ "ReplicaSet", "legacy", NULL, 0, "ReplicaSet", "legacy" },
		{ "ReplicaSet", "cart-5d8f7c9b6", "ffff", 0, "ReplicaSet",
		  "cart-5d8f7c9b6" },
		{ "ReplicaSet", "5d8f7c9b6", "5d8f7c9b6", 0, "ReplicaSet",
		  "5d8f7c9b6" },
		{ "ReplicaSet", "-5d8f", "5d8f", 0, "ReplicaSet", "-5d8f" },
		{ "StatefulSet", "db", "x", 0, "StatefulSet", "db" },
		{ "DaemonSet", "node-exporter", NULL, 0, "DaemonSet",
		  "node-exporter" },
		{ "Job", "migrate-28591220", NULL, 0, "Job", "migrate-28591220" },
		{ NULL, "x", NULL, -ENOENT, NULL, NULL },
		{ "Job", "", NULL, -ENOENT, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *kind = NULL;
		char name[64];
		int r = pod_workload_derive(cases[i].kind, cases[i].name,
					    cases[i].hash, &kind, name,
					    sizeof(name));
		assert_int_equal(r, cases[i].ret);
		if (r == 0) {
			assert_string_equal(kind, cases[i].want_kind);
			assert_string_equal(name, cases[i].want_name);
		}
	}
	/* Too long for the buffer: no workload rather than a cut name. */
	const char *kind;
	char small[4];
	assert_int_equal(pod_workload_derive("Job", "longname", NULL, &kind,
					     small, sizeof(small)),
			 -ENOENT);
}

static void test_container_id_split(void **state)
{
	(void)state;
	const char *id = NULL;
	assert_int_equal(pod_container_id_split("containerd://" C1, &id),
			 CGROUP_RUNTIME_CONTAINERD);
	assert_string_equal(id, C1);
	assert_int_equal(pod_container_id_split("cri-o://" C3, &id),
			 CGROUP_RUNTIME_CRIO);
	assert_int_equal(pod_container_id_split("docker://" C4, &id),
			 CGROUP_RUNTIME_DOCKER);
	id = NULL;
	assert_int_equal(pod_container_id_split("docker://", &id),
			 CGROUP_RUNTIME_NONE);
	assert_int_equal(pod_container_id_split(C4, &id), CGROUP_RUNTIME_NONE);
	assert_null(id);
}

static void test_cache(void **state)
{
	(void)state;
	struct pod_cache *c =
		pod_cache_new(load("kubelet/pods_node_a.json", 0, 0));
	assert_non_null(c);
	assert_int_equal(pod_cache_count(c), 7);
	const struct pod_container *ctr = NULL;
	const struct pod *p = pod_cache_by_container(c, C5, &ctr);
	assert_non_null(p);
	assert_string_equal(p->name, "cart-5d8f7c9b6-abcde");
	assert_string_equal(ctr->name, "istio-proxy");
	p = pod_cache_by_container(c, C4, &ctr);
	assert_string_equal(p->name, "node-exporter-x7k2p");
	assert_null(pod_cache_by_container(c, "00", NULL));
	assert_null(pod_cache_by_container(c, "", NULL));
	assert_null(pod_cache_by_container(c, NULL, NULL));
	p = pod_cache_by_uid(c, "a1b2c3d4-e5f6-4789-abcd-ef0123456789");
	assert_string_equal(p->name, "db-0");
	assert_null(pod_cache_by_uid(c, "a1b2c3d4"));
	assert_null(pod_cache_by_uid(NULL, "x"));
	pod_cache_free(c);
	pod_cache_free(NULL);
}

/* Replays the fuzz corpus (tests/fuzz/corpus/pods): no crash, no leak. */
static void test_fuzz_corpus(void **state)
{
	(void)state;
	char dir[4096];
	fixture_path(dir, sizeof(dir), "../fuzz/corpus/pods");
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char rel[512];
		snprintf(rel, sizeof(rel), "../fuzz/corpus/pods/%s", de->d_name);
		size_t len;
		char *buf = fixture_read(rel, &len);
		struct pod_list *l = NULL;
		if (pods_parse(buf, len, 16, &l) == 0) {
			struct pod_cache *c = pod_cache_new(l);
			assert_non_null(c);
			(void)pod_cache_by_container(c, C1, NULL);
			pod_cache_free(c);
		}
		free(buf);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

/* Kubernetes' own limits, one field broken at a time. */
static void test_validate(void **state)
{
	(void)state;
	char long_name[3501], long_label[70];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memset(long_label, 'v', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	static const char *const bad_utf8 = "Deploy\xff\xfe";

	struct pod_label lb_ok[] = { { (char *)"app.kubernetes.io/name",
				       (char *)"Web_1.x" },
				     { (char *)"tier", (char *)"" } };
	struct pod_container ctr_ok[] = { { .name = (char *)"nginx" } };
	const struct {
		const char *what;
		const char *ns, *name, *uid, *ip, *kind;
		const char *lkey, *lval, *ctr;
		bool valid;
	} cases[] = {
		{ "good", "default", "web-1.a", "u-1", "198.18.64.5", NULL,
		  NULL, NULL, NULL, true },
		{ "IPv6", "default", "web-1", "u-1", "2001:db8:64::5", NULL, NULL,
		  NULL, NULL, true },
		{ "not an IP", "default", "web-1", "u-1", "not-an-ip", NULL,
		  NULL, NULL, NULL, false },
		{ "3500-char name", "default", long_name, "u-1", NULL, NULL,
		  NULL, NULL, NULL, false },
		{ "upper-case name", "default", "Web", "u-1", NULL, NULL, NULL,
		  NULL, NULL, false },
		{ "name ends with a dot", "default", "web.", "u-1", NULL, NULL,
		  NULL, NULL, NULL, false },
		{ "namespace of 64", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "web", "u-1", NULL, NULL, NULL, NULL, NULL, false },
		{ "namespace with a dot", "kube.system", "web", "u-1", NULL,
		  NULL, NULL, NULL, NULL, false },
		{ "uid with a space", "default", "web", "u 1", NULL, NULL, NULL,
		  NULL, NULL, false },
		{ "kind not UTF-8", "default", "web", "u-1", NULL, bad_utf8,
		  NULL, NULL, NULL, false },
		{ "label value of 69", "default", "web", "u-1", NULL, NULL,
		  "app", long_label, NULL, false },
		{ "label key with two slashes", "default", "web", "u-1", NULL,
		  NULL, "a/b/c", "x", NULL, false },
		{ "label key prefix not DNS", "default", "web", "u-1", NULL,
		  NULL, "A_B/c", "x", NULL, false },
		{ "label value with a space", "default", "web", "u-1", NULL,
		  NULL, "app", "a b", NULL, false },
		{ "container name upper-case", "default", "web", "u-1", NULL,
		  NULL, NULL, NULL, "Nginx", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pod p;
		memset(&p, 0, sizeof(p));
		p.namespace = (char *)cases[i].ns;
		p.name = (char *)cases[i].name;
		p.uid = (char *)cases[i].uid;
		p.workload_kind = (char *)cases[i].kind;
		if (cases[i].ip) {
			p.ips[0] = (char *)cases[i].ip;
			p.n_ips = 1;
		}
		struct pod_label lb = { (char *)cases[i].lkey,
					(char *)cases[i].lval };
		if (cases[i].lkey) {
			p.labels = &lb;
			p.n_labels = 1;
		} else {
			p.labels = lb_ok;
			p.n_labels = 2;
		}
		struct pod_container ctr = { .name = (char *)cases[i].ctr };
		p.containers = cases[i].ctr ? &ctr : ctr_ok;
		p.n_containers = 1;
		const char *why = NULL;
		int r = pod_validate(&p, &why);
		if ((r == 0) != cases[i].valid)
			print_error("case '%s': r=%d why=%s\n", cases[i].what, r,
				    why ? why : "-");
		assert_int_equal(r == 0, cases[i].valid);
		if (!cases[i].valid)
			assert_non_null(why);
	}
}

/* A bad pod in a PodList is skipped and counted; its neighbours stay. */
static void test_parse_skips_invalid(void **state)
{
	(void)state;
	char buf[8192];
	char long_name[3501];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	int n = snprintf(buf, sizeof(buf),
		"{\"kind\":\"PodList\",\"items\":["
		"{\"metadata\":{\"name\":\"good-1\",\"namespace\":\"default\",\"uid\":\"u1\"},"
		" \"status\":{\"podIP\":\"198.18.64.10\"}},"
		"{\"metadata\":{\"name\":\"bad-ip\",\"namespace\":\"default\",\"uid\":\"u2\"},"
		" \"status\":{\"podIP\":\"not-an-ip\"}},"
		"{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\",\"uid\":\"u3\"}},"
		"{\"metadata\":{\"name\":\"good-2\",\"namespace\":\"default\",\"uid\":\"u4\"},"
		" \"status\":{\"podIP\":\"2001:db8:64::10\"}}]}", long_name);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	struct pod_list *l = NULL;
	assert_int_equal(pods_parse(buf, (size_t)n, 0, &l), 0);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->n_invalid, 2);
	assert_string_equal(l->pods[0].name, "good-1");
	assert_string_equal(l->pods[1].name, "good-2");
	pod_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_fixture),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_workload),
		cmocka_unit_test(test_container_id_split),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_fuzz_corpus),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_parse_skips_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
