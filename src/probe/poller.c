// SPDX-License-Identifier: MIT
#include "probe/poller.h"

#include "core/log.h"
#include "core/util.h"
#include "probe/ebpf_iter.h"
#include "probe/iterrec.h"
#include "probe/netns.h"
#include "probe/procfs.h"
#include "probe/sockdiag.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define POLLER_DEFAULT_MAX_RECORDS (8u << 20)
/* One read() of a BPF iterator returns at most the seq_file buffer (8
 * pages today); a larger buffer costs nothing and survives kernel changes. */
#define ITER_READ_BUF (256u << 10)

struct poller {
	struct source base;
	struct procmap *pm;
	struct netns_set *ns;
	struct sock_record *recs;
	size_t n, cap, max;
	uint64_t overflow;
	struct poller_stats stats;
	/* BPF iterator path; NULL: sock_diag only. */
	struct ebpf_iter *iter;
	unsigned char *iter_buf;
	int *iter_fds; /* 2 per netns (TCP, UDP), -1 when not created */
	size_t iter_fds_cap;
	char why[192];
};

static int push(const struct sock_record *rec, void *ud)
{
	struct poller *p = ud;
	if (p->n == p->cap) {
		if (p->cap >= p->max) {
			p->overflow++;
			return 0;
		}
		size_t ncap = p->cap ? p->cap * 2 : 4096;
		if (ncap > p->max)
			ncap = p->max;
		struct sock_record *nr = realloc(p->recs, ncap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		p->recs = nr;
		p->cap = ncap;
	}
	p->recs[p->n++] = *rec;
	return 0;
}

static const struct {
	int family; /* AF_UNSPEC: IPv4 and IPv6 */
	int proto;
	uint32_t states;
	const char *procfiles[2]; /* the same sockets in /proc/<pid>/net/ */
} dumps[] = {
	/* TCP in one request: each TCP dump walks the established hash
	 * of the whole host, see sockdiag_build_request(). */
	{ AF_UNSPEC, IPPROTO_TCP, SOCKDIAG_TCP_STATES, { "tcp", "tcp6" } },
	{ AF_INET, IPPROTO_UDP, SOCKDIAG_UDP_STATES, { "udp", NULL } },
	{ AF_INET6, IPPROTO_UDP, SOCKDIAG_UDP_STATES, { "udp6", NULL } },
};

static int read_procnet(struct poller *p, const struct netns_handle *h,
			size_t which)
{
	int count = 0;
	for (size_t f = 0; f < ARRAY_SIZE(dumps[which].procfiles); f++) {
		const char *name = dumps[which].procfiles[f];
		if (!name)
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%u/net/%s",
			 procmap_root(p->pm), h->pid_hint, name);
		_cleanup_(fclosep) FILE *file = fopen(path, "re");
		if (!file) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		char line[512];
		while (fgets(line, sizeof(line), file)) {
			struct sock_record rec;
			if (procfs_parse_net_line(line, &rec) < 0)
				continue;
			if (!(dumps[which].states & (1u << rec.state)))
				continue;
			rec.proto = (uint8_t)dumps[which].proto;
			rec.netns = h->ino;
			int r = push(&rec, p);
			if (r < 0)
				return r;
			count++;
		}
	}
	return count;
}

static int dump_netns(struct poller *p, struct netns_handle *h)
{
	for (size_t i = 0; i < ARRAY_SIZE(dumps); i++) {
		size_t mark = p->n;
		int r = -ENOTCONN;
		if (h->diag_fd >= 0)
			r = sockdiag_dump(h->diag_fd, dumps[i].family,
					  dumps[i].proto, dumps[i].states,
					  h->ino, push, p);
		if (r == -ENOMEM)
			return r;
		if (r == -EAFNOSUPPORT)
			continue; /* IPv6 disabled in this netns */
		if (r < 0 && h->pid_hint) {
			/* No sock_diag here (module missing, or setns was
			 * refused): the per-process procfs view of the
			 * netns is the fallback. */
			if (r != -ENOTCONN)
				log_debug("sock_diag %s in netns %llu: %s; "
					  "reading /proc instead",
					  dumps[i].procfiles[0],
					  (unsigned long long)h->ino,
					  strerror(-r));
			p->stats.procfs_fallbacks++;
			/* Drop what a dump that failed half-way gave. */
			p->n = mark;
			r = read_procnet(p, h, i);
		}
		if (r == -ENOMEM)
			return r;
	}
	return 0;
}

