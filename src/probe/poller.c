// SPDX-License-Identifier: MIT
#include "probe/poller.h"

#include "core/log.h"
#include "core/util.h"
#include "probe/netns.h"
#include "probe/procfs.h"
#include "probe/sockdiag.h"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define POLLER_DEFAULT_MAX_RECORDS (8u << 20)

struct poller {
	struct source base;
	struct procmap *pm;
	struct netns_set *ns;
	struct sock_record *recs;
	size_t n, cap, max;
	uint64_t overflow;
	struct poller_stats stats;
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

static int poller_scan(struct source *src, sock_record_fn fn, void *ud)
{
	struct poller *p = (struct poller *)src;
	int r;

	p->n = 0;
	p->stats.procfs_fallbacks = 0;
	r = procmap_refresh(p->pm);
	if (r < 0)
		return r;
	r = netns_set_sync(p->ns, p->pm);
	if (r < 0)
		return r;
	for (size_t i = 0; i < netns_set_count(p->ns); i++) {
		r = dump_netns(p, netns_set_at(p->ns, i));
		if (r < 0)
			return r;
	}
	r = procmap_resolve(p->pm, p->recs, p->n);
	if (r < 0)
		return r;

	p->stats.scans++;
	p->stats.netns = netns_set_count(p->ns);
	p->stats.sockets = p->n;
	p->stats.enter_error = netns_set_enter_error(p->ns);
	for (size_t i = 0; i < p->n; i++) {
		r = fn(&p->recs[i], ud);
		if (r < 0)
			return r;
	}
	return (int)p->n;
}

static void poller_free(struct source *src)
{
	struct poller *p = (struct poller *)src;
	netns_set_free(p->ns);
	free(p->recs);
	free(p);
}

struct source *poller_new(struct procmap *pm, const char *run_netns_dir,
			  size_t max_records)
{
	struct poller *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.name = "polling";
	p->base.scan = poller_scan;
	p->base.snapshot = true;
	p->base.free = poller_free;
	p->pm = pm;
	p->max = max_records ? max_records : POLLER_DEFAULT_MAX_RECORDS;
	p->ns = netns_set_new(procmap_root(pm), run_netns_dir, 0);
	if (!p->ns) {
		free(p);
		return NULL;
	}
	return &p->base;
}

void poller_get_stats(const struct source *src, struct poller_stats *ret)
{
	const struct poller *p = (const struct poller *)src;
	*ret = p->stats;
}
