// SPDX-License-Identifier: MIT
/*
 * The conntrack stage: Kubernetes Services. A client dials a ClusterIP or
 * a NodePort; kube-proxy's DNAT (iptables, nftables, IPVS with
 * net.ipv4.vs.conntrack=1) sends the connection to a backend pod, and only
 * conntrack knows which. Once per scan the stage dumps the NAT entries of
 * every network namespace (conntrack/ct.h), then translate() gives each
 * record's flow the backend as its peer and the dialed address as its
 * Service, or the original client of a source-NATed connection as its NAT
 * peer. Without conntrack every flow keeps the dialed address, as before.
 */
#include "agent/stage_conntrack_int.h"

#include "conntrack/ct.h"
#include "core/log.h"
#include "core/util.h"
#include "probe/netns.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- per-netns state ------------------------------------------------- */

static struct ct_ns *ns_get(struct stage_conntrack *c, uint64_t ino,
			    bool *ret_new)
{
	*ret_new = false;
	for (size_t i = 0; i < c->nns; i++)
		if (c->nss[i].ino == ino)
			return &c->nss[i];
	if (c->nns == c->cap_ns) {
		size_t nc = c->cap_ns ? c->cap_ns * 2 : 16;
		struct ct_ns *v = realloc(c->nss, nc * sizeof(*v));
		if (!v)
			return NULL;
		c->nss = v;
		c->cap_ns = nc;
	}
	struct ct_ns *n = &c->nss[c->nns++];
	*n = (struct ct_ns){ .ino = ino, .ev_fd = -1 };
	*ret_new = true;
	return n;
}

/* Forgets the netns no scan found this time (their sockets are closed). */
static void ns_forget_gone(struct stage_conntrack *c)
{
	size_t w = 0;
	for (size_t i = 0; i < c->nns; i++) {
		if (c->nss[i].seen != c->gen) {
			if (c->nss[i].ev_fd >= 0)
				close(c->nss[i].ev_fd);
			c->vanished++;
			continue;
		}
		c->nss[w++] = c->nss[i];
	}
	c->nns = w;
}

struct ct_ns *ct_ns_find(struct stage_conntrack *c, uint64_t ino)
{
	for (size_t i = 0; i < c->nns; i++)
		if (c->nss[i].ino == ino)
			return &c->nss[i];
	return NULL;
}

struct events_job {
	bool subscribe;
	int fd;
	int sysctl_err; /* nf_conntrack_events is 0 and could not be set */
	bool ipvs;
};

/* Inside the netns: whether IPVS is there; then subscribes to events, and
 * makes sure the kernel sends them (nf_conntrack_events 0 disables them
 * for every listener). */
static int open_events(void *arg)
{
	struct events_job *j = arg;
	j->ipvs = access("/proc/thread-self/net/ip_vs", F_OK) == 0;
	if (!j->subscribe)
		return 0;
	const char *path = "/proc/sys/net/netfilter/nf_conntrack_events";
	char v[8] = "";
	FILE *f = fopen(path, "re");
	if (f) {
		if (!fgets(v, sizeof(v), f))
			v[0] = '\0';
		fclose(f);
	}
	if (v[0] == '0') {
		f = fopen(path, "we");
		if (!f || fputs("1\n", f) < 0 || fclose(f) != 0) {
			j->sysctl_err = -EPERM;
			if (f)
				(void)fclose(f);
			return -EPERM;
		}
	}
	j->fd = ct_events_open();
	return j->fd < 0 ? j->fd : 0;
}

struct purge_ctx {
	struct stage_conntrack *c;
	uint64_t last_ino; /* entries come in runs of one netns */
	struct ct_ns *last;
};

static bool purge_drop(const struct ct_entry *e, void *ud)
{
	struct purge_ctx *pc = ud;
	struct stage_conntrack *c = pc->c;
	/* Dead since an earlier scan: that scan had its records. */
	if (e->dead_gen && e->dead_gen < c->gen)
		return true;
	if (!pc->last || pc->last_ino != e->netns) {
		pc->last = ct_ns_find(c, e->netns);
		pc->last_ino = e->netns;
	}
	struct ct_ns *n = pc->last;
	/* Gone netns; a netns dumped again (alive entries come back, the
	 * ones that died this interval stay for this scan's records). */
	return !n || (n->redump && !e->dead_gen);
}

