// SPDX-License-Identifier: MIT
#include "core/util.h"
#include "probe/poller_int.h"
#include "probe/procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
int poller_read_proc_file(struct poller *p, const struct netns_handle *h,
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
	if ((n = poller_read_proc_file(p, h, "snmp", buf, sizeof(buf))) < 0)
		return n;
	if (procfs_parse_snmp_tcp(buf, (size_t)n, &t) < 0)
		return -EBADMSG;
	c[k++] = t.active_opens;
	c[k++] = t.passive_opens;
	c[k++] = t.attempt_fails;
	c[k++] = t.estab_resets;
	c[k++] = t.curr_estab;
	if ((n = poller_read_proc_file(p, h, "sockstat", buf, sizeof(buf))) < 0)
		return n;
	for (size_t i = 0; i < ARRAY_SIZE(v4); i++)
		if (procfs_parse_sockstat_value(buf, (size_t)n, v4[i].proto,
						v4[i].key, &c[k++]) < 0)
			return -EBADMSG;
	n = poller_read_proc_file(p, h, "sockstat6", buf, sizeof(buf));
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

void poller_forget_netns(struct poller *p)
{
	for (size_t i = 0; i < p->nst; i++)
		p->st[i].valid = false;
}

static int by_off(const void *a, const void *b)
{
	const struct ns_state *x = *(struct ns_state *const *)a,
			      *y = *(struct ns_state *const *)b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * (poller_int.h) The records of the netns reused in this scan move to the front of recs,
 * in place (the last scan's records are still there: one array, not a copy
 * beside it, which at 100k sockets was 11 MiB of the daemon's peak RSS);
 * the walks append after them. Each slice moves down or stays, in the
 * order of their offsets, so memmove never overwrites one not yet moved.
 */
int poller_compact_reused(struct poller *p, size_t count)
{
	struct ns_state **v = NULL;
	size_t k = 0;
	for (size_t i = 0; i < count; i++) {
		if (!p->reuse[i])
			continue;
		if (!v && !(v = malloc(count * sizeof(*v))))
			return -ENOMEM;
		v[k++] = &p->st[p->cur[i]];
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), by_off);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (v[i]->off != w)
			memmove(&p->recs[w], &p->recs[v[i]->off],
				v[i]->len * sizeof(*p->recs));
		v[i]->new_off = w;
		v[i]->new_len = v[i]->len;
		w += v[i]->len;
	}
	free(v);
	p->n = w;
	return 0;
}

/* Decides, per netns of this scan, whether its previous records are reused. */
int poller_plan_netns(struct poller *p)
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
		uint64_t c[NS_COUNTERS];
		bool ok = h->pid_hint && read_counters(p, h, c) == 0;
		p->cur[i] = j;
		p->reuse[i] = poller_plan_one(&p->st[j], ok ? c : NULL,
					      p->force_walk, p->skip_max);
	}
	return poller_compact_reused(p, count);
}

bool poller_plan_one(struct ns_state *st, const uint64_t *c, bool force_walk,
		     unsigned skip_max)
{
	st->seen = true;
	st->new_off = st->new_len = 0;
	st->bad = false;
	st->counters_ok = c != NULL;
	if (!c) {
		st->valid = false;
		return false;
	}
	if (st->valid && !force_walk && st->reused + 1 < skip_max &&
	    memcmp(c, st->c, sizeof(st->c)) == 0)
		return true;
	memcpy(st->c, c, sizeof(st->c));
	st->valid = false; /* until this walk is committed */
	return false;
}

void poller_commit_one(struct ns_state *st, bool overflow)
{
	st->off = st->new_off;
	st->len = st->new_len;
	if (st->walked) {
		st->valid = st->counters_ok && !st->bad && !overflow;
		st->reused = 0;
	} else {
		st->reused++;
	}
}

/* Netns i served by the last scan's records (already in place, see
 * compact_reused()); false: walk it. */
int poller_begin_netns(struct poller *p, size_t i, bool *ret_reused)
{
	*ret_reused = false;
	p->walk_incomplete = false;
	if (!p->skip_max)
		return 0;
	struct ns_state *st = &p->st[p->cur[i]];
	st->walked = !p->reuse[i];
	if (!p->reuse[i]) {
		st->new_off = p->n;
		return 0;
	}
	p->stats.skipped_unchanged++;
	*ret_reused = true;
	return 0;
}

void poller_end_netns(struct poller *p, size_t i)
{
	if (!p->skip_max || p->reuse[i])
		return;
	struct ns_state *st = &p->st[p->cur[i]];
	st->new_len = p->n - st->new_off;
	st->bad = p->walk_incomplete;
}

/* After a complete scan: its slices are where the next one looks. */
int poller_commit_netns(struct poller *p)
{
	if (!p->skip_max)
		return 0;
	size_t k = 0;
	for (size_t j = 0; j < p->nst; j++) {
		struct ns_state st = p->st[j];
		if (!st.seen)
			continue; /* netns gone */
		poller_commit_one(&st, p->overflow);
		p->st[k++] = st;
	}
	p->nst = k;
	p->force_walk = false;
	return 0;
}