/*
 * False only when the kernel's per-netns counters (/proc/<pid>/net/sockstat
 * and sockstat6) say no TCP or UDP socket is hashed in the netns: then its
 * walk of the host-wide hash, a dump or an iterator read, finds nothing and
 * is skipped. Any doubt (no pid in the netns, unreadable file) says true.
 */
static bool netns_may_have_sockets(struct poller *p,
				   const struct netns_handle *h)
{
	static const char *const files[] = { "sockstat", "sockstat6" };
	uint64_t total = 0;

	if (!h->pid_hint)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char path[PATH_MAX], buf[1024];
		snprintf(path, sizeof(path), "%s/%u/net/%s",
			 procmap_root(p->pm), h->pid_hint, files[i]);
		_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT && i == 1)
				continue; /* no IPv6 in this kernel */
			return true;
		}
		ssize_t n = read(fd, buf, sizeof(buf));
		uint64_t v;
		if (n <= 0 ||
		    procfs_parse_sockstat_inuse(buf, (size_t)n, &v) < 0)
			return true;
		total += v;
	}
	return total != 0;
}

struct iter_job {
	struct poller *p;
	size_t count;
};

static void open_iters(struct poller *p, struct netns_handle *h, int *fds)
{
	int t = ebpf_iter_open(p->iter, EBPF_ITER_TCP);
	int u = t >= 0 ? ebpf_iter_open(p->iter, EBPF_ITER_UDP) : -1;
	if (t >= 0 && u < 0) {
		close(t);
		t = -1;
	}
	(void)h;
	fds[0] = t;
	fds[1] = u;
}

/*
 * Socket iterators are bound to the netns of the thread creating them: this
 * short-lived thread enters each other netns in turn (setns changes only
 * itself) and creates its pair there; reading happens in the caller.
 */
static void *open_iters_elsewhere(void *arg)
{
	struct iter_job *job = arg;
	struct poller *p = job->p;
	for (size_t i = 0; i < job->count; i++) {
		struct netns_handle *h = netns_set_at(p->ns, i);
		if (h->own || h->ns_fd < 0)
			continue;
		if (setns(h->ns_fd, CLONE_NEWNET) < 0)
			continue; /* stays -1: sock_diag for this one */
		open_iters(p, h, &p->iter_fds[2 * i]);
	}
	return NULL;
}

static void close_iter_fds(struct poller *p, size_t count)
{
	for (size_t i = 0; i < 2 * count; i++) {
		if (p->iter_fds[i] >= 0)
			close(p->iter_fds[i]);
		p->iter_fds[i] = -1;
	}
}

static int iter_owner_lookup(void *ud, procmap_owner_emit_fn emit, void *ctx)
{
	struct poller *p = ud;
	int fd = ebpf_iter_open(p->iter, EBPF_ITER_OWNERS);
	if (fd < 0)
		return fd;
	int r = iterrec_read_owners(fd, p->iter_buf, ITER_READ_BUF, emit, ctx);
	close(fd);
	return r;
}

/* One netns through its iterator pair; sock_diag when that fails. */
static int read_netns_iter(struct poller *p, struct netns_handle *h,
			   const int *fds)
{
	size_t mark = p->n;
	int r = -ENOTCONN;
	if (!netns_may_have_sockets(p, h)) {
		p->stats.skipped_empty++;
		return 0;
	}
	if (fds[0] >= 0) {
		r = iterrec_read_socks(fds[0], p->iter_buf, ITER_READ_BUF,
				       push, p);
		if (r >= 0)
			r = iterrec_read_socks(fds[1], p->iter_buf,
					       ITER_READ_BUF, push, p);
	}
	if (r >= 0 || r == -ENOMEM)
		return r < 0 ? r : 0;
	if (r != -ENOTCONN)
		log_debug("BPF iterator in netns %llu: %s; using sock_diag",
			  (unsigned long long)h->ino, strerror(-r));
	p->stats.iter_fallbacks++;
	p->n = mark;
	return dump_netns(p, h);
}

