// SPDX-License-Identifier: MIT
#include "probe/poller.h"

#include "core/log.h"
#include "core/u64map.h"
#include "core/util.h"
#include "probe/bpflog.h"
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

#define POLLER_DEFAULT_MAX_RECORDS SOCK_RECORDS_MAX
/* One read() of a BPF iterator returns at most the seq_file buffer (8
 * pages today); a larger buffer costs nothing and survives kernel changes. */
#define ITER_READ_BUF (256u << 10)

#define NS_COUNTERS 10

struct ns_state {
	uint64_t ino;
	uint64_t c[NS_COUNTERS]; /* read right before the last walk */
	size_t off, len;	 /* its records in prev */
	size_t new_off, new_len; /* ... in recs, during a scan */
	unsigned reused;	 /* scans served from prev since that walk */
	bool valid;		 /* c and the prev slice describe one walk */
	bool seen, counters_ok, walked, bad;
};

struct poller {
	struct source base;
	struct procmap *pm;
	struct netns_set *ns;
	struct sock_record *recs;
	size_t n, cap, max;
	uint64_t overflow;
	struct poller_stats stats;
	/* BPF iterators; NULL: none loads (sock_diag, /proc fd walk). Which
	 * of its programs run picks the path: fd_walk (the one-shot walk of
	 * every fd table), sock_iters (iter/tcp + iter/udp per netns); the
	 * owners program serves procmap (set in poller_new()). */
	struct ebpf_iter *iter;
	bool fd_walk, sock_iters;
	unsigned char *iter_buf;
	int *iter_fds; /* 2 per netns (TCP, UDP), -1 when not created */
	size_t iter_fds_cap;
	/* The fd walk (scan_fdwalk()): per netns index, true when its
	 * sockets came from it; NULL outside of it. */
	bool *fd_ok;
	char why[192];
	/* Reuse of unchanged netns, see plan_netns(); skip_max 0: off. */
	unsigned skip_max;
	bool force_walk;
	bool walk_incomplete;
	struct ns_state *st;
	size_t nst, stcap;
	size_t *cur;   /* per netns index of this scan: index into st */
	bool *reuse;   /* per netns index: served from prev */
	size_t curcap;
	struct sock_record *prev; /* the last scan's records (resolved) */
	size_t nprev, prevcap;
};

static int push(const struct sock_record *rec, void *ud)
{
	struct poller *p = ud;
	int r = sock_records_append(&p->recs, &p->n, &p->cap, p->max, rec);
	if (r == -ENOSPC) {
		p->overflow++;
		return 0;
	}
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

/*
 * Skipping unchanged netns (poller_set_skip_unchanged(), on in the polling
 * daemon). Each walk of a netns, a sock_diag dump or an iterator read,
 * walks the host-wide TCP hash; a host with many idle pods pays it per pod
 * every interval for sockets that did not change. So before a walk, a few
 * per-netns kernel counters are read through /proc/<pid_hint>/net/ (like the
 * sockstat check above): the TCP MIB of snmp (ActiveOpens, PassiveOpens,
 * AttemptFails, EstabResets, CurrEstab; shared by IPv4 and IPv6) and the
 * sockstat{,6} "inuse" of TCP, UDP, TCP6, UDP6 plus TCP "tw". When all equal
 * the values read before the last walk of that netns, its records of the
 * previous scan (pids resolved then) are reused instead of walking. The
 * counters are read BEFORE the walk, so a change during the walk shows at
 * the next scan.
 *
 * What moves the counters: every new TCP connection (ActiveOpens,
 * PassiveOpens, AttemptFails are monotonic), an ESTABLISHED socket leaving
 * that state (CurrEstab), any socket hashed or unhashed (inuse: listen(),
 * close of a listener, UDP bind/autobind and close), TIME_WAIT.
 * What can slip through until the next walk:
 * - a connected UDP socket connect()ed again to another peer (no counter);
 * - a socket moving between non-ESTABLISHED states we report (FIN_WAIT1 ->
 *   FIN_WAIT2, CLOSE_WAIT -> LAST_ACK, CLOSING): its record keeps the old
 *   state;
 * - swaps within one interval that keep the counts: a UDP socket closed and
 *   another bound, a listener closed and another listen()ed (no TCP MIB
 *   counter for either), or those together with a CurrEstab -1/+1 pair that
 *   the monotonic open counters would otherwise reveal;
 * - a socket whose owner changes (fd passed, owner exits, child keeps it):
 *   the reused record keeps the old pid.
 * Bound: a netns is walked at least every skip_max scans (reused at most
 * skip_max - 1 times in a row) and in the first scan after
 * poller_force_walk(), which the daemon calls at every flush, so each
 * flushed interval starts from a full walk. A netns without a pid (a bind
 * mount in /run/netns only), an unreadable counter or a walk that failed
 * half-way is always walked next time; a failed scan forgets everything.
 */
static int read_proc_file(struct poller *p, const struct netns_handle *h,
			  const char *name, char *buf, size_t cap)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%u/net/%s", procmap_root(p->pm),
		 h->pid_hint, name);
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	for (;;) {
		if (len == cap)
			return -EFBIG;
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (int)len;
}

