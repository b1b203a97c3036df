// SPDX-License-Identifier: MIT
/*
 * procmap on a fake /proc built at test time: <pid>/{stat,cgroup,cmdline},
 * <pid>/fd/<n> symlinks to "socket:[N]" (dangling, as readlink wants them)
 * and <pid>/ns/net pointing at a regular file whose inode plays the netns.
 */
#include "probe/procmap.h"

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

static int tree_setup(void **state)
{
	struct tmp_tree *t = tmp_tree_new("procmap");
	if (!t || mkdirat(t->dfd, "netns", 0755) < 0)
		return -1;
	/* Entries of a real /proc that are not processes. */
	if (mkdirat(t->dfd, "sys", 0755) < 0 ||
	    symlinkat("1", t->dfd, "self") < 0 ||
	    mkdirat(t->dfd, "0", 0755) < 0 || /* pid 0 does not exist */
	    mkdirat(t->dfd, "12abc", 0755) < 0)
		return -1;
	write_file_at(t->dfd, "uptime", "1.0 1.0\n", 8);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	tmp_tree_free(*state);
	return 0;
}

/* The inode of the fake netns `name`, created on first use. */
static uint64_t netns_ino(struct tmp_tree *t, const char *name)
{
	char rel[64];
	struct stat st;
	snprintf(rel, sizeof(rel), "netns/%s", name);
	if (fstatat(t->dfd, rel, &st, 0) < 0) {
		write_file_at(t->dfd, rel, "", 0);
		assert_int_equal(fstatat(t->dfd, rel, &st, 0), 0);
	}
	return st.st_ino;
}

struct fake_proc {
	uint32_t pid;
	uint32_t pgid;
	const char *comm;
	const char *netns; /* NULL: no ns/net (unreadable netns) */
	const char *cgroup;
	const char *cmdline; /* '|' stands for NUL */
	const char *fds[8];  /* link targets of fd 0, 1, ... */
};

static void add_fd(struct tmp_tree *t, uint32_t pid, int fd, const char *target)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "%u/fd/%d", pid, fd);
	assert_int_equal(symlinkat(target, t->dfd, rel), 0);
}

static void add_proc(struct tmp_tree *t, const struct fake_proc *p)
{
	char rel[64], buf[512];
	snprintf(rel, sizeof(rel), "%u", p->pid);
	assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);

	snprintf(rel, sizeof(rel), "%u/stat", p->pid);
	int n = snprintf(buf, sizeof(buf),
			 "%u (%s) S 1 %u %u 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 "
			 "1 0 %u 1000 10 18446744073709551615\n",
			 p->pid, p->comm, p->pgid, p->pgid, 1000 + p->pid);
	write_file_at(t->dfd, rel, buf, (size_t)n);

	if (p->cgroup) {
		snprintf(rel, sizeof(rel), "%u/cgroup", p->pid);
		write_file_at(t->dfd, rel, p->cgroup, strlen(p->cgroup));
	}
	snprintf(rel, sizeof(rel), "%u/cmdline", p->pid);
	size_t cl = p->cmdline ? strlen(p->cmdline) : 0;
	for (size_t i = 0; i < cl; i++)
		buf[i] = p->cmdline[i] == '|' ? '\0' : p->cmdline[i];
	write_file_at(t->dfd, rel, buf, cl);

	snprintf(rel, sizeof(rel), "%u/fd", p->pid);
	assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);
	for (int i = 0; i < 8 && p->fds[i]; i++)
		add_fd(t, p->pid, i, p->fds[i]);

	if (p->netns) {
		netns_ino(t, p->netns);
		snprintf(rel, sizeof(rel), "%u/ns", p->pid);
		assert_int_equal(mkdirat(t->dfd, rel, 0755), 0);
		snprintf(rel, sizeof(rel), "%u/ns/net", p->pid);
		snprintf(buf, sizeof(buf), "../../netns/%s", p->netns);
		assert_int_equal(symlinkat(buf, t->dfd, rel), 0);
	}
}

static void remove_proc(struct tmp_tree *t, uint32_t pid)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%u", t->root, pid);
	assert_int_equal(rm_tree(path), 0);
}

