// SPDX-License-Identifier: MIT
/*
 * The BPF iterator backend of the polling source: iter/tcp + iter/udp per
 * netns (a thread enters each netns to create its pair), owners from
 * iter/task_file, and the one-shot fd walk of every netns at once.
 */
#include "core/log.h"
#include "core/u64map.h"
#include "core/util.h"
#include "probe/bpflog.h"
#include "probe/iterrec.h"
#include "probe/poller_int.h"
#include "probe/procfs.h"
#include "probe/sockdiag.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct iter_job {
	struct poller *p;
	size_t count;
};

/* Netns i needs no iterator walk: reused, or served by the fd walk. */
static bool iter_served(const struct poller *p, size_t i)
{
	return (p->skip_max && p->reuse[i]) || (p->fd_ok && p->fd_ok[i]);
}

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
		if (h->own || h->ns_fd < 0 || iter_served(p, i))
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
	if (!poller_netns_may_have_sockets(p, h)) {
		p->stats.skipped_empty++;
		return 0;
	}
	if (fds[0] >= 0) {
		r = iterrec_read_socks(fds[0], p->iter_buf, ITER_READ_BUF,
				       poller_push, p);
		if (r >= 0)
			r = iterrec_read_socks(fds[1], p->iter_buf,
					       ITER_READ_BUF, poller_push, p);
	}
	if (r >= 0 || r == -ENOMEM)
		return r < 0 ? r : 0;
	if (r != -ENOTCONN)
		log_debug("BPF iterator in netns %llu: %s; using sock_diag",
			  (unsigned long long)h->ino, strerror(-r));
	p->stats.iter_fallbacks++;
	p->n = mark;
	return poller_dump_netns(p, h);
}

int poller_scan_iter(struct poller *p)
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
		if (iter_served(p, i))
			continue; /* previous scan, or fd walk */
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
	for (size_t i = 0; i < count && r >= 0; i++) {
		bool reused;
		if (p->fd_ok && p->fd_ok[i])
			continue;
		r = poller_begin_netns(p, i, &reused);
		if (r >= 0 && !reused)
			r = read_netns_iter(p, netns_set_at(p->ns, i),
					    &p->iter_fds[2 * i]);
		poller_end_netns(p, i);
	}
	close_iter_fds(p, count);
	return r;
}

/*
 * The one-shot path (no reuse of unchanged netns): one iter/task_file walk
 * gives every TCP/UDP socket held by an fd, of every netns, with the
 * process holding it; no walk of the host-wide socket hash per netns and no
 * owner join. What it cannot see are sockets held by no fd (accepted by the
 * kernel but not yet by the process, orphans after close(), kernel
 * sockets). So per netns, the hashed sockets it found (deduplicated: a
 * socket shared by several fds or processes counts once) are compared with
 * the kernel's per-netns counters, sockstat{,6} "inuse" of TCP and of UDP,
 * read before and after the walk: a netns is served by the walk only when
 * all three agree, otherwise its records are dropped and it is walked with
 * iter/tcp + iter/udp as before (so is a netns without a pid to read its
 * counters through). The first sharer in the walk's order (tasks by pid)
 * owns a shared socket, as with the owner iterator.
 */
struct fd_count {
	uint64_t before[2], found[2]; /* TCP, UDP */
	bool counters_ok;
};

static int read_inuse(struct poller *p, const struct netns_handle *h,
		      uint64_t v[2])
{
	static const char *const files[] = { "sockstat", "sockstat6" };
	static const char *const protos[2][2] = { { "TCP", "UDP" },
						  { "TCP6", "UDP6" } };
	char buf[2048];

	v[0] = v[1] = 0;
	for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
		int n = poller_read_proc_file(p, h, files[f], buf, sizeof(buf));
		if (n == -ENOENT && f == 1)
			break; /* no IPv6 in this kernel */
		if (n < 0)
			return n;
		for (size_t k = 0; k < 2; k++) {
			uint64_t x;
			if (procfs_parse_sockstat_value(buf, (size_t)n,
							protos[f][k], "inuse",
							&x) < 0)
				return -EBADMSG;
			v[k] += x;
		}
	}
	return 0;
}

static size_t ns_index(struct poller *p, uint64_t ino, size_t count,
		       size_t *last)
{
	if (*last < count && netns_set_at(p->ns, *last)->ino == ino)
		return *last;
	for (size_t i = 0; i < count; i++)
		if (netns_set_at(p->ns, i)->ino == ino)
			return *last = i;
	return SIZE_MAX;
}