/* One netns: a count, then the filtered dumps of kinds unless empty. */
int ct_dump_ns(struct stage_conntrack *c, struct netns_handle *h,
	       struct ct_ns *s, unsigned kinds)
{
	bool filtered = false;
	unsigned done = 0;
	uint32_t entries = 0, max = 0;
	int r = ct_count(h->diag_fd, &entries, &max);
	if (r == 0 && max && entries >= max && !(s->done & CT_DUMP_DNAT))
		c->stats.full++;
	/* Every dump walks the host-wide hash table: a netns with no entry
	 * (most pods) costs one small request instead. */
	if (r == 0 && entries == 0) {
		c->stats.skipped_empty++;
		s->done = CT_DUMP_ALL;
		return 0;
	}
	ct_table_set_context(c->ct, h->ino, c->gen);
	/* IPVS entries have no NAT status bit: the kernel's filter would
	 * drop them, so that netns is dumped whole and picked here. */
	bool filter = c->kernel_filter && !s->ipvs;
	r = ct_dump(c->ct, h->diag_fd, filter, kinds, &done, &filtered);
	s->done |= done;
	if (r < 0)
		return r;
	c->stats.dumps++;
	if (filter && !filtered) {
		/* This kernel sends every entry: stop asking. */
		c->kernel_filter = false;
		if (!c->reported_filter)
			log_info("conntrack: the kernel does not filter dumps "
				 "by status; NAT entries are picked here");
		c->reported_filter = true;
	}
	return 0;
}

static bool loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	return family == AF_INET ? a[0] == 127 : !memcmp(a, v6lo, 16);
}

/*
 * Whether this scan needs h's SNAT entries (SNAT without DNAT: one more
 * walk of the host-wide hash). Only a record that is not known active
 * and whose peer is an address of h's netns can be the reply side of
 * one: masquerade (kube-proxy, CNIs' outgoing NAT) rewrites the source to
 * an address of the netns doing it. Unknown addresses: needed.
 */
static bool snat_needed(struct stage_conntrack *c, struct netns_handle *h)
{
	struct addrs_job j = { 0 };
	int r = netns_run(h, ct_local_addrs, &j);
	bool need = r < 0;
	for (size_t i = 0; i < c->nrecs && !need; i++) {
		const struct sock_record *rec = &c->recs[i];
		if (rec->dir == SOCK_DIR_ACTIVE || !rec->lport ||
		    !rec->rport || loopback(rec->family, rec->raddr))
			continue;
		size_t alen = rec->family == AF_INET6 ? 16 : 4;
		for (size_t k = 0; k < j.n && !need; k++)
			need = j.addr[k][0] == rec->family &&
			       !memcmp(j.addr[k] + 1, rec->raddr, alen);
	}
	free(j.addr);
	return need;
}

/* The kinds h's netns needs this scan. A netns followed by events gets
 * every kind (its table must hold them all between dumps), and so does
 * a streaming source; a polling one dumped at every scan (a one-shot
 * scan, no events there) only what the records can use. */
unsigned ct_kinds_wanted(struct stage_conntrack *c, struct netns_handle *h,
			 struct ct_ns *s, bool final)
{
	if (!final)
		return CT_DUMP_DNAT;
	/* The streaming source's nat_sources() wants every SNAT entry. */
	if (s->ev_fd >= 0 || !c->polling || (s->done & CT_DUMP_SNAT))
		return CT_DUMP_ALL;
	return CT_DUMP_DNAT | (snat_needed(c, h) ? CT_DUMP_SNAT : 0);
}

/* 1. Which netns need a dump (periodic: all); events of the others. */
static int follow_netns(struct stage_conntrack *c, bool periodic)
{
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		bool fresh;
		struct ct_ns *s = ns_get(c, h->ino, &fresh);
		if (!s)
			return -ENOMEM;
		s->seen = c->gen;
		s->redump = periodic || !s->dumped || s->ev_fd < 0;
		if (h->diag_fd < 0)
			continue;
		if (fresh) {
			/* Subscribed before the dump: nothing falls between. */
			struct events_job j = { .subscribe = c->events, .fd = -1 };
			int er = netns_run(h, open_events, &j);
			s->ipvs = j.ipvs;
			if (er == 0 && j.fd >= 0)
				s->ev_fd = j.fd;
			else if (er < 0 && c->events && !c->events_err)
				c->events_err = j.sysctl_err ? j.sysctl_err : er;
		}
		if (s->ev_fd >= 0 && s->dumped) {
			ct_table_set_context(c->ct, h->ino, c->gen);
			int er = ct_events_read(c->ct, s->ev_fd);
			if (er == -ENOMEM)
				return er;
			if (er < 0) {
				/* Lost events (-ENOBUFS): dump it again. */
				c->stats.overruns++;
				s->redump = true;
			} else {
				c->stats.events += (uint64_t)er;
			}
		}
	}
	return 0;
}