static int read_counters(struct poller *p, const struct netns_handle *h,
			 uint64_t c[NS_COUNTERS])
{
	static const struct {
		const char *proto, *key;
	} v4[] = { { "TCP", "inuse" }, { "TCP", "tw" }, { "UDP", "inuse" } },
	  v6[] = { { "TCP6", "inuse" }, { "UDP6", "inuse" } };
	char buf[8192];
	struct procfs_snmp_tcp t;
	size_t k = 0;
	int n;

	memset(c, 0, NS_COUNTERS * sizeof(*c));
	if ((n = read_proc_file(p, h, "snmp", buf, sizeof(buf))) < 0)
		return n;
	if (procfs_parse_snmp_tcp(buf, (size_t)n, &t) < 0)
		return -EBADMSG;
	c[k++] = t.active_opens;
	c[k++] = t.passive_opens;
	c[k++] = t.attempt_fails;
	c[k++] = t.estab_resets;
	c[k++] = t.curr_estab;
	if ((n = read_proc_file(p, h, "sockstat", buf, sizeof(buf))) < 0)
		return n;
	for (size_t i = 0; i < ARRAY_SIZE(v4); i++)
		if (procfs_parse_sockstat_value(buf, (size_t)n, v4[i].proto,
						v4[i].key, &c[k++]) < 0)
			return -EBADMSG;
	n = read_proc_file(p, h, "sockstat6", buf, sizeof(buf));
	if (n == -ENOENT)
		return 0; /* no IPv6 in this kernel: zeros */
	if (n < 0)
		return n;
	for (size_t i = 0; i < ARRAY_SIZE(v6); i++)
		if (procfs_parse_sockstat_value(buf, (size_t)n, v6[i].proto,
						v6[i].key, &c[k++]) < 0)
			return -EBADMSG;
	return 0;
}

static void forget_netns(struct poller *p)
{
	for (size_t i = 0; i < p->nst; i++)
		p->st[i].valid = false;
}

/* Decides, per netns of this scan, whether its previous records are reused. */
static int plan_netns(struct poller *p)
{
	size_t count = netns_set_count(p->ns);

	if (count > p->curcap) {
		size_t *c = realloc(p->cur, count * sizeof(*c));
		if (!c)
			return -ENOMEM;
		p->cur = c;
		bool *b = realloc(p->reuse, count * sizeof(*b));
		if (!b)
			return -ENOMEM;
		p->reuse = b;
		p->curcap = count;
	}
	for (size_t j = 0; j < p->nst; j++)
		p->st[j].seen = false;
	for (size_t i = 0; i < count; i++) {
		const struct netns_handle *h = netns_set_at(p->ns, i);
		size_t j;
		for (j = 0; j < p->nst && p->st[j].ino != h->ino; j++)
			;
		if (j == p->nst) {
			if (p->nst == p->stcap) {
				size_t nc = p->stcap ? p->stcap * 2 : 16;
				struct ns_state *n =
					realloc(p->st, nc * sizeof(*n));
				if (!n)
					return -ENOMEM;
				p->st = n;
				p->stcap = nc;
			}
			p->st[p->nst++] = (struct ns_state){ .ino = h->ino };
		}
		struct ns_state *st = &p->st[j];
		uint64_t c[NS_COUNTERS];
		p->cur[i] = j;
		p->reuse[i] = false;
		st->seen = true;
		st->new_off = st->new_len = 0;
		st->bad = false;
		st->counters_ok = h->pid_hint && read_counters(p, h, c) == 0;
		if (!st->counters_ok) {
			st->valid = false;
			continue;
		}
		if (st->valid && !p->force_walk && st->reused + 1 < p->skip_max &&
		    memcmp(c, st->c, sizeof(c)) == 0) {
			p->reuse[i] = true;
			continue;
		}
		memcpy(st->c, c, sizeof(c));
		st->valid = false; /* until this walk is committed */
	}
	return 0;
}

