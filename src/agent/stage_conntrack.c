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
#include "agent/stage_conntrack.h"

#include "conntrack/ct.h"
#include "core/log.h"
#include "core/util.h"
#include "probe/netns.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ct_stats {
	uint64_t scans;
	uint64_t netns;	      /* namespaces dumped in the last scan */
	uint64_t entries;     /* entry messages received */
	uint64_t nat_entries; /* NAT entries kept in the last scan */
	uint64_t dropped;     /* NAT entries over the cap, all scans */
	uint64_t malformed;   /* entry messages refused by the parser */
	uint64_t dump_errors; /* netns dumps that failed */
	uint64_t skipped_empty; /* netns dumps skipped: empty table */
	uint64_t dumps;		/* netns dumps done */
	uint64_t events;	/* event messages read */
	uint64_t overruns;	/* event sockets that overran (dumped again) */
	uint64_t full;		/* netns whose table was full (last scan) */
	uint64_t service_matches; /* records given their backend */
	uint64_t nat_matches;	  /* records given their original client */
};

/* Full dumps of every netns at least this often in a daemon: entries that
 * existed before the event subscription have no DESTROY event to come. */
#define CT_REDUMP_EVERY 60

/* What the stage keeps per netns between scans (a daemon). */
struct ct_ns {
	uint64_t ino;
	int ev_fd;	/* NEW/DESTROY events, -1: none (dump every scan) */
	uint32_t seen;	/* the scan that last found the netns */
	bool dumped;	/* a dump since the subscription */
	bool ipvs;	/* IPVS there: its entries carry no NAT status bit */
	bool redump;	/* this scan */
};

struct stage_conntrack {
	struct stage base;
	struct procmap *pm;
	struct netns_set *ns;
	struct ct_table *ct;
	bool kernel_filter; /* ask the kernel for NAT entries only */
	bool events;	    /* a daemon: keep the table up to date by events */
	uint32_t gen;	    /* scans */
	struct ct_ns *nss;
	size_t nns, cap_ns;
	uint64_t vanished; /* netns gone since the last purge */
	int events_err;	   /* why a netns has no events (0: all do) */
	bool reported_events;
	struct ct_stats stats;

	/* The addresses source NAT gives connections (nat_sources()), as
	 * of scan nat_gen; nat_over: more than NAT_SOURCES_MAX. */
	struct net_addr *nat;
	size_t nnat;
	uint32_t nat_gen;
	bool nat_over;

	/* What report() logs once per change. */
	int last_err;	  /* of this scan's first failed dump, 0: none */
	int reported_err; /* the last logged state */
	bool reported_once;
	bool reported_filter;
	bool reported_full;
	bool reported_table_full;
	uint64_t scan_dropped;
};

static void addr_copy(uint8_t dst[16], const uint8_t *src, uint8_t family)
{
	memset(dst, 0, 16);
	memcpy(dst, src, family == AF_INET6 ? 16 : 4);
}

static bool ct_translate(struct stage *st, const struct sock_record *rec,
			 uint8_t dir, struct flow_nat *ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	uint8_t l[16], p[16];

	if (!ct_table_count(c->ct))
		return false;
	/* An aggregate of connections (streaming, in-kernel counts) has no
	 * client port: its tuple is not known. */
	if (!rec->lport || !rec->rport)
		return false;
	addr_copy(l, rec->laddr, rec->family);
	addr_copy(p, rec->raddr, rec->family);

	if (dir == SOCK_DIR_ACTIVE) {
		const struct ct_entry *e =
			ct_table_find_orig(c->ct, rec->family, rec->proto, l,
					   rec->lport, p, rec->rport);
		if (!e || !(e->nat & CT_NAT_DST))
			return false;
		if (e->rsport == rec->rport && !memcmp(e->rsrc, p, 16))
			return false; /* DNAT to itself: nothing moved */
		ret->peer_set = true;
		memcpy(ret->peer, e->rsrc, 16);
		ret->peer_port = e->rsport;
		memcpy(ret->svc_addr, p, 16);
		ret->svc_port = rec->rport;
		c->stats.service_matches++;
		return true;
	}
	/* Passive: the backend (local) answers the NATed address (peer),
	 * the reply tuple of a source-NATed entry. */
	const struct ct_entry *e = ct_table_find_reply(
		c->ct, rec->family, rec->proto, l, rec->lport, p, rec->rport);
	if (!e || !memcmp(e->osrc, p, 16))
		return false;
	memcpy(ret->nat_addr, e->osrc, 16);
	ret->nat_port = e->osport;
	c->stats.nat_matches++;
	return true;
}

