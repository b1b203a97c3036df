// SPDX-License-Identifier: MIT
#include "probe/netns.h"

#include "core/log.h"
#include "core/u64map.h"
#include "core/util.h"
#include "probe/sockdiag.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define NETNS_DEFAULT_MAX 4096

struct netns_set {
	char *host_proc;
	char *run_dir;
	struct netns_handle *items;
	size_t count;
	size_t max;
	struct u64map index; /* ino -> position + 1 */
	uint64_t own_ino;
	uint32_t gen;
	int enter_err;
	int (*opener)(void); /* the socket each handle holds (diag_fd) */
};

struct netns_set *netns_set_new(const char *host_proc,
				const char *run_netns_dir, size_t max_netns)
{
	struct netns_set *s = calloc(1, sizeof(*s));
	struct stat st;
	if (!s)
		return NULL;
	s->max = max_netns ? max_netns : NETNS_DEFAULT_MAX;
	s->host_proc = strdup(host_proc);
	s->run_dir = run_netns_dir ? strdup(run_netns_dir) : NULL;
	s->items = calloc(s->max, sizeof(*s->items));
	if (!s->host_proc || (run_netns_dir && !s->run_dir) || !s->items ||
	    u64map_init(&s->index, s->max) < 0) {
		netns_set_free(s);
		return NULL;
	}
	/* Our own netns: /proc/self is the agent's, whatever host_proc is. */
	if (stat("/proc/self/ns/net", &st) == 0)
		s->own_ino = st.st_ino;
	s->opener = sockdiag_open;
	return s;
}

static void netns_handle_close(struct netns_handle *h)
{
	if (h->diag_fd >= 0)
		close(h->diag_fd);
	if (h->ns_fd >= 0)
		close(h->ns_fd);
	h->diag_fd = h->ns_fd = -1;
}

void netns_set_free(struct netns_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++)
		netns_handle_close(&s->items[i]);
	u64map_free(&s->index);
	free(s->items);
	free(s->host_proc);
	free(s->run_dir);
	free(s);
}

size_t netns_set_count(const struct netns_set *s)
{
	return s->count;
}

struct netns_handle *netns_set_at(struct netns_set *s, size_t i)
{
	return i < s->count ? &s->items[i] : NULL;
}

int netns_set_enter_error(const struct netns_set *s)
{
	return s->enter_err;
}

void netns_set_set_opener(struct netns_set *s, int (*opener)(void))
{
	s->opener = opener;
}

struct run_job {
	int nsfd;
	int (*fn)(void *);
	void *arg;
	int result;
};