/* The standard population of most tests. */
static const struct fake_proc procs[] = {
	{ 100, 100, "nginx", "a",
	  "0::/system.slice/nginx.service\n", "nginx: master|-g|daemon off;|",
	  { "/dev/null", "pipe:[77]", "anon_inode:[eventfd]", "socket:[1001]",
	    "socket:[1002]", "/var/log/nginx/access.log" } },
	{ 101, 100, "nginx", "a", "0::/system.slice/nginx.service\n",
	  "nginx: worker process|", { "/dev/null", "socket:[1003]" } },
	{ 200, 200, "curl", "a",
	  "12:memory:/user.slice\n1:name=systemd:/user.slice/s.scope\n"
	  "0::/user.slice/s.scope\n",
	  "curl|http://x|", { "/dev/null", "/dev/null", "/dev/null",
			      "socket:[2001]" } },
	{ 300, 300, "my (app) x", "b", "0::/kubepods/pod1/c1\n", "app|",
	  { "socket:[3001]", "socket:[3002]" } },
	/* A kernel thread: no fds, empty cmdline. */
	{ 2, 0, "kthreadd", "a", "0::/\n", NULL, { NULL } },
};

static void add_all(struct tmp_tree *t)
{
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++)
		add_proc(t, &procs[i]);
}

/* The fake /proc with add_all()'s processes, and a procmap on it. */
static struct procmap *map_all(struct tmp_tree *t)
{
	add_all(t);
	struct procmap *pm = NULL;
	assert_int_equal(procmap_new(t->root, 0, 0, &pm), 0);
	assert_non_null(pm);
	return pm;
}

static struct sock_record rec_of(uint64_t inode, uint64_t netns)
{
	struct sock_record r;
	memset(&r, 0, sizeof(r));
	r.inode = inode;
	r.netns = netns;
	return r;
}

static struct procmap_stats stats_of(const struct procmap *pm)
{
	struct procmap_stats st;
	procmap_get_stats(pm, &st);
	return st;
}

struct seen {
	uint32_t pids[16];
	uint64_t netns[16];
	size_t n;
};

static void collect_proc(const struct proc_info *p, void *ud)
{
	struct seen *s = ud;
	assert_true(s->n < 16);
	s->pids[s->n] = p->pid;
	s->netns[s->n] = p->netns;
	s->n++;
}

static uint64_t netns_of(const struct seen *s, uint32_t pid)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pids[i] == pid)
			return s->netns[i];
	print_error("pid %u not listed\n", pid);
	fail();
	return 0;
}

static void test_new_errors(void **state)
{
	(void)state;
	errno = 0;
	struct procmap *none = NULL;
	assert_int_equal(procmap_new("/nonexistent/shawk-proc", 0, 0, &none),
			 -ENOENT);
	assert_null(none);
	assert_int_equal(errno, ENOENT);
}

static void test_refresh(void **state)
{
	struct tmp_tree *t = *state;
	add_all(t);
	/* A process whose ns/net is missing still counts, netns 0. */
	struct fake_proc nons = { 400, 400, "nons", NULL, NULL, NULL,
				  { NULL } };
	add_proc(t, &nons);
	/* ns/net as a plain file (not a link) works too. */
	struct fake_proc plain = { 500, 500, "plain", NULL, NULL, NULL,
				   { NULL } };
	add_proc(t, &plain);
	assert_int_equal(mkdirat(t->dfd, "500/ns", 0755), 0);
	write_file_at(t->dfd, "500/ns/net", "", 0);
	struct stat st;
	assert_int_equal(fstatat(t->dfd, "500/ns/net", &st, 0), 0);

	struct procmap *pm = NULL;
	assert_int_equal(procmap_new(t->root, 0, 0, &pm), 0);
	assert_non_null(pm);
	assert_string_equal(procmap_root(pm), t->root);
	assert_int_equal(procmap_refresh(pm), 7);

	struct seen s = { 0 };
	procmap_foreach(pm, collect_proc, &s);
	assert_int_equal(s.n, 7);
	assert_true(netns_of(&s, 100) == netns_ino(t, "a"));
	assert_true(netns_of(&s, 101) == netns_ino(t, "a"));
	assert_true(netns_of(&s, 300) == netns_ino(t, "b"));
	assert_true(netns_of(&s, 400) == 0);
	assert_true(netns_of(&s, 500) == st.st_ino);
	assert_true(netns_ino(t, "a") != netns_ino(t, "b"));

	/* Refreshing again changes nothing. */
	assert_int_equal(procmap_refresh(pm), 7);
	procmap_free(pm);
	procmap_free(NULL);
}