/* Counters of every netns before the walk; room for what they announce. */
static int fdwalk_prepare(struct poller *p, struct fd_count *c, size_t count)
{
	size_t expect = 0;
	for (size_t i = 0; i < count; i++) {
		const struct netns_handle *h = netns_set_at(p->ns, i);
		c[i].counters_ok =
			h->pid_hint && read_inuse(p, h, c[i].before) == 0;
		if (c[i].counters_ok)
			expect += c[i].before[0] + c[i].before[1];
	}
	/* Room for what the counters announce (plus fds sharing a socket):
	 * no regrowth of 100k records while reading. */
	expect += expect / 8 + 1024;
	if (expect > p->max)
		expect = p->max;
	if (expect > p->cap) {
		struct sock_record *v = realloc(p->recs, expect * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->recs = v;
		p->cap = expect;
	}
	return 0;
}

/*
 * Deduplicates the walk's records, counts them per netns, keeps the
 * reported states. Only the sockets whose file was shared when seen can
 * come twice (a socket dup()ed or forked while the walk ran may come twice
 * unflagged: then its netns counts one too many and is walked again).
 */
static int fdwalk_count(struct poller *p, struct fd_count *c, size_t count)
{
	struct u64map seen = { 0 };
	size_t last = 0, k = 0;
	int r = u64map_init(&seen, 0);

	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		struct sock_record *rec = &p->recs[i];
		size_t x = ns_index(p, rec->netns, count, &last);
		if (x == SIZE_MAX)
			continue; /* a netns the scan does not cover */
		if (rec->flags & SOCK_REC_F_FD_SHARED) {
			rec->flags &= ~(uint32_t)SOCK_REC_F_FD_SHARED;
			r = u64map_put(&seen, rec->inode, 1);
			if (r <= 0)
				continue; /* another fd of a socket seen */
		}
		bool tcp = rec->proto == IPPROTO_TCP;
		c[x].found[tcp ? 0 : 1]++;
		uint32_t mask = tcp ? SOCKDIAG_TCP_STATES
				    : SOCKDIAG_UDP_STATES;
		if (!(mask & (1u << rec->state)))
			continue;
		if (k != i)
			p->recs[k] = *rec;
		k++;
	}
	u64map_free(&seen);
	if (r < 0)
		return r;
	p->n = k;
	return 0;
}

/* Per netns: served by the walk (ok[i]) when its counters agree. */
static bool fdwalk_verify(struct poller *p, const struct fd_count *c,
			  size_t count, bool *ok)
{
	bool all = true;
	for (size_t i = 0; i < count; i++) {
		const struct netns_handle *h = netns_set_at(p->ns, i);
		uint64_t after[2] = { 0, 0 };
		ok[i] = c[i].counters_ok && read_inuse(p, h, after) == 0 &&
			memcmp(after, c[i].before, sizeof(after)) == 0 &&
			memcmp(c[i].found, c[i].before, sizeof(after)) == 0;
		if (ok[i]) {
			p->stats.fd_walk_netns++;
			continue;
		}
		all = false;
		if (!c[i].counters_ok)
			log_debug("fd walk: netns %llu: no counters, walking "
				  "it", (unsigned long long)h->ino);
		else
			log_debug("fd walk: netns %llu: fds hold %llu TCP + "
				  "%llu UDP sockets, its counters say %llu + "
				  "%llu (then %llu + %llu): walking it",
				  (unsigned long long)h->ino,
				  (unsigned long long)c[i].found[0],
				  (unsigned long long)c[i].found[1],
				  (unsigned long long)c[i].before[0],
				  (unsigned long long)c[i].before[1],
				  (unsigned long long)after[0],
				  (unsigned long long)after[1]);
	}
	return all;
}

/*
 * Walks the netns the fd walk does not serve again (per-netns iterators,
 * or sock_diag): drops what the fd walk gave for them, but keeps who holds
 * those sockets, since the walk saw every fd.
 */
static int fdwalk_rewalk(struct poller *p, bool *ok, size_t count)
{
	struct u64map owners = { 0 };
	size_t last = 0, k = 0;
	int r = u64map_init(&owners, 0);

	for (size_t i = 0; r >= 0 && i < p->n; i++) {
		const struct sock_record *rec = &p->recs[i];
		size_t x = ns_index(p, rec->netns, count, &last);
		if (!ok[x]) {
			r = u64map_put(&owners, rec->inode, rec->pid);
			continue;
		}
		if (k != i)
			p->recs[k] = *rec;
		k++;
	}
	if (r < 0)
		goto out;
	p->n = k;
	p->fd_ok = ok;
	r = poller_scan_iter(p);
	p->fd_ok = NULL;
	/* A socket no fd held during the walk has no process (or got one
	 * since, e.g. accepted in between: seen next scan). */
	for (size_t i = k; r >= 0 && i < p->n; i++) {
		struct sock_record *rec = &p->recs[i];
		const uint64_t *v = rec->inode && owners.count
					    ? u64map_get(&owners, rec->inode)
					    : NULL;
		if (v)
			rec->pid = (uint32_t)*v;
		else
			rec->flags |= SOCK_REC_F_NO_OWNER;
	}
out:
	u64map_free(&owners);
	return r;
}