static void *run_in_netns(void *arg)
{
	struct run_job *job = arg;
	if (setns(job->nsfd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		return NULL;
	}
	job->result = job->fn(job->arg);
	return NULL;
}

int netns_run(const struct netns_handle *h, int (*fn)(void *), void *arg)
{
	if (h->own || h->ns_fd < 0)
		return h->own ? fn(arg) : -EBADF;
	/* As open_diag_at(): only a short-lived thread changes netns. */
	struct run_job job = { .nsfd = h->ns_fd, .fn = fn, .arg = arg };
	pthread_t th;
	int r = pthread_create(&th, NULL, run_in_netns, &job);
	if (r != 0)
		return -r;
	pthread_join(th, NULL);
	return job.result;
}

struct open_job {
	int (*opener)(void);
	int nsfd;
	int result; /* fd or -errno */
	bool setns_failed;
};

static void *open_in_netns(void *arg)
{
	struct open_job *job = arg;
	/* setns(CLONE_NEWNET) changes only this thread, which then exits:
	 * the rest of the agent never leaves its own namespace. */
	if (setns(job->nsfd, CLONE_NEWNET) < 0) {
		job->result = -errno;
		job->setns_failed = true;
		return NULL;
	}
	job->result = job->opener();
	return NULL;
}

/* On success also hands over the netns fd (*ret_nsfd), which BPF iterators
 * need to be created inside the netns at every scan. */
static int open_diag_at(int (*opener)(void), const char *path, int *ret_fd,
			int *ret_nsfd, bool *ret_setns_failed)
{
	struct open_job job = { .opener = opener, .nsfd = -1 };
	pthread_t th;
	int r;

	*ret_setns_failed = false;
	job.nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (job.nsfd < 0)
		return -errno; /* vanished (ENOENT) or not ours to read */
	r = pthread_create(&th, NULL, open_in_netns, &job);
	if (r != 0) {
		close(job.nsfd);
		return -r;
	}
	pthread_join(th, NULL);
	*ret_setns_failed = job.setns_failed;
	if (job.result < 0) {
		close(job.nsfd);
		return job.result;
	}
	*ret_fd = job.result;
	*ret_nsfd = job.nsfd;
	return 0;
}

static void add_ns(struct netns_set *s, uint64_t ino, uint32_t pid,
		   const char *path)
{
	uint64_t *pos = u64map_get(&s->index, ino);
	if (pos) {
		struct netns_handle *h = &s->items[*pos - 1];
		h->seen_gen = s->gen;
		if (pid)
			h->pid_hint = pid;
		return;
	}
	if (s->count >= s->max)
		return;

	struct netns_handle h = {
		.ino = ino, .diag_fd = -1, .ns_fd = -1, .pid_hint = pid, .seen_gen = s->gen,
		.own = ino == s->own_ino,
	};
	if (h.own) {
		int fd = s->opener();
		h.diag_fd = fd >= 0 ? fd : -1;
	} else {
		bool setns_failed;
		int fd = -1;
		int r = open_diag_at(s->opener, path, &fd, &h.ns_fd,
				     &setns_failed);
		if (r == -ENOENT || r == -ESRCH)
			return; /* gone before we got there: not an error */
		if (r < 0 && setns_failed && !s->enter_err)
			s->enter_err = r;
		if (r == 0)
			h.diag_fd = fd;
		else if (!pid)
			return; /* named netns without a process: no fallback */
	}
	s->items[s->count] = h;
	(void)u64map_put(&s->index, ino, s->count + 1);
	s->count++;
}

struct sync_ctx {
	struct netns_set *s;
};

static void sync_proc(const struct proc_info *p, void *ud)
{
	struct sync_ctx *c = ud;
	char path[PATH_MAX];
	if (!p->netns)
		return;
	uint64_t *pos = u64map_get(&c->s->index, p->netns);
	if (pos) {
		struct netns_handle *h = &c->s->items[*pos - 1];
		h->seen_gen = c->s->gen;
		if (!h->pid_hint)
			h->pid_hint = p->pid;
		return;
	}
	snprintf(path, sizeof(path), "%s/%u/ns/net", c->s->host_proc, p->pid);
	add_ns(c->s, p->netns, p->pid, path);
}

int netns_set_sync(struct netns_set *s, struct procmap *pm)
{
	struct sync_ctx c = { .s = s };
	s->gen++;

	/* A pid_hint may have exited since; re-learn it from the scan. */
	for (size_t i = 0; i < s->count; i++)
		s->items[i].pid_hint = 0;
	procmap_foreach(pm, sync_proc, &c);

	if (s->run_dir) {
		DIR *d = opendir(s->run_dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[PATH_MAX];
			struct stat st;
			struct statfs sfs;
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", s->run_dir,
				 de->d_name);
			/* An unmounted placeholder is a plain empty file;
			 * only files on nsfs are namespaces. */
			if (stat(path, &st) < 0 || statfs(path, &sfs) < 0 ||
			    (unsigned long)sfs.f_type != NSFS_MAGIC)
				continue;
			add_ns(s, st.st_ino, 0, path);
		}
		if (d)
			closedir(d);
	}
	/* The agent's own netns is always scanned. */
	if (s->own_ino && !u64map_get(&s->index, s->own_ino)) {
		char path[] = "/proc/self/ns/net";
		add_ns(s, s->own_ino, (uint32_t)getpid(), path);
	} else if (s->own_ino) {
		s->items[*u64map_get(&s->index, s->own_ino) - 1].seen_gen =
			s->gen;
	}

	/* Drop vanished namespaces (our socket would keep them alive). */
	size_t w = 0;
	for (size_t i = 0; i < s->count; i++) {
		if (s->items[i].seen_gen != s->gen) {
			netns_handle_close(&s->items[i]);
			continue;
		}
		s->items[w++] = s->items[i];
	}
	if (w != s->count) {
		s->count = w;
		u64map_clear(&s->index);
		for (size_t i = 0; i < s->count; i++)
			(void)u64map_put(&s->index, s->items[i].ino, i + 1);
	}
	return (int)s->count;
}
