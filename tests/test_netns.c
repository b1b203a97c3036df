// SPDX-License-Identifier: MIT
/*
 * The netns set's bookkeeping (probe/netns.c) on a fake /proc: one handle
 * per distinct netns inode, a live pid to read each through, vanished
 * namespaces dropped, named ones only when they are namespaces, and our own
 * netns always there. The fake namespaces are regular files: entering them
 * fails (setns EINVAL), so their handles fall back to /proc/<pid>/net.
 */
#include "probe/netns.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

static uint64_t ino_of(struct tmp_tree *t, const char *rel)
{
	struct stat st;
	assert_int_equal(fstatat(t->dfd, rel, &st, 0), 0);
	return st.st_ino;
}

/* A process whose ns/net points at fake netns `ns`. */
static void add_proc(struct tmp_tree *t, uint32_t pid, const char *ns)
{
	char rel[64], buf[256];
	snprintf(rel, sizeof(rel), "netns/%s", ns);
	if (faccessat(t->dfd, rel, F_OK, 0) < 0)
		write_file_at(t->dfd, rel, "", 0);
	snprintf(rel, sizeof(rel), "%u", pid);
	assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);
	snprintf(rel, sizeof(rel), "%u/stat", pid);
	int n = snprintf(buf, sizeof(buf),
			 "%u (p%u) S 1 %u %u 0 -1 4194560 0 0 0 0 0 0 0 0 20 "
			 "0 1 0 %u 1000 10 18446744073709551615\n",
			 pid, pid, pid, pid, 1000 + pid);
	write_file_at(t->dfd, rel, buf, (size_t)n);
	snprintf(rel, sizeof(rel), "%u/fd", pid);
	assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);
	snprintf(rel, sizeof(rel), "%u/ns", pid);
	assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);
	snprintf(rel, sizeof(rel), "%u/ns/net", pid);
	snprintf(buf, sizeof(buf), "../../netns/%s", ns);
	assert_int_equal(symlinkat(buf, t->dfd, rel), 0);
}

static void remove_proc(struct tmp_tree *t, uint32_t pid)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%u", t->root, pid);
	assert_int_equal(rm_tree(path), 0);
}

static struct netns_handle *find(struct netns_set *s, uint64_t ino)
{
	for (size_t i = 0; i < netns_set_count(s); i++)
		if (netns_set_at(s, i)->ino == ino)
			return netns_set_at(s, i);
	return NULL;
}

static int resync(struct netns_set *s, struct procmap *pm)
{
	assert_true(procmap_refresh(pm) >= 0);
	return netns_set_sync(s, pm);
}

static void test_bookkeeping(void **state)
{
	(void)state;
	struct tmp_tree *t = tmp_tree_new("netns");
	struct stat self;
	char run[128];

	assert_non_null(t);
	assert_int_equal(mkdirat(t->dfd, "netns", 0755), 0);
	assert_int_equal(mkdirat(t->dfd, "run", 0755), 0);
	write_file_at(t->dfd, "uptime", "1.0 1.0\n", 8);

	assert_int_equal(stat("/proc/self/ns/net", &self), 0);
	add_proc(t, 100, "a");
	add_proc(t, 101, "a");
	add_proc(t, 200, "b");
	/* A placeholder in the named-netns directory is not a namespace. */
	write_file_at(t->dfd, "run/placeholder", "", 0);
	snprintf(run, sizeof(run), "%s/run", t->root);

	struct procmap *pm = NULL;
	assert_int_equal(procmap_new(t->root, 0, 0, &pm), 0);
	struct netns_set *s = netns_set_new(t->root, run, 0);
	assert_non_null(s);

	/* a, b and our own netns, each once. */
	assert_int_equal(resync(s, pm), 3);
	uint64_t a = ino_of(t, "netns/a"), b = ino_of(t, "netns/b");
	struct netns_handle *ha = find(s, a), *hb = find(s, b);
	struct netns_handle *own = find(s, self.st_ino);
	assert_non_null(ha);
	assert_non_null(hb);
	assert_non_null(own);
	assert_true(own->own);
	assert_false(ha->own);
	assert_true(ha->pid_hint == 100 || ha->pid_hint == 101);
	assert_int_equal(hb->pid_hint, 200);
	/* Not enterable: read through /proc/<pid>/net, the refusal kept
	 * for one warning. */
	assert_int_equal(ha->diag_fd, -1);
	assert_int_equal(netns_set_enter_error(s), -EINVAL);

	/* The same processes: nothing moves. */
	assert_int_equal(resync(s, pm), 3);
	assert_int_equal(find(s, a)->ino, a);

	/* b's only process exits: b is dropped. One of a's exits: a stays,
	 * read through the other. */
	remove_proc(t, 200);
	uint32_t gone = find(s, a)->pid_hint;
	remove_proc(t, gone);
	assert_int_equal(resync(s, pm), 2);
	assert_null(find(s, b));
	assert_int_equal(find(s, a)->pid_hint, gone == 100 ? 101 : 100);
	assert_non_null(find(s, self.st_ino));

	/* Every process gone: our own netns is still scanned. */
	remove_proc(t, gone == 100 ? 101 : 100);
	assert_int_equal(resync(s, pm), 1);
	assert_true(netns_set_at(s, 0)->own);

	netns_set_free(s);
	procmap_free(pm);
	tmp_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bookkeeping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