/* ---- what may be counted without tuples ---------------------------- */

/* Whether this scan saw every NAT entry there is: a failed dump or
 * entries over the cap could hide the one that translates a peer. */
static bool ct_complete(const struct stage_conntrack *c)
{
	return c->gen && !c->last_err && !c->scan_dropped;
}

static bool ct_plain_peer(struct stage *st, const struct sock_record *rec)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	uint8_t l[16], p[16];
	if (!ct_complete(c) || rec->dir != SOCK_DIR_ACTIVE || !rec->lport ||
	    !rec->rport)
		return false;
	/* The connection's own entry decides (events and dumps of this
	 * scan have it: conntrack made it before the handshake ended): no
	 * DNAT entry, or one to the very same address, and kube-proxy's
	 * rules, which match on the dialed address, leave every other
	 * connection to that peer alone too. */
	addr_copy(l, rec->laddr, rec->family);
	addr_copy(p, rec->raddr, rec->family);
	const struct ct_entry *e = ct_table_find_orig(
		c->ct, rec->family, rec->proto, l, rec->lport, p, rec->rport);
	return !e || !(e->nat & CT_NAT_DST) ||
	       (e->rsport == rec->rport && !memcmp(e->rsrc, p, 16));
}

#define NAT_SOURCES_MAX 1024

static bool nat_has(const struct net_addr *v, size_t n, uint8_t family,
		    const uint8_t *addr)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family && !memcmp(v[i].addr, addr, 16))
			return true;
	return false;
}

/* Adds the addresses of the agent's own netns (a node's, where kube-proxy
 * masquerades): known before the first connection they NAT. */