int poller_scan_fdwalk(struct poller *p)
{
	size_t count = netns_set_count(p->ns);
	_cleanup_(freep) struct fd_count *c = calloc(count ? count : 1,
						     sizeof(*c));
	_cleanup_(freep) bool *ok = calloc(count ? count : 1, sizeof(*ok));
	int fd, r;

	if (!c || !ok)
		return -ENOMEM;
	if ((r = fdwalk_prepare(p, c, count)) < 0)
		return r;
	fd = ebpf_iter_open(p->iter, EBPF_ITER_FDSOCKS);
	r = fd < 0 ? fd
		   : iterrec_read_fdsocks(fd, p->iter_buf, ITER_READ_BUF,
					  poller_push, p);
	if (fd >= 0)
		close(fd);
	if (r >= 0 && p->watch_fn)
		p->watch_fn(p->watch_ud, p->recs, p->n); /* the walk's last */
	if (r < 0) {
		if (r == -ENOMEM)
			return r;
		log_debug("BPF fd walk: %s; walking every netns",
			  strerror(-r));
		p->n = 0;
		return poller_scan_iter(p);
	}
	if ((r = fdwalk_count(p, c, count)) < 0)
		return r;
	if (fdwalk_verify(p, c, count, ok))
		return 0;
	r = fdwalk_rewalk(p, ok, count);
	return r > 0 ? 0 : r;
}

/* One log line per BPF program that does not run, and one for the path. */
static void log_iters(const struct poller *p)
{
	static const char *const via[] = {
		[EBPF_ITER_LIGHT] = "light skeleton",
		[EBPF_ITER_REGULAR] = "regular skeleton",
	};
	char on[256] = "";
	size_t o = 0;

	for (int k = 0; k < EBPF_ITER_KINDS; k++) {
		enum ebpf_iter_via v = ebpf_iter_via(p->iter, k);
		if (v == EBPF_ITER_OFF) {
			log_warn("BPF program %s (%s) switched off, %s",
				 ebpf_iter_prog_name(k), ebpf_iter_kind_name(k),
				 ebpf_iter_why_off(p->iter, k));
			continue;
		}
		int n = snprintf(on + o, sizeof(on) - o, "%s%s (%s)",
				 o ? ", " : "", ebpf_iter_prog_name(k), via[v]);
		if (n > 0 && (size_t)n < sizeof(on) - o)
			o += (size_t)n;
	}
	log_info("BPF iterators loaded: %s", on);
	log_info("polling path: %s; process owners from %s",
		 p->fd_walk ? "one fd walk of every netns (per-netns "
			      "iterators or sock_diag where its counts differ; "
			      "the daemon's skip-unchanged scans walk per netns)"
		 : p->sock_iters ? "iter/tcp + iter/udp per netns"
				 : "sock_diag per netns",
		 ebpf_iter_has(p->iter, EBPF_ITER_OWNERS)
			 ? "iter/task_file"
			 : p->fd_walk ? "the fd walk (its fallback netns: /proc)"
				      : "/proc/<pid>/fd");
}

/*
 * Loads the iterators (each program on its own, SHAWK_BPF_DENY refusing
 * some for tests) and picks the path they allow. 0, or -ENOMEM; any other
 * failure leaves sock_diag, with p->why.
 */
int poller_load_iters(struct poller *p)
{
	ebpf_iter_libbpf_print(p->bpf_verbose);
	int r = ebpf_iter_new(SOCKDIAG_TCP_STATES, SOCKDIAG_UDP_STATES,
			      p->bpf_deny, &p->iter, p->why, sizeof(p->why));
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return 0;
	if (!(p->iter_buf = malloc(ITER_READ_BUF))) {
		ebpf_iter_free(p->iter);
		p->iter = NULL;
		return -ENOMEM;
	}
	p->fd_walk = ebpf_iter_has(p->iter, EBPF_ITER_FDSOCKS);
	p->sock_iters = ebpf_iter_has(p->iter, EBPF_ITER_TCP) &&
			ebpf_iter_has(p->iter, EBPF_ITER_UDP);
	if (ebpf_iter_has(p->iter, EBPF_ITER_OWNERS))
		procmap_set_owner_lookup(p->pm, iter_owner_lookup, p);
	if (!p->fd_walk && !p->sock_iters)
		snprintf(p->why, sizeof(p->why),
			 "no socket iterator loads (%s: %s; %s: %s)",
			 ebpf_iter_prog_name(EBPF_ITER_FDSOCKS),
			 ebpf_iter_why_off(p->iter, EBPF_ITER_FDSOCKS),
			 ebpf_iter_prog_name(EBPF_ITER_TCP),
			 ebpf_iter_why_off(p->iter, EBPF_ITER_TCP));
	log_iters(p);
	return 0;
}