/* Netns i from the previous scan's records; false: walk it. */
static int begin_netns(struct poller *p, size_t i, bool *ret_reused)
{
	*ret_reused = false;
	p->walk_incomplete = false;
	if (!p->skip_max)
		return 0;
	struct ns_state *st = &p->st[p->cur[i]];
	st->new_off = p->n;
	st->walked = !p->reuse[i];
	if (!p->reuse[i])
		return 0;
	for (size_t k = 0; k < st->len; k++) {
		int r = push(&p->prev[st->off + k], p);
		if (r < 0)
			return r;
	}
	p->stats.skipped_unchanged++;
	*ret_reused = true;
	return 0;
}

static void end_netns(struct poller *p, size_t i)
{
	if (!p->skip_max)
		return;
	struct ns_state *st = &p->st[p->cur[i]];
	st->new_len = p->n - st->new_off;
	st->bad = p->walk_incomplete;
}

/* After a complete scan: its records become prev. */
static int commit_netns(struct poller *p)
{
	if (!p->skip_max)
		return 0;
	if (p->n > p->prevcap) {
		struct sock_record *n = realloc(p->prev, p->n * sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->prev = n;
		p->prevcap = p->n;
	}
	if (p->n)
		memcpy(p->prev, p->recs, p->n * sizeof(*p->recs));
	p->nprev = p->n;
	size_t k = 0;
	for (size_t j = 0; j < p->nst; j++) {
		struct ns_state st = p->st[j];
		if (!st.seen)
			continue; /* netns gone */
		st.off = st.new_off;
		st.len = st.new_len;
		if (st.walked) {
			st.valid = st.counters_ok && !st.bad && !p->overflow;
			st.reused = 0;
		} else {
			st.reused++;
		}
		p->st[k++] = st;
	}
	p->nst = k;
	p->force_walk = false;
	return 0;
}

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
		r = begin_netns(p, i, &reused);
		if (r >= 0 && !reused)
			r = read_netns_iter(p, netns_set_at(p->ns, i),
					    &p->iter_fds[2 * i]);
		end_netns(p, i);
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
		int n = read_proc_file(p, h, files[f], buf, sizeof(buf));
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

static int scan_fdwalk(struct poller *p)
{
	size_t count = netns_set_count(p->ns), last = 0, k = 0;
	_cleanup_(freep) struct fd_count *c = calloc(count ? count : 1,
						     sizeof(*c));
	_cleanup_(freep) bool *ok = calloc(count ? count : 1, sizeof(*ok));
	struct u64map seen = { 0 }, owners = { 0 };
	int fd, r;

	if (!c || !ok)
		return -ENOMEM;
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
	fd = ebpf_iter_open(p->iter, EBPF_ITER_FDSOCKS);
	r = fd < 0 ? fd
		   : iterrec_read_fdsocks(fd, p->iter_buf, ITER_READ_BUF,
					  push, p);
	if (fd >= 0)
		close(fd);
	if (r < 0) {
		if (r == -ENOMEM)
			return r;
		log_debug("BPF fd walk: %s; walking every netns",
			  strerror(-r));
		p->n = 0;
		return scan_iter(p);
	}
	if ((r = u64map_init(&seen, 0)) < 0 ||
	    (r = u64map_init(&owners, 0)) < 0)
		goto out;
	/* Deduplicate, count per netns, keep the reported states. Only the
	 * sockets whose file was shared when seen can come twice (a socket
	 * dup()ed or forked while the walk ran may come twice unflagged:
	 * then its netns counts one too many and is walked again). */
	for (size_t i = 0; i < p->n; i++) {
		struct sock_record *rec = &p->recs[i];
		size_t x = ns_index(p, rec->netns, count, &last);
		if (x == SIZE_MAX)
			continue; /* a netns the scan does not cover */
		if (rec->flags & SOCK_REC_F_FD_SHARED) {
			rec->flags &= ~(uint32_t)SOCK_REC_F_FD_SHARED;
			r = u64map_put(&seen, rec->inode, 1);
			if (r < 0)
				goto out;
			if (r == 0)
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
	p->n = k;
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
	if (!all) {
		/* Drop what the fd walk gave for the netns walked again, but
		 * keep who holds those sockets: the walk saw every fd. */
		k = 0;
		for (size_t i = 0; i < p->n; i++) {
			const struct sock_record *rec = &p->recs[i];
			size_t x = ns_index(p, rec->netns, count, &last);
			if (!ok[x]) {
				if ((r = u64map_put(&owners, rec->inode,
						    rec->pid)) < 0)
					goto out;
				continue;
			}
			if (k != i)
				p->recs[k] = *rec;
			k++;
		}
		p->n = k;
		p->fd_ok = ok;
		r = scan_iter(p);
		p->fd_ok = NULL;
		/* A socket no fd held during the walk has no process (or got
		 * one since, e.g. accepted in between: seen next scan). */
		for (size_t i = k; r >= 0 && i < p->n; i++) {
			struct sock_record *rec = &p->recs[i];
			const uint64_t *v = rec->inode && owners.count
						    ? u64map_get(&owners,
								 rec->inode)
						    : NULL;
			if (v)
				rec->pid = (uint32_t)*v;
			else
				rec->flags |= SOCK_REC_F_NO_OWNER;
		}
	}
	if (r > 0)
		r = 0;
out:
	u64map_free(&seen);
	u64map_free(&owners);
	return r;
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
		r = plan_netns(p);
		if (r < 0)
			return r;
	}
	if (p->sock_iters || (p->fd_walk && !p->skip_max)) {
		/* The polling daemon reuses unchanged netns (per-netns
		 * slices of the records); without reuse (--once, the
		 * streaming source's polls) fd tables are walked once. A
		 * netns the iterators cannot read is dumped by sock_diag
		 * (read_netns_iter()). */
		r = p->fd_walk && !p->skip_max ? scan_fdwalk(p) : scan_iter(p);
		if (r < 0)
			return r;
	} else {
		for (size_t i = 0; i < netns_set_count(p->ns); i++) {
			struct netns_handle *h = netns_set_at(p->ns, i);
			bool reused;
			r = begin_netns(p, i, &reused);
			if (r < 0)
				return r;
			if (reused) {
				end_netns(p, i);
				continue;
			}
			if (!netns_may_have_sockets(p, h)) {
				p->stats.skipped_empty++;
				end_netns(p, i);
				continue;
			}
			r = dump_netns(p, h);
			end_netns(p, i);
			if (r < 0)
				return r;
		}
	}
	r = procmap_resolve(p->pm, p->recs, p->n);
	if (r < 0)
		return r;
	return commit_netns(p);
}

static int poller_scan(struct source *src, sock_record_fn fn, void *ud)
{
	struct poller *p = (struct poller *)src;
	int r = scan_all(p);
	if (r < 0) {
		forget_netns(p);
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
	free(p->prev);
	netns_set_free(p->ns);
	free(p->recs);
	free(p);
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
static int load_iters(struct poller *p)
{
	int r = ebpf_iter_new(SOCKDIAG_TCP_STATES, SOCKDIAG_UDP_STATES,
			      bpflog_deny_list(), &p->iter, p->why,
			      sizeof(p->why));
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
	if (backend != POLL_BACKEND_SOCKDIAG && load_iters(p) < 0) {
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