static void nat_add_local(struct stage_conntrack *c)
{
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) < 0)
		return;
	for (struct ifaddrs *i = ifa; i && !c->nat_over; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		uint8_t a[16] = { 0 };
		int fam = i->ifa_addr->sa_family;
		if (fam == AF_INET)
			memcpy(a, &((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr, 4);
		else if (fam == AF_INET6)
			memcpy(a, &((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr, 16);
		else
			continue;
		if (nat_has(c->nat, c->nnat, (uint8_t)fam, a))
			continue;
		if (c->nnat == NAT_SOURCES_MAX) {
			c->nat_over = true;
			break;
		}
		c->nat[c->nnat].family = (uint8_t)fam;
		memcpy(c->nat[c->nnat++].addr, a, 16);
	}
	freeifaddrs(ifa);
}

/* The reply destinations of the entries a passive record would be
 * translated by (ct_translate(): the peer is not the original client),
 * and the agent's own addresses. */
static ssize_t ct_nat_sources(struct stage *st, const struct net_addr **ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	if (!ct_complete(c))
		return -1;
	if (c->nat_gen != c->gen) {
		size_t n;
		const struct ct_entry *v = ct_table_entries(c->ct, &n);
		c->nnat = 0;
		c->nat_over = false;
		nat_add_local(c);
		for (size_t i = 0; i < n && !c->nat_over; i++) {
			if (!memcmp(v[i].osrc, v[i].rdst, 16) ||
			    nat_has(c->nat, c->nnat, v[i].family, v[i].rdst))
				continue;
			if (c->nnat == NAT_SOURCES_MAX) {
				c->nat_over = true;
				break;
			}
			struct net_addr *a = &c->nat[c->nnat++];
			a->family = v[i].family;
			memcpy(a->addr, v[i].rdst, 16);
		}
		c->nat_gen = c->gen;
	}
	if (c->nat_over)
		return -1;
	*ret = c->nat;
	return (ssize_t)c->nnat;
}

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

static struct ct_ns *ns_find(struct stage_conntrack *c, uint64_t ino)
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
		pc->last = ns_find(c, e->netns);
		pc->last_ino = e->netns;
	}
	struct ct_ns *n = pc->last;
	/* Gone netns; a netns dumped again (alive entries come back, the
	 * ones that died this interval stay for this scan's records). */
	return !n || (n->redump && !e->dead_gen);
}

/* One netns: a count, then the filtered dumps unless empty. */
static int dump_ns(struct stage_conntrack *c, struct netns_handle *h,
		   const struct ct_ns *s)
{
	bool filtered = false;
	uint32_t entries = 0, max = 0;
	int r = ct_count(h->diag_fd, &entries, &max);
	if (r == 0 && max && entries >= max)
		c->stats.full++;
	/* Every dump walks the host-wide hash table: a netns with no entry
	 * (most pods) costs one small request instead. */
	if (r == 0 && entries == 0) {
		c->stats.skipped_empty++;
		return 0;
	}
	ct_table_set_context(c->ct, h->ino, c->gen);
	/* IPVS entries have no NAT status bit: the kernel's filter would
	 * drop them, so that netns is dumped whole and picked here. */
	bool filter = c->kernel_filter && !s->ipvs;
	r = ct_dump(c->ct, h->diag_fd, filter, &filtered);
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

/* 3. The dumps of the netns that need one. 0 or -ENOMEM. */
static int dump_netns(struct stage_conntrack *c)
{
	for (size_t i = 0; i < netns_set_count(c->ns); i++) {
		struct netns_handle *h = netns_set_at(c->ns, i);
		struct ct_ns *s = ns_find(c, h->ino);
		if (h->diag_fd < 0) {
			/* No ctnetlink socket could be opened there. */
			c->stats.dump_errors++;
			if (!c->last_err)
				c->last_err = -EPROTONOSUPPORT;
			continue;
		}
		if (!s->redump) {
			c->stats.netns++;
			continue;
		}
		int r = dump_ns(c, h, s);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			c->stats.dump_errors++;
			if (!c->last_err)
				c->last_err = r;
			log_debug("conntrack: dump of netns %llu: %s",
				  (unsigned long long)h->ino, strerror(-r));
			continue;
		}
		s->dumped = true;
		c->stats.netns++;
	}
	return 0;
}

static int ct_scan(struct stage *st, const struct sock_record *recs, size_t n)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	struct ct_table_stats before, after;
	(void)recs;
	(void)n;

	int r = netns_set_sync(c->ns, c->pm);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	c->gen++;
	ct_table_get_stats(c->ct, &before);
	c->last_err = 0;
	c->stats.full = 0;
	c->stats.scans++;
	c->stats.netns = 0;
	bool periodic = !c->events || c->gen % CT_REDUMP_EVERY == 1;

	if ((r = follow_netns(c, periodic)) < 0)
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

	if ((r = dump_netns(c)) < 0)
		return r;
	ct_table_get_stats(c->ct, &after);
	c->stats.entries += after.messages - before.messages;
	c->stats.malformed += after.malformed - before.malformed;
	c->stats.nat_entries = after.nat;
	c->scan_dropped = after.dropped;
	c->stats.dropped += after.dropped;
	return 0;
}

static const char *err_hint(int err)
{
	switch (err) {
	case -EPERM:
	case -EACCES:
		return "no permission (CAP_NET_ADMIN)";
	case -EOPNOTSUPP:
	case -EPROTONOSUPPORT:
	case -ENOENT:
		return "nf_conntrack_netlink absent";
	default:
		return strerror(-err);
	}
}

