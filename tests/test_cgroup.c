// SPDX-License-Identifier: MIT
/* cgroup path parsing: one fixture per layout, plus edge cases. */
#include "k8s/cgroup.h"

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
#define C2 "b7e2d4f6a8c0e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f0"
#define C3 "0a4c6e8f1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a5c7e9b1d3f5a"
#define C4 "e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8"
#define NODE "5c2e9f1a7b3d8c4e6f0a2b9d1c7e3f5a8b4d6c0e2f9a1b7d3c5e8f4a6b0d2c9e"

struct expect {
	const char *name;
	int ret;
	enum cgroup_runtime rt;
	enum cgroup_qos qos;
	const char *cid;
	const char *uid;
};

static void check(const struct expect *e, int r,
		  const struct cgroup_identity *id)
{
	if (r != e->ret || id->runtime != e->rt || id->qos != e->qos ||
	    strcmp(id->container_id, e->cid) != 0 ||
	    strcmp(id->pod_uid, e->uid) != 0) {
		print_error("%s: got r=%d runtime=%s qos=%s cid='%s' uid='%s'\n"
			    "  want r=%d runtime=%s qos=%s cid='%s' uid='%s'\n",
			    e->name, r, cgroup_runtime_name(id->runtime),
			    cgroup_qos_name(id->qos), id->container_id,
			    id->pod_uid, e->ret, cgroup_runtime_name(e->rt),
			    cgroup_qos_name(e->qos), e->cid, e->uid);
		fail();
	}
}

