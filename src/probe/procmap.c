// SPDX-License-Identifier: MIT
/*
 * The process table: /proc listed on each refresh, every process's netns,
 * and its details (stat, cgroup, cmdline) read on first use. Which process
 * owns a socket is procmap_owner.c's.
 */
#include "probe/procmap_int.h"

#include "core/util.h"
#include "probe/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PROCMAP_DEFAULT_MAX_PROCS (1u << 20)
#define PROCMAP_DEFAULT_MAX_SOCKETS (4u << 20)
#define CMDLINE_MAX 512

static void proc_info_free(struct proc_info *p)
{
	if (!p)
		return;
	free(p->cgroup);
	free(p->cmdline);
	free(p);
}

int procmap_new(const char *host_proc, size_t max_procs, size_t max_sockets,
		struct procmap **ret)
{
	_cleanup_(freep) struct procmap *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return -ENOMEM;
	pm->proc_fd = open(host_proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pm->proc_fd < 0)
		return -errno;
	pm->root = strdup(host_proc);
	pm->max_procs = max_procs ? max_procs : PROCMAP_DEFAULT_MAX_PROCS;
	if (!pm->root ||
	    u64map_init(&pm->pids, pm->max_procs) < 0 ||
	    u64map_init(&pm->inodes, max_sockets ? max_sockets
						 : PROCMAP_DEFAULT_MAX_SOCKETS) <
		    0 ||
	    u64map_init(&pm->unowned, max_sockets ? max_sockets
						  : PROCMAP_DEFAULT_MAX_SOCKETS) <
		    0) {
		close(pm->proc_fd);
		free(pm->root);
		u64map_free(&pm->pids);
		u64map_free(&pm->inodes);
		u64map_free(&pm->unowned);
		return -ENOMEM;
	}
	*ret = TAKE_PTR(pm);
	return 0;
}

void procmap_free(struct procmap *pm)
{
	if (!pm)
		return;
	uint64_t v;
	for (size_t it = 0; u64map_next(&pm->pids, &it, NULL, &v);)
		proc_info_free((struct proc_info *)(uintptr_t)v);
	u64map_free(&pm->pids);
	u64map_free(&pm->inodes);
	u64map_free(&pm->unowned);
	if (pm->proc_fd >= 0)
		close(pm->proc_fd);
	free(pm->root);
	free(pm);
}

void procmap_freep(struct procmap **pm)
{
	procmap_free(*pm);
	*pm = NULL;
}

const char *procmap_root(const struct procmap *pm)
{
	return pm->root;
}

bool procmap_parse_pid(const char *name, uint32_t *ret)
{
	uint32_t v = 0;
	if (!*name)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT32_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	*ret = v;
	return v != 0;
}

int procmap_track(struct procmap *pm, uint32_t pid, struct proc_info **ret)
{
	struct proc_info *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	p->seen_gen = pm->gen;
	int r = u64map_put(&pm->pids, pid, (uintptr_t)p);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

int procmap_read_netns(const struct procmap *pm, uint32_t pid,
		       uint64_t *ret)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "%u/ns/net", pid);
	if (fstatat(pm->proc_fd, path, &st, 0) < 0)
		return -errno;
	*ret = st.st_ino;
	return 0;
}

static bool keep_seen(uint64_t key, uint64_t val, void *ud)
{
	struct procmap *pm = ud;
	struct proc_info *p = (struct proc_info *)(uintptr_t)val;
	(void)key;
	if (p->seen_gen == pm->gen)
		return true;
	proc_info_free(p);
	return false;
}

int procmap_refresh(struct procmap *pm)
{
	int dfd = openat(pm->proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	DIR *d = fdopendir(dfd);
	if (!d) {
		int r = -errno;
		close(dfd);
		return r;
	}

	pm->gen++;
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint32_t pid;
		if (!procmap_parse_pid(de->d_name, &pid))
			continue;
		struct proc_info *p = procmap_lookup(pm, pid);
		if (!p) {
			int r = procmap_track(pm, pid, &p);
			if (r == -ENOMEM)
				break;
			if (r < 0)
				continue; /* over the bound: not tracked */
		}
		p->seen_gen = pm->gen;
		int r = procmap_read_netns(pm, pid, &p->netns);
		if (r < 0) {
			if (r == -EACCES || r == -EPERM) {
				pm->stats.ns_denied++;
				pm->stats.denied_example = pid;
			}
			p->netns = 0;
		}
		count++;
	}
	closedir(d);
	u64map_filter(&pm->pids, keep_seen, pm);
	return count;
}

void procmap_foreach(struct procmap *pm,
		     void (*fn)(const struct proc_info *p, void *ud), void *ud)
{
	uint64_t v;
	for (size_t it = 0; u64map_next(&pm->pids, &it, NULL, &v);)
		fn((struct proc_info *)(uintptr_t)v, ud);
}

static void load_details(struct procmap *pm, struct proc_info *p)
{
	char path[64], buf[4096];
	p->details_loaded = true;

	snprintf(path, sizeof(path), "%u/stat", p->pid);
	_cleanup_(closep) int fd = openat(pm->proc_fd, path,
					  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	struct procfs_stat st;
	if (procfs_parse_stat(buf, (size_t)n, &st) < 0)
		return;
	p->ppid = st.ppid;
	p->pgid = st.pgid;
	p->starttime = st.starttime;
	memcpy(p->comm, st.comm, sizeof(p->comm));
	p->details_ok = true;

	snprintf(path, sizeof(path), "%u/cgroup", p->pid);
	_cleanup_(closep) int cfd = openat(pm->proc_fd, path,
					   O_RDONLY | O_CLOEXEC);
	if (cfd >= 0) {
		n = read(cfd, buf, sizeof(buf) - 1);
		char cg[1024];
		if (n > 0 && procfs_parse_cgroup_v2(buf, (size_t)n, cg,
						    sizeof(cg)) == 0)
			p->cgroup = strdup(cg);
	}

	snprintf(path, sizeof(path), "%u/cmdline", p->pid);
	_cleanup_(closep) int mfd = openat(pm->proc_fd, path,
					   O_RDONLY | O_CLOEXEC);
	if (mfd >= 0) {
		char cmd[CMDLINE_MAX + 1];
		n = read(mfd, cmd, CMDLINE_MAX);
		if (n > 0) {
			procfs_cmdline_to_string(cmd, (size_t)n);
			p->cmdline = strdup(cmd);
		}
	}
}

const struct proc_info *procmap_get(struct procmap *pm, uint32_t pid)
{
	struct proc_info *p = procmap_lookup(pm, pid);
	if (!p) {
		/* Born after the last refresh (streaming events): track it. */
		char path[32];
		snprintf(path, sizeof(path), "%u", pid);
		if (faccessat(pm->proc_fd, path, F_OK, 0) < 0 ||
		    procmap_track(pm, pid, &p) < 0)
			return NULL;
	}
	if (!p->details_loaded)
		load_details(pm, p);
	return p->details_ok ? p : NULL;
}

void procmap_get_stats(const struct procmap *pm, struct procmap_stats *ret)
{
	*ret = pm->stats;
}