static void test_resolve(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a"), b = netns_ino(t, "b");
	assert_int_equal(procmap_refresh(pm), 5);

	struct sock_record recs[] = {
		rec_of(1001, a), rec_of(1002, a), rec_of(1003, a),
		rec_of(2001, a), rec_of(3001, b), rec_of(3002, b),
		rec_of(9999, a), /* nobody's */
		rec_of(0, a),	 /* TIME_WAIT or accept queue: no inode */
		rec_of(77, a),	 /* a pipe's inode is no socket */
		rec_of(5555, b), /* already attributed by its source */
	};
	recs[9].pid = 4242;
	static const uint32_t owner[] = { 100, 100, 101, 200, 300,
					  300, 0,   0,   0,	  4242 };
	const size_t n = sizeof(recs) / sizeof(recs[0]);

	assert_int_equal(procmap_resolve(pm, recs, n), 7);
	for (size_t i = 0; i < n; i++) {
		if (recs[i].pid != owner[i])
			print_error("record %zu (inode %llu): pid %u, want "
				    "%u\n",
				    i, (unsigned long long)recs[i].inode,
				    recs[i].pid, owner[i]);
		assert_int_equal(recs[i].pid, owner[i]);
	}
	struct procmap_stats st = stats_of(pm);
	assert_int_equal(st.walks, 1);
	assert_true(st.fd_links_read > 0);
	assert_int_equal(st.unowned, 2); /* 9999 and 77 */
	procmap_free(pm);
}

/* Same records again: the cache answers, no fd link is read. */
static void test_steady_state(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a"), b = netns_ino(t, "b");
	const struct sock_record base[] = {
		rec_of(1001, a), rec_of(1003, a), rec_of(2001, a),
		rec_of(3001, b), rec_of(9999, a),
	};
	const size_t n = sizeof(base) / sizeof(base[0]);
	struct sock_record recs[sizeof(base) / sizeof(base[0])];

	assert_int_equal(procmap_refresh(pm), 5);
	memcpy(recs, base, sizeof(base));
	assert_int_equal(procmap_resolve(pm, recs, n), 4);
	struct procmap_stats first = stats_of(pm);
	assert_true(first.fd_links_read > 0);

	int retries = 0;
	for (int scan = 0; scan < 8; scan++) {
		/* As the poller does: refresh, then resolve a fresh dump. */
		assert_int_equal(procmap_refresh(pm), 5);
		memcpy(recs, base, sizeof(base));
		assert_int_equal(procmap_resolve(pm, recs, n), 4);
		assert_int_equal(recs[0].pid, 100);
		assert_int_equal(recs[1].pid, 101);
		assert_int_equal(recs[2].pid, 200);
		assert_int_equal(recs[3].pid, 300);
		assert_int_equal(recs[4].pid, 0);
		struct procmap_stats now = stats_of(pm);
		/* The ownerless inode is searched again once, two scans
		 * later (its owner may have been born meanwhile), then left
		 * alone: not searched every scan. */
		if (now.walks != first.walks) {
			retries++;
			assert_int_equal(scan, 1);
			assert_true(now.unowned == first.unowned + 1);
			first = now;
		}
		assert_true(now.fd_links_read == first.fd_links_read);
		assert_true(now.fd_dirs_walked == first.fd_dirs_walked);
		assert_true(now.unowned == first.unowned);
	}
	assert_int_equal(retries, 1);
	procmap_free(pm);
}