static int scan_iter(struct poller *p)
{
	size_t count = netns_set_count(p->ns);
	bool others = false;
	int r = 0;

	if (count * 2 > p->iter_fds_cap) {
		int *n = realloc(p->iter_fds, count * 2 * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->iter_fds = n;
		p->iter_fds_cap = count * 2;
	}
	for (size_t i = 0; i < count * 2; i++)
		p->iter_fds[i] = -1;
	for (size_t i = 0; i < count; i++) {
		struct netns_handle *h = netns_set_at(p->ns, i);
		if (h->own)
			open_iters(p, h, &p->iter_fds[2 * i]);
		else if (h->ns_fd >= 0)
			others = true;
	}
	if (others) {
		struct iter_job job = { .p = p, .count = count };
		pthread_t th;
		if (pthread_create(&th, NULL, open_iters_elsewhere, &job) == 0)
			pthread_join(th, NULL);
	}
	for (size_t i = 0; i < count && r >= 0; i++)
		r = read_netns_iter(p, netns_set_at(p->ns, i),
				    &p->iter_fds[2 * i]);
	close_iter_fds(p, count);
	return r;
}

static int poller_scan(struct source *src, sock_record_fn fn, void *ud)
{
	struct poller *p = (struct poller *)src;
	int r;

	p->n = 0;
	p->stats.procfs_fallbacks = 0;
	p->stats.skipped_empty = 0;
	r = procmap_refresh(p->pm);
	if (r < 0)
		return r;
	r = netns_set_sync(p->ns, p->pm);
	if (r < 0)
		return r;
	if (p->iter) {
		r = scan_iter(p);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < netns_set_count(p->ns); i++) {
			struct netns_handle *h = netns_set_at(p->ns, i);
			if (!netns_may_have_sockets(p, h)) {
				p->stats.skipped_empty++;
				continue;
			}
			r = dump_netns(p, h);
			if (r < 0)
				return r;
		}
	}
	r = procmap_resolve(p->pm, p->recs, p->n);
	if (r < 0)
		return r;

	p->stats.scans++;
	p->stats.netns = netns_set_count(p->ns);
	p->stats.sockets = p->n;
	p->stats.enter_error = netns_set_enter_error(p->ns);
	for (size_t i = 0; fn && i < p->n; i++) {
		r = fn(&p->recs[i], ud);
		if (r < 0)
			return r;
	}
	return (int)p->n;
}

static const struct sock_record *poller_records(const struct source *src,
					       size_t *ret_n)
{
	const struct poller *p = (const struct poller *)src;
	*ret_n = p->n;
	return p->recs;
}

static void poller_free(struct source *src)
{
	struct poller *p = (struct poller *)src;
	if (p->iter)
		procmap_set_owner_lookup(p->pm, NULL, NULL);
	ebpf_iter_free(p->iter);
	free(p->iter_buf);
	free(p->iter_fds);
	netns_set_free(p->ns);
	free(p->recs);
	free(p);
}

struct source *poller_new(struct procmap *pm, const char *run_netns_dir,
			  size_t max_records, enum poll_backend backend)
{
	struct poller *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.name = "polling";
	p->base.scan = poller_scan;
	p->base.snapshot = true;
	p->base.records = poller_records;
	p->base.free = poller_free;
	p->pm = pm;
	p->max = max_records ? max_records : POLLER_DEFAULT_MAX_RECORDS;
	p->ns = netns_set_new(procmap_root(pm), run_netns_dir, 0);
	if (!p->ns) {
		free(p);
		return NULL;
	}
	if (backend != POLL_BACKEND_SOCKDIAG) {
		int r = ebpf_iter_new(SOCKDIAG_TCP_STATES, SOCKDIAG_UDP_STATES,
				      &p->iter, p->why, sizeof(p->why));
		if (r == 0 && !(p->iter_buf = malloc(ITER_READ_BUF))) {
			ebpf_iter_free(p->iter);
			p->iter = NULL;
			r = -ENOMEM;
		}
		if (r == -ENOMEM) {
			netns_set_free(p->ns);
			free(p);
			return NULL;
		}
		if (p->iter)
			procmap_set_owner_lookup(pm, iter_owner_lookup, p);
	}
	return &p->base;
}

enum poll_backend poller_backend(const struct source *src,
				 const char **ret_why)
{
	const struct poller *p = (const struct poller *)src;
	if (ret_why)
		*ret_why = p->why;
	return p->iter ? POLL_BACKEND_BPF_ITER : POLL_BACKEND_SOCKDIAG;
}

void poller_get_stats(const struct source *src, struct poller_stats *ret)
{
	const struct poller *p = (const struct poller *)src;
	*ret = p->stats;
}