static void ct_report(struct stage *st)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	if (c->last_err != c->reported_err) {
		if (c->last_err)
			log_warn("conntrack unavailable in %llu netns (%s): "
				 "flows through Services keep the dialed "
				 "address",
				 (unsigned long long)(netns_set_count(c->ns) -
						      c->stats.netns),
				 err_hint(c->last_err));
		else if (c->reported_once)
			log_info("conntrack available again in every netns");
		c->reported_err = c->last_err;
	}
	if (!c->reported_once) {
		log_info("conntrack: %llu NAT entries in %llu netns",
			 (unsigned long long)c->stats.nat_entries,
			 (unsigned long long)c->stats.netns);
		c->reported_once = true;
	}
	if (c->events_err && !c->reported_events) {
		log_warn("conntrack events unavailable in some netns (%s): "
			 "those are dumped at every scan",
			 c->events_err == -EPERM
				 ? "net.netfilter.nf_conntrack_events is 0 "
				   "and cannot be set"
				 : strerror(-c->events_err));
		c->reported_events = true;
	}
	if (c->stats.full && !c->reported_table_full)
		log_warn("conntrack table full in %llu netns (nf_conntrack_max): "
			 "the kernel drops new connections there",
			 (unsigned long long)c->stats.full);
	c->reported_table_full = c->stats.full != 0;
	if (c->scan_dropped && !c->reported_full) {
		log_warn("conntrack: more NAT entries than the stage keeps; "
			 "%llu dropped (their flows keep the dialed address)",
			 (unsigned long long)c->scan_dropped);
		c->reported_full = true;
	} else if (!c->scan_dropped) {
		c->reported_full = false;
	}
}

#define S(field, kind, help) STAT_DESC(struct ct_stats, field, kind, help)
static const struct stat_desc ct_stat_desc[] = {
	S(scans, STAT_COUNTER, "conntrack dumps (all netns) done"),
	S(netns, STAT_GAUGE, "network namespaces dumped in the last scan"),
	S(entries, STAT_COUNTER, "conntrack entries received"),
	S(nat_entries, STAT_GAUGE, "NAT entries kept in the last scan"),
	S(dropped, STAT_COUNTER, "NAT entries over the stage's cap"),
	S(malformed, STAT_COUNTER, "conntrack messages refused as malformed"),
	S(dump_errors, STAT_COUNTER, "netns dumps that failed"),
	S(dumps, STAT_COUNTER, "netns dumps done"),
	S(events, STAT_COUNTER, "conntrack event messages read"),
	S(overruns, STAT_COUNTER,
	  "event sockets that overran (events lost: netns dumped again)"),
	S(skipped_empty, STAT_COUNTER,
	  "netns dumps skipped: no conntrack entry there"),
	S(full, STAT_GAUGE, "netns whose conntrack table is full"),
	S(service_matches, STAT_COUNTER,
	  "records resolved from a Service address to its backend"),
	S(nat_matches, STAT_COUNTER,
	  "records given the original client of a source NAT"),
};
#undef S

static void ct_stats_fn(const struct stage *st, stat_fn fn, void *ud)
{
	const struct stage_conntrack *c = (const struct stage_conntrack *)st;
	stats_emit(ct_stat_desc, ARRAY_SIZE(ct_stat_desc), &c->stats, fn, ud);
}

static void ct_free(struct stage *st)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	for (size_t i = 0; i < c->nns; i++)
		if (c->nss[i].ev_fd >= 0)
			close(c->nss[i].ev_fd);
	free(c->nss);
	netns_set_free(c->ns);
	ct_table_free(c->ct);
	free(c->nat);
	free(c);
}

struct stage *stage_conntrack_new(const struct probe_config *cfg,
				  struct procmap *pm, size_t max_entries)
{
	struct stage_conntrack *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.name = "conntrack";
	c->base.scan = ct_scan;
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
	c->ns = netns_set_new(procmap_root(pm), cfg->run_netns_dir, 0);
	c->ct = ct_table_new(max_entries);
	c->nat = calloc(NAT_SOURCES_MAX, sizeof(*c->nat));
	if (!c->ns || !c->ct || !c->nat) {
		ct_free(&c->base);
		return NULL;
	}
	netns_set_set_opener(c->ns, ct_socket_open);
	return &c->base;
}
