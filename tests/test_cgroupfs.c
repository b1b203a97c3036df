// SPDX-License-Identifier: MIT
/*
 * cgroup2 mount discovery on recorded mountinfo (this hybrid host, a pure
 * v2 node, an agent pod with the host's hierarchy under /host), and id ->
 * path resolution on this machine's real cgroup2 hierarchy.
 */
#include "k8s/cgroupfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "test_util.h"

static void test_mountinfo(void **state)
{
	(void)state;
	static const struct {
		const char *fixture, *prefer, *mount, *root;
	} cases[] = {
		{ "mountinfo/hybrid", "/sys/fs/cgroup", "/sys/fs/cgroup/unified",
		  "/" },
		{ "mountinfo/hybrid", NULL, "/sys/fs/cgroup/unified", "/" },
		{ "mountinfo/pure_v2", "/sys/fs/cgroup", "/sys/fs/cgroup", "/" },
		/* The pod's own namespaced view comes first, but the host's
		 * hierarchy is what the agent was pointed at. */
		{ "mountinfo/agent_pod", "/host/sys/fs/cgroup (host)",
		  "/host/sys/fs/cgroup (host)", "/" },
		{ "mountinfo/agent_pod", "/sys/fs/cgroup", "/sys/fs/cgroup",
		  "/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-pod0b1c2d3e_4f5a_4b6c_8d7e_9f0a1b2c3d4e."
		  "slice/cri-containerd-3f1a.scope" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *buf = fixture_read(cases[i].fixture, &len);
		char mount[PATH_MAX], root[PATH_MAX];
		int r = cgroupfs_parse_mountinfo(buf, len, cases[i].prefer,
						 mount, sizeof(mount), root,
						 sizeof(root));
		assert_int_equal(r, 0);
		assert_string_equal(mount, cases[i].mount);
		assert_string_equal(root, cases[i].root);
		free(buf);
	}
}

static void test_mountinfo_edge(void **state)
{
	(void)state;
	char m[64], r[64], small[8];
	const char *none = "21 26 0:20 / /proc rw,relatime - proc proc rw\n";
	assert_int_equal(cgroupfs_parse_mountinfo(none, strlen(none), NULL, m,
						  sizeof(m), r, sizeof(r)),
			 -ENOENT);
	assert_int_equal(cgroupfs_parse_mountinfo("", 0, NULL, m, sizeof(m), r,
						  sizeof(r)),
			 -ENOENT);
	/* Optional fields before the separator; no trailing newline. */
	const char *opt = "40 30 0:37 / /cg rw shared:9 master:2 - cgroup2 x rw";
	assert_int_equal(cgroupfs_parse_mountinfo(opt, strlen(opt), NULL, m,
						  sizeof(m), r, sizeof(r)),
			 0);
	assert_string_equal(m, "/cg");
	const char *lng = "40 30 0:37 / /a/long/mount/point rw - cgroup2 x rw";
	assert_int_equal(cgroupfs_parse_mountinfo(lng, strlen(lng), NULL, small,
						  sizeof(small), r, sizeof(r)),
			 -ENAMETOOLONG);
	/* Truncated line: no fstype. */
	const char *cut = "40 30 0:37 / /cg rw -";
	assert_int_equal(cgroupfs_parse_mountinfo(cut, strlen(cut), NULL, m,
						  sizeof(m), r, sizeof(r)),
			 -ENOENT);
}

static int handle_of(const char *path, uint64_t *ret)
{
	union {
		struct file_handle fh;
		char buf[sizeof(struct file_handle) + 64];
	} u;
	int mid;
	u.fh.handle_bytes = 64;
	if (name_to_handle_at(AT_FDCWD, path, &u.fh, &mid, 0) < 0 ||
	    u.fh.handle_bytes != 8)
		return -1;
	memcpy(ret, u.fh.f_handle, 8);
	return 0;
}

/* On this machine: our own cgroup resolves by id, by handle or by walk. */
static void test_live_lookup(void **state)
{
	(void)state;
	struct cgroupfs *c = NULL;
	int r = cgroupfs_open("/proc", "/sys/fs/cgroup", 0, &c);
	if (r == -ENOENT) {
		print_message("no cgroup2 hierarchy here: skipped\n");
		skip();
	}
	assert_int_equal(r, 0);

	/* Our own cgroup v2 path from /proc/self/cgroup. */
	size_t len;
	char own[PATH_MAX] = "";
	FILE *f = fopen("/proc/self/cgroup", "re");
	assert_non_null(f);
	char line[PATH_MAX];
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			len = strcspn(line + 3, "\n");
			memcpy(own, line + 3, len);
			own[len] = '\0';
		}
	fclose(f);
	assert_true(own[0] == '/');

	char abs[PATH_MAX * 2];
	snprintf(abs, sizeof(abs), "%s%s", cgroupfs_mount(c),
		 strcmp(own, "/") ? own : "");
	uint64_t id = 0;
	assert_int_equal(handle_of(abs, &id), 0);
	const char *path = NULL;
	assert_int_equal(cgroupfs_lookup(c, id, 0, &path), 0);
	assert_string_equal(path, strcmp(own, "/") ? own : "/");

	/* The walk alone finds it as well. */
	assert_true(cgroupfs_rescan(c) >= 0);
	assert_int_equal(cgroupfs_lookup(c, id, 0, &path), 0);
	assert_string_equal(path, strcmp(own, "/") ? own : "/");

	/* Unknown ids miss; a second miss inside the window does not walk. */
	assert_int_equal(cgroupfs_lookup(c, 0, 0, &path), -ENOENT);
	assert_int_equal(cgroupfs_lookup(c, UINT64_MAX - 7, 10, &path),
			 -ENOENT);
	cgroupfs_free(c);
	cgroupfs_free(NULL);
}

/* A cache of 2 entries stays at 2 whatever the hierarchy holds. */
static void test_live_bound(void **state)
{
	(void)state;
	struct cgroupfs *c = NULL;
	if (cgroupfs_open("/proc", "/sys/fs/cgroup", 2, &c) < 0)
		skip();
	int n = cgroupfs_rescan(c);
	assert_true(n >= 0 && n <= 2);
	cgroupfs_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_mountinfo_edge),
		cmocka_unit_test(test_live_lookup),
		cmocka_unit_test(test_live_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