/* A socket not seen before makes it walk, only in that socket's netns. */
static void test_new_socket_walks(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a"), b = netns_ino(t, "b");
	struct sock_record recs[4];

	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(1001, a);
	recs[1] = rec_of(3001, b);
	assert_int_equal(procmap_resolve(pm, recs, 2), 2);
	struct procmap_stats before = stats_of(pm);

	/* pid 300 (netns b) opens a socket. */
	add_fd(t, 300, 5, "socket:[3005]");
	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(1001, a);
	recs[1] = rec_of(3001, b);
	recs[2] = rec_of(3005, b);
	assert_int_equal(procmap_resolve(pm, recs, 3), 3);
	assert_int_equal(recs[2].pid, 300);
	struct procmap_stats after = stats_of(pm);
	assert_true(after.walks == before.walks + 1);
	assert_true(after.fd_links_read > before.fd_links_read);
	/* Only the one process of netns b had to be read. */
	assert_true(after.fd_dirs_walked == before.fd_dirs_walked + 1);
	assert_true(after.fd_links_read - before.fd_links_read == 3);

	/* pid 200 (netns a) opens one: processes of netns a are walked,
	 * the most recently busy first, stopping once it is found. */
	add_fd(t, 200, 7, "socket:[2007]");
	assert_int_equal(procmap_refresh(pm), 5);
	recs[3] = rec_of(2007, a);
	before = stats_of(pm);
	assert_int_equal(procmap_resolve(pm, recs, 4), 4);
	assert_int_equal(recs[3].pid, 200);
	after = stats_of(pm);
	assert_true(after.walks == before.walks + 1);
	assert_true(after.fd_dirs_walked > before.fd_dirs_walked);
	assert_true(after.fd_dirs_walked <= before.fd_dirs_walked + 4);
	procmap_free(pm);
}

/* Closed sockets are forgotten, so an inode seen again is searched anew. */
static void test_closed_forgotten(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a");
	struct sock_record recs[2];

	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(1001, a);
	recs[1] = rec_of(1002, a);
	assert_int_equal(procmap_resolve(pm, recs, 2), 2);

	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(1001, a);
	assert_int_equal(procmap_resolve(pm, recs, 1), 1);
	struct procmap_stats before = stats_of(pm);

	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(1001, a);
	recs[1] = rec_of(1002, a);
	assert_int_equal(procmap_resolve(pm, recs, 2), 2);
	assert_int_equal(recs[1].pid, 100);
	assert_true(stats_of(pm).walks == before.walks + 1);
	procmap_free(pm);
}

static void test_vanished(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a");
	struct sock_record recs[2];

	assert_int_equal(procmap_refresh(pm), 5);
	recs[0] = rec_of(2001, a);
	recs[1] = rec_of(1001, a);
	assert_int_equal(procmap_resolve(pm, recs, 2), 2);
	assert_int_equal(recs[0].pid, 200);
	assert_non_null(procmap_get(pm, 200));

	/* pid 200 exits. */
	remove_proc(t, 200);
	assert_int_equal(procmap_refresh(pm), 4);
	struct seen s = { 0 };
	procmap_foreach(pm, collect_proc, &s);
	assert_int_equal(s.n, 4);
	for (size_t i = 0; i < s.n; i++)
		assert_int_not_equal(s.pids[i], 200);
	assert_null(procmap_get(pm, 200));

	/* Its socket, still in a dump (e.g. inherited by a process we may
	 * not read), must not stay attributed to the dead pid. */
	recs[0] = rec_of(2001, a);
	recs[1] = rec_of(1001, a);
	int r = procmap_resolve(pm, recs, 2);
	if (recs[0].pid)
		print_error("inode 2001 still attributed to pid %u\n",
			    recs[0].pid);
	assert_int_equal(recs[0].pid, 0);
	assert_int_equal(recs[1].pid, 100);
	assert_int_equal(r, 1);

	/* Handed over to another process: found there. */
	add_fd(t, 101, 9, "socket:[2001]");
	for (int scan = 0; scan < 40; scan++) {
		assert_int_equal(procmap_refresh(pm), 4);
		recs[0] = rec_of(2001, a);
		procmap_resolve(pm, recs, 1);
		if (recs[0].pid)
			break;
	}
	assert_int_equal(recs[0].pid, 101);
	procmap_free(pm);
}