/* A netns whose dump failed: counted, the scan's first error kept, the
 * netns not complete this scan. */
void ct_dump_failed(struct stage_conntrack *c, const struct netns_handle *h,
		    struct ct_ns *s, int err)
{
	c->stats.dump_errors++;
	if (!c->last_err)
		c->last_err = err;
	log_debug("conntrack: dump of netns %llu: %s",
		  (unsigned long long)h->ino, strerror(-err));
	s->ok = false;
}

/* 3. The dumps of the netns that need one. final: the last pass of the
 * scan (the one that counts, and that may need SNAT entries); else the
 * DNAT dumps run ahead on prepare()'s thread. 0 or -ENOMEM. */
static int dump_netns(struct stage_conntrack *c, bool final)
{
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		struct ct_ns *s = ct_ns_find(c, h->ino);
		if (!s)
			continue; /* found after prepare(): the final pass */
		if (s->done_gen != c->gen) {
			s->done_gen = c->gen;
			s->done = 0;
			s->ok = true;
		}
		if (h->diag_fd < 0) {
			/* No ctnetlink socket could be opened there. */
			if (final) {
				c->stats.dump_errors++;
				if (!c->last_err)
					c->last_err = -EPROTONOSUPPORT;
			}
			continue;
		}
		if (!s->redump) {
			if (final)
				c->stats.netns++;
			continue;
		}
		unsigned kinds = ct_kinds_wanted(c, h, s, final) & ~s->done;
		int r = kinds ? ct_dump_ns(c, h, s, kinds) : 0;
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			ct_dump_failed(c, h, s, r);
			s->done = CT_DUMP_ALL; /* not again this scan */
			continue;
		}
		if (final && s->ok) {
			s->dumped = true;
			c->stats.netns++;
		}
	}
	return 0;
}

/* 1-2: a new scan: the netns, their events, the purge. */
static int scan_begin(struct stage_conntrack *c)
{
	c->gen++;
	ct_table_get_stats(c->ct, &c->before);
	c->last_err = 0;
	c->stats.full = 0;
	c->stats.scans++;
	c->stats.netns = 0;
	bool periodic = !c->events || c->gen % CT_REDUMP_EVERY == 1;

	int r = follow_netns(c, periodic);
	if (r < 0)
		return r;
	ns_forget_gone(c);

	/* 2. Drop what died before this scan, what the dumps bring back
	 * and the entries of vanished netns. */
	struct purge_ctx pc = { .c = c };
	bool any_redump = c->vanished;
	for (size_t i = 0; i < c->nns && !any_redump; i++)
		any_redump = c->nss[i].redump;
	if (any_redump || ct_table_dead(c->ct))
		(void)ct_table_purge(c->ct, purge_drop, &pc);
	c->vanished = 0;
	return 0;
}

static void *prepare_thread(void *arg)
{
	struct stage_conntrack *c = arg;
	/* With the lookup, nothing to dump ahead: the program's load, the
	 * entry counts and the lookups of the records read so far run while
	 * the source reads. */
	if (ct_lookup_wanted(c)) {
		ct_count_netns(c);
		log_debug("conntrack: lookup ready, entries counted");
		ct_early_serve(c);
		return NULL;
	}
	ct_early_close(&c->early);
	c->pre_err = dump_netns(c, false);
	log_debug("conntrack: DNAT dumps ahead of the records done (%zu entries)",
		  ct_table_count(c->ct));
	return NULL;
}

/* Waits for prepare()'s dumps. Returns whether there were any. */
static bool prepare_join(struct stage_conntrack *c)
{
	if (!c->pre_running)
		return false;
	ct_early_end(&c->early);
	pthread_join(c->pre_thread, NULL);
	c->pre_running = false;
	return true;
}

/*
 * A one-shot scan: the netns known now (named ones, ours, those of the
 * last scan's processes) get their DNAT dumps (the bulk of the cost: one
 * walk of the host-wide hash, then every DNAT entry) on a thread while
 * the source reads the sockets. A daemon follows events and has nothing
 * to do here.
 */
