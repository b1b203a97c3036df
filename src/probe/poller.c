// SPDX-License-Identifier: MIT
/*
 * The polling source: one scan reads every netns's sockets, by the BPF
 * iterators (poller_iter.c) or sock_diag (here), reusing netns whose
 * counters did not move when asked to (poller_plan.c), then attributes
 * them to processes (procmap).
 */
#include "probe/poller.h"

#include "core/file.h"
#include "core/log.h"
#include "core/util.h"
#include "probe/poller_int.h"
#include "probe/procfs.h"
#include "probe/sockdiag.h"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int poller_push(const struct sock_record *rec, void *ud)
{
	struct poller *p = ud;
	int r = sock_records_append(&p->recs, &p->n, &p->cap, p->max, rec);
	if (r == -ENOSPC) {
		p->overflow++;
		return 0;
	}
	if (r == 0 && p->watch_fn && p->n % POLLER_WATCH_EVERY == 0)
		p->watch_fn(p->watch_ud, p->recs, p->n);
	return r;
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
			int r = poller_push(&rec, p);
			if (r < 0)
				return r;
			count++;
		}
	}
	return count;
}

int poller_dump_netns(struct poller *p, struct netns_handle *h)
{
	for (size_t i = 0; i < ARRAY_SIZE(dumps); i++) {
		size_t mark = p->n;
		int r = -ENOTCONN;
		if (h->diag_fd >= 0)
			r = sockdiag_dump(h->diag_fd, dumps[i].family,
					  dumps[i].proto, dumps[i].states,
					  h->ino, poller_push, p);
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
		if (r < 0)
			p->walk_incomplete = true;
	}
	return 0;
}

/*
 * False only when the kernel's per-netns counters (/proc/<pid>/net/sockstat
 * and sockstat6) say no TCP or UDP socket is hashed in the netns: then its
 * walk of the host-wide hash, a dump or an iterator read, finds nothing and
 * is skipped. Any doubt (no pid in the netns, unreadable file) says true.
 */
bool poller_netns_may_have_sockets(struct poller *p,
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
		int n = file_read(path, buf, sizeof(buf));
		if (n == -ENOENT && i == 1)
			continue; /* no IPv6 in this kernel */
		uint64_t v;
		if (n <= 0 ||
		    procfs_parse_sockstat_inuse(buf, (size_t)n, &v) < 0)
			return true;
		total += v;
	}
	return total != 0;
}

static int scan_all(struct poller *p)
{
	int r;

	p->n = 0;
	p->stats.procfs_fallbacks = 0;
	p->stats.skipped_empty = 0;
	p->stats.skipped_unchanged = 0;
	p->stats.fd_walk_netns = 0;
	r = procmap_refresh(p->pm);
	if (r < 0)
		return r;
	r = netns_set_sync(p->ns, p->pm);
	if (r < 0)
		return r;
	if (p->skip_max) {
		r = poller_plan_netns(p);
		if (r < 0)
			return r;
	}
	if (p->sock_iters || (p->fd_walk && !p->skip_max)) {
		/* The polling daemon reuses unchanged netns (per-netns
		 * slices of the records); without reuse (--once, the
		 * streaming source's polls) fd tables are walked once. A
		 * netns the iterators cannot read is dumped by sock_diag
		 * (read_netns_iter()). */
		r = p->fd_walk && !p->skip_max ? poller_scan_fdwalk(p) : poller_scan_iter(p);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < netns_set_count(p->ns); i++) {
			struct netns_handle *h = netns_set_at(p->ns, i);
			bool reused;
			r = poller_begin_netns(p, i, &reused);
			if (r < 0)
				return r;
			if (reused) {
				poller_end_netns(p, i);
				continue;
			}
			if (!poller_netns_may_have_sockets(p, h)) {
				p->stats.skipped_empty++;
				poller_end_netns(p, i);
				continue;
			}
			r = poller_dump_netns(p, h);
			poller_end_netns(p, i);
			if (r < 0)
				return r;
		}
	}
	r = procmap_resolve(p->pm, p->recs, p->n);
	if (r < 0)
		return r;
	return poller_commit_netns(p);
}

static int poller_scan(struct source *src, sock_record_fn fn, void *ud)
{
	struct poller *p = (struct poller *)src;
	int r = scan_all(p);
	if (r < 0) {
		poller_forget_netns(p);
		return r;
	}
	if (p->stats.skipped_unchanged)
		log_debug("polling: %llu of %zu netns unchanged, not walked",
			  (unsigned long long)p->stats.skipped_unchanged,
			  netns_set_count(p->ns));
	if (p->fd_walk && !p->skip_max)
		log_debug("polling: fd walk served %llu of %zu netns",
			  (unsigned long long)p->stats.fd_walk_netns,
			  netns_set_count(p->ns));

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

static void poller_watch(struct source *src, source_progress_fn fn, void *ud)
{
	struct poller *p = (struct poller *)src;
	p->watch_fn = fn;
	p->watch_ud = ud;
}

static void poller_free(struct source *src)
{
	struct poller *p = (struct poller *)src;
	if (ebpf_iter_has(p->iter, EBPF_ITER_OWNERS))
		procmap_set_owner_lookup(p->pm, NULL, NULL);
	ebpf_iter_free(p->iter);
	free(p->iter_buf);
	free(p->iter_fds);
	free(p->st);
	free(p->cur);
	free(p->reuse);
	netns_set_free(p->ns);
	free(p->recs);
	free(p);
}

struct source *poller_new(struct procmap *pm, const struct poller_options *opt)
{
	struct poller *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.name = "polling";
	p->base.scan = poller_scan;
	p->base.snapshot = true;
	p->base.records = poller_records;
	p->base.watch = poller_watch;
	p->base.free = poller_free;
	p->pm = pm;
	p->max = opt->max_records ? opt->max_records
				  : POLLER_DEFAULT_MAX_RECORDS;
	p->bpf_deny = opt->bpf_deny;
	p->bpf_verbose = opt->bpf_verbose;
	p->ns = netns_set_new(procmap_root(pm), opt->run_netns_dir, 0);
	if (!p->ns) {
		free(p);
		return NULL;
	}
	if (opt->backend != POLL_BACKEND_SOCKDIAG && poller_load_iters(p) < 0) {
		netns_set_free(p->ns);
		free(p);
		return NULL;
	}
	return &p->base;
}

enum poll_backend poller_backend(const struct source *src,
				 const char **ret_why)
{
	const struct poller *p = (const struct poller *)src;
	if (ret_why)
		*ret_why = p->why;
	return p->fd_walk || p->sock_iters ? POLL_BACKEND_BPF_ITER
					   : POLL_BACKEND_SOCKDIAG;
}

void poller_get_stats(const struct source *src, struct poller_stats *ret)
{
	const struct poller *p = (const struct poller *)src;
	*ret = p->stats;
}

void poller_set_skip_unchanged(struct source *src, unsigned max_reuse)
{
	struct poller *p = (struct poller *)src;
	p->skip_max = max_reuse > 1 ? max_reuse : 0;
	p->nst = 0;
}

void poller_force_walk(struct source *src)
{
	struct poller *p = (struct poller *)src;
	p->force_walk = true;
}