static void test_get_details(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	assert_int_equal(procmap_refresh(pm), 5);

	const struct proc_info *p = procmap_get(pm, 101);
	assert_non_null(p);
	assert_int_equal(p->pid, 101);
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->pgid, 100);
	assert_true(p->starttime == 1101);
	assert_string_equal(p->comm, "nginx");
	assert_non_null(p->cgroup);
	assert_string_equal(p->cgroup, "/system.slice/nginx.service");
	assert_non_null(p->cmdline);
	assert_string_equal(p->cmdline, "nginx: worker process");
	assert_true(p->netns == netns_ino(t, "a"));

	p = procmap_get(pm, 100);
	assert_non_null(p);
	assert_string_equal(p->cmdline, "nginx: master -g daemon off;");

	/* Hybrid cgroup file: the v2 path. */
	p = procmap_get(pm, 200);
	assert_non_null(p);
	assert_string_equal(p->comm, "curl");
	assert_string_equal(p->cgroup, "/user.slice/s.scope");

	/* comm with spaces and parentheses. */
	p = procmap_get(pm, 300);
	assert_non_null(p);
	assert_string_equal(p->comm, "my (app) x");
	assert_string_equal(p->cgroup, "/kubepods/pod1/c1");

	/* Kernel thread: empty cmdline reads as unknown. */
	p = procmap_get(pm, 2);
	assert_non_null(p);
	assert_string_equal(p->comm, "kthreadd");
	assert_int_equal(p->pgid, 0);
	assert_null(p->cmdline);
	assert_string_equal(p->cgroup, "/");

	/* The same pointer again, details loaded once. */
	assert_ptr_equal(procmap_get(pm, 2), p);

	/* Unknown pid. */
	assert_null(procmap_get(pm, 999));

	/* Born after the last refresh: picked up on demand. */
	struct fake_proc late = { 600, 600, "late", "a", NULL, "late|",
				  { NULL } };
	add_proc(t, &late);
	p = procmap_get(pm, 600);
	assert_non_null(p);
	assert_string_equal(p->comm, "late");
	assert_null(p->cgroup); /* no cgroup file */
	assert_int_equal(procmap_refresh(pm), 6);

	/* A process whose stat does not parse has no details. */
	struct fake_proc bad = { 700, 700, "bad", "a", NULL, NULL, { NULL } };
	add_proc(t, &bad);
	write_file_at(t->dfd, "700/stat", "garbage\n", 8);
	assert_int_equal(procmap_refresh(pm), 7);
	assert_null(procmap_get(pm, 700));
	procmap_free(pm);
}

static void test_bounds(void **state)
{
	struct tmp_tree *t = *state;
	add_all(t);
	uint64_t a = netns_ino(t, "a");

	/* At most 2 processes tracked. */
	struct procmap *pm = NULL;
	assert_int_equal(procmap_new(t->root, 2, 0, &pm), 0);
	assert_int_equal(procmap_refresh(pm), 2);
	struct seen s = { 0 };
	procmap_foreach(pm, collect_proc, &s);
	assert_int_equal(s.n, 2);
	procmap_free(pm);

	/* A socket cache of 1: attribution still works for every scan. */
	pm = NULL;
	assert_int_equal(procmap_new(t->root, 0, 1, &pm), 0);
	struct sock_record recs[3];
	for (int scan = 0; scan < 3; scan++) {
		assert_int_equal(procmap_refresh(pm), 5);
		recs[0] = rec_of(1001, a);
		recs[1] = rec_of(1002, a);
		recs[2] = rec_of(2001, a);
		assert_int_equal(procmap_resolve(pm, recs, 3), 3);
		assert_int_equal(recs[0].pid, 100);
		assert_int_equal(recs[1].pid, 100);
		assert_int_equal(recs[2].pid, 200);
	}
	procmap_free(pm);
}

/* A process born after this scan's pid list was read (between the refresh
 * and the socket dump): its socket is attributed in the same scan, not
 * left ownerless for 30 scans. */
static void test_newborn(void **state)
{
	struct tmp_tree *t = *state;
	struct procmap *pm = map_all(t);
	uint64_t a = netns_ino(t, "a");
	assert_int_equal(procmap_refresh(pm), 5);

	static const struct fake_proc born = { 400, 400, "short", "a",
					       "0::/user.slice/x.scope\n",
					       "short|", { "socket:[4001]" } };
	add_proc(t, &born);
	struct sock_record recs[] = { rec_of(1001, a), rec_of(4001, a) };
	assert_int_equal(procmap_resolve(pm, recs, 2), 2);
	assert_int_equal(recs[0].pid, 100);
	assert_int_equal(recs[1].pid, 400);
	struct procmap_stats st = stats_of(pm);
	assert_int_equal(st.newborn_walked, 1);
	assert_int_equal(st.unowned, 0);
	const struct proc_info *p = procmap_get(pm, 400);
	assert_non_null(p);
	assert_string_equal(p->comm, "short");
	procmap_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test_setup_teardown(test_refresh, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_resolve, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_newborn, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_steady_state, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_new_socket_walks,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_closed_forgotten,
						tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_vanished, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_get_details, tree_setup,
						tree_teardown),
		cmocka_unit_test_setup_teardown(test_bounds, tree_setup,
						tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