static void test_fixtures(void **state)
{
	(void)state;
	static const struct expect cases[] = {
		{ "containerd_systemd_burstable", 1, CGROUP_RUNTIME_CONTAINERD,
		  CGROUP_QOS_BURSTABLE, C1,
		  "6f8b2c1e-3d4a-4b5c-9e7f-0a1b2c3d4e5f" },
		{ "containerd_systemd_guaranteed", 1, CGROUP_RUNTIME_CONTAINERD,
		  CGROUP_QOS_GUARANTEED, C2,
		  "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5" },
		{ "crio_systemd_besteffort", 1, CGROUP_RUNTIME_CRIO,
		  CGROUP_QOS_BESTEFFORT, C3,
		  "a1b2c3d4-e5f6-4789-abcd-ef0123456789" },
		/* conmon watches the container from the pod's slice. */
		{ "crio_conmon", 1, CGROUP_RUNTIME_NONE, CGROUP_QOS_BESTEFFORT,
		  "", "a1b2c3d4-e5f6-4789-abcd-ef0123456789" },
		{ "crio_crun_subgroup", 1, CGROUP_RUNTIME_CRIO,
		  CGROUP_QOS_BURSTABLE, C3,
		  "a1b2c3d4-e5f6-4789-abcd-ef0123456789" },
		/* v2 line is "/": the v1 controllers carry the pod. */
		{ "cgroupfs_v1_burstable", 1, CGROUP_RUNTIME_UNKNOWN,
		  CGROUP_QOS_BURSTABLE, C4,
		  "7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69" },
		{ "cgroupfs_v2_guaranteed", 1, CGROUP_RUNTIME_UNKNOWN,
		  CGROUP_QOS_GUARANTEED, C4,
		  "7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69" },
		{ "cgroupfs_v2_besteffort", 1, CGROUP_RUNTIME_UNKNOWN,
		  CGROUP_QOS_BESTEFFORT, C4,
		  "7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69" },
		{ "docker_v1", 1, CGROUP_RUNTIME_DOCKER, CGROUP_QOS_NONE, C2, "" },
		{ "docker_systemd_v2", 1, CGROUP_RUNTIME_DOCKER, CGROUP_QOS_NONE,
		  C2, "" },
		{ "kind_node_nested", 1, CGROUP_RUNTIME_CONTAINERD,
		  CGROUP_QOS_BESTEFFORT, C1,
		  "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "kind_node_cgroupns", 1, CGROUP_RUNTIME_CONTAINERD,
		  CGROUP_QOS_BURSTABLE, C1,
		  "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		/* kubelet of a kind node: the node container itself. */
		{ "kind_node_kubelet", 1, CGROUP_RUNTIME_DOCKER, CGROUP_QOS_NONE,
		  NODE, "" },
		{ "kind_cgroupfs_in_docker", 1, CGROUP_RUNTIME_UNKNOWN,
		  CGROUP_QOS_BURSTABLE, C4,
		  "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e" },
		{ "static_pod_systemd", 1, CGROUP_RUNTIME_CONTAINERD,
		  CGROUP_QOS_BURSTABLE, C2, "0e8d5c1f9a2b3c4d5e6f708192a3b4c5" },
		{ "host_session", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "", "" },
		{ "host_hybrid", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "", "" },
		{ "host_root", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char rel[128];
		size_t len;
		snprintf(rel, sizeof(rel), "cgroup/%s", cases[i].name);
		char *buf = fixture_read(rel, &len);
		/* Exact-size copy: ASan catches reads past the end. */
		char *exact = malloc(len);
		assert_non_null(exact);
		memcpy(exact, buf, len);
		struct cgroup_identity id;
		memset(&id, 0xaa, sizeof(id));
		int r = cgroup_parse_proc(exact, len, &id);
		check(&cases[i], r, &id);
		free(exact);
		free(buf);
	}
}

static void test_paths(void **state)
{
	(void)state;
	static const struct {
		const char *path;
		struct expect e;
	} cases[] = {
		{ "/kubepods/burstable/pod7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69/" C4
		  "/",
		  { "trailing slash", 1, CGROUP_RUNTIME_UNKNOWN,
		    CGROUP_QOS_BURSTABLE, C4,
		    "7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69" } },
		{ "//kubepods//pod7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69//" C4,
		  { "double slashes", 1, CGROUP_RUNTIME_UNKNOWN,
		    CGROUP_QOS_GUARANTEED, C4,
		    "7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69" } },
		/* The pod's own slice, no container (e.g. a pod cgroup id). */
		{ "/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod6f8b2c1e_3d4a_4b5c_9e7f_0a1b2c3d4e5f.slice",
		  { "pod slice", 1, CGROUP_RUNTIME_NONE, CGROUP_QOS_BURSTABLE, "",
		    "6f8b2c1e-3d4a-4b5c-9e7f-0a1b2c3d4e5f" } },
		{ "/kubepods.slice/kubepods-burstable.slice",
		  { "qos slice", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "",
		    "" } },
		/* "pod<uid>" outside kubepods is not a pod. */
		{ "/system.slice/pod7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69",
		  { "pod outside kubepods", 0, CGROUP_RUNTIME_NONE,
		    CGROUP_QOS_NONE, "", "" } },
		{ "/user.slice/foo-pod6f8b2c1e_3d4a_4b5c_9e7f_0a1b2c3d4e5f.slice",
		  { "slice without kubepods", 0, CGROUP_RUNTIME_NONE,
		    CGROUP_QOS_NONE, "", "" } },
		{ "/kubepods/burstable/podnotauid/" C4,
		  { "bad uid", 1, CGROUP_RUNTIME_UNKNOWN, CGROUP_QOS_NONE, C4,
		    "" } },
		{ "/docker/3F1A9C0D2B7E4F5A8C6D1E0B9A7F3C2D4E5F6A7B8C9D0E1F2A3B4C5D6"
		  "E7F8A9B",
		  { "upper-case id", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "",
		    "" } },
		{ "/docker/3f1a9c0d2b7e4f5a8c6d1e0b9a7f3c2d4e5f6a7b8c9d0e1f2a3b4c5d6"
		  "e7f8a9",
		  { "63 hex digits", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "",
		    "" } },
		{ "/system.slice/cri-containerd-" C1 ".scopex",
		  { "bad suffix", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE, "",
		    "" } },
		{ "/machine.slice/libpod-" C2 ".scope",
		  { "podman", 1, CGROUP_RUNTIME_PODMAN, CGROUP_QOS_NONE, C2,
		    "" } },
		{ "/system.slice/containerd.service",
		  { "containerd daemon", 0, CGROUP_RUNTIME_NONE, CGROUP_QOS_NONE,
		    "", "" } },
		/* Read from inside a cgroup namespace (an agent pod without
		 * cgroupns=host): other pods' paths start with "/..". */
		{ "/../../kubepods-besteffort.slice/kubepods-besteffort-pod"
		  "a1b2c3d4_e5f6_4789_abcd_ef0123456789.slice/crio-" C3 ".scope",
		  { "outside our cgroupns", 1, CGROUP_RUNTIME_CRIO,
		    CGROUP_QOS_BESTEFFORT, C3,
		    "a1b2c3d4-e5f6-4789-abcd-ef0123456789" } },
		{ "relative/path", { "relative", -EINVAL, 0, 0, "", "" } },
		{ "", { "empty", -EINVAL, 0, 0, "", "" } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cgroup_identity id;
		memset(&id, 0, sizeof(id));
		int r = cgroup_parse_path(cases[i].path, strlen(cases[i].path),
					  &id);
		const struct expect *e = &cases[i].e;
		if (e->ret < 0) {
			assert_int_equal(r, e->ret);
			continue;
		}
		check(e, r, &id);
	}
}

static void test_proc_edge(void **state)
{
	(void)state;
	struct cgroup_identity id;
	memset(&id, 0x55, sizeof(id));
	assert_int_equal(cgroup_parse_proc("", 0, &id), -EINVAL);
	assert_int_equal(cgroup_parse_proc("garbage\n", 8, &id), -EINVAL);
	/* No trailing newline; the path may contain ':'. */
	const char *s = "0::/docker/" C1;
	assert_int_equal(cgroup_parse_proc(s, strlen(s), &id), 1);
	assert_string_equal(id.container_id, C1);
	s = "0::/a:b\n";
	assert_int_equal(cgroup_parse_proc(s, strlen(s), &id), 0);
	/* A NUL ends the content. */
	const char nul[] = "0::/\0" "1:name=systemd:/docker/" C1 "\n";
	assert_int_equal(cgroup_parse_proc(nul, sizeof(nul) - 1, &id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_proc_edge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