static void ct_prepare(struct stage *st)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	(void)prepare_join(c);
	if (c->events || netns_set_sync(c->ns, c->pm) < 0 ||
	    scan_begin(c) < 0)
		return;
	c->pre_err = 0;
	ct_early_begin(c);
	if (pthread_create(&c->pre_thread, NULL, prepare_thread, c) == 0)
		c->pre_running = true;
	else
		c->early.on = false;
}

static int ct_scan(struct stage *st, const struct sock_record *recs, size_t n)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	struct ct_table_stats after;
	bool prepared = prepare_join(c);
	if (prepared && c->pre_err == -ENOMEM)
		return -ENOMEM;

	int r = netns_set_sync(c->ns, c->pm);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	if (!prepared) {
		if ((r = scan_begin(c)) < 0)
			return r;
	} else {
		/* The netns the source found since prepare(). */
		if ((r = follow_netns(c, true)) < 0)
			return r;
		ns_forget_gone(c);
	}

	c->recs = recs;
	c->nrecs = n;
	c->lk_scan = false;
	c->lk_recs = NULL;
	if (ct_lookup_wanted(c)) {
		log_debug("conntrack: %s the scan's lookups",
			  prepared ? "joined, starting" : "starting");
		r = ct_lookup_netns(c);
	} else {
		log_debug("conntrack: %s the scan's dumps",
			  prepared ? "joined, finishing" : "starting");
		r = dump_netns(c, true);
	}
	log_debug("conntrack: scan's dumps done (%zu entries)",
		  ct_table_count(c->ct));
	c->recs = NULL;
	c->nrecs = 0;
	if (r < 0)
		return r;
	ct_table_get_stats(c->ct, &after);
	c->stats.entries += after.messages - c->before.messages;
	c->stats.malformed += after.malformed - c->before.malformed;
	c->stats.nat_entries = c->lk_scan ? c->lk_n : after.nat;
	c->scan_dropped = after.dropped;
	c->stats.dropped += after.dropped;
	return 0;
}

static void ct_free(struct stage *st)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	(void)prepare_join(c);
	for (size_t i = 0; i < c->nns; i++)
		if (c->nss[i].ev_fd >= 0)
			close(c->nss[i].ev_fd);
	free(c->nss);
	if (c->lk.free)
		c->lk.free(c->lk.ctx);
	ct_queries_free(&c->queries);
	free(c->ans);
	free(c->lk_v);
	ct_early_free(&c->early);
	netns_set_free(c->ns);
	ct_table_free(c->ct);
	free(c->nat);
	hindex_free(&c->nat_index);
	free(c);
}

struct stage *stage_conntrack_new(const struct probe_config *cfg,
				  struct procmap *pm, size_t max_entries,
				  const struct ct_lookup_ops *lookup)
{
	struct stage_conntrack *c = calloc(1, sizeof(*c));
	if (!c) {
		if (lookup && lookup->free)
			lookup->free(lookup->ctx);
		return NULL;
	}
	if (lookup) {
		c->lk = *lookup;
		c->lk_state = CT_LK_UNTRIED;
	}
	c->base.name = "conntrack";
	c->base.scan = ct_scan;
	c->base.prepare = ct_prepare;
	c->base.partial = ct_partial;
	c->base.translate = ct_translate;
	c->base.plain_peer = ct_plain_peer;
	c->base.nat_sources = ct_nat_sources;
	c->base.report = ct_report;
	c->base.stats = ct_stats_fn;
	c->base.free = ct_free;
	c->pm = pm;
	c->kernel_filter = true;
	/* A single scan needs no events; a daemon follows the table by
	 * them between dumps. */
	c->events = !cfg->once;
	c->polling = cfg->mode == PROBE_MODE_POLLING;
	c->ns = netns_set_new(procmap_root(pm), cfg->run_netns_dir, 0);
	c->ct = ct_table_new(max_entries);
	c->nat = calloc(NAT_SOURCES_MAX, sizeof(*c->nat));
	/* Reserved once, while empty (nothing to rehash: no hash needed). */
	if (!c->ns || !c->ct || !c->nat || ct_early_init(&c->early) < 0 ||
	    hindex_reserve(&c->nat_index, NAT_SOURCES_MAX, NULL, NULL) < 0) {
		ct_free(&c->base);
		return NULL;
	}
	netns_set_set_opener(c->ns, ct_socket_open);
	return &c->base;
}
