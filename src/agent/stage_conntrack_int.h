/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGE_CONNTRACK_INT_H
#define SHAWK_AGENT_STAGE_CONNTRACK_INT_H

/*
 * The conntrack stage's insides, shared by stage_conntrack.c (the tables:
 * per-netns dumps and events, the scan, report, stats) and
 * stage_conntrack_match.c (what it answers per record: translate(), and
 * which peers need no tuple: plain_peer(), nat_sources()).
 */
#include "agent/stage_conntrack.h"
#include "conntrack/ct.h"
#include "core/hindex.h"
#include "core/record.h"
#include "core/stage.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

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
	uint64_t lookups;	  /* tuples looked up (per netns) */
	uint64_t lookup_hits;	  /* ... that an entry held */
	uint64_t lookup_netns;	  /* netns searched by lookups, last scan */
	uint64_t lookup_errors;	  /* netns whose lookup failed (dumped) */
};

/* Full dumps of every netns at least this often in a daemon: entries that
 * existed before the event subscription have no DESTROY event to come. */
#define CT_REDUMP_EVERY 60

/* The tuples of a scan's lookups: see ct_queries_build(). */
struct ct_queries {
	struct ct_query *q; /* [0, nact): active; [nact, n): a netns's
			     * passive ones (ct_queries_select()) */
	size_t nact, n, cap;
	uint32_t *arec;	 /* q[i < nact] is recs[arec[i]] */
	const struct sock_record *recs; /* of ct_queries_build() */
	uint32_t *pas;	 /* the passive candidates: indexes in recs */
	uint32_t *pidx;	 /* q[nact + j] is recs[pas[pidx[j]]] */
	size_t npas, cap_pas;
};

/* What the stage keeps per netns between scans (a daemon). */
struct ct_ns {
	uint64_t ino;
	int ev_fd;	/* NEW/DESTROY events, -1: none (dump every scan) */
	uint32_t seen;	/* the scan that last found the netns */
	bool dumped;	/* a dump since the subscription */
	bool ipvs;	/* IPVS there: its entries carry no NAT status bit */
	bool redump;	/* this scan */
	bool ok;	/* no dump failed this scan */
	uint8_t done;	/* CT_DUMP_* kinds dumped this scan */
	uint32_t done_gen; /* the scan done and ok are of */
	uint32_t entries;  /* its table's entries (ct_count()) ... */
	uint32_t count_gen; /* ... as of this scan (0: none) */
};

/* The per-connection lookup (conntrack/ct.h struct ct_lookup_ops). */
enum ct_lookup_state {
	CT_LK_NONE,	/* not offered, or not for this agent (a daemon) */
	CT_LK_UNTRIED,	/* offered, not opened yet */
	CT_LK_OK,
	CT_LK_REFUSED,	/* open() failed: dumps (lk_why says why) */
};

#define NAT_SOURCES_MAX 1024
#define NAT_LOCAL_MAX 16 /* the agent's own addresses kept in nat_sources */

struct stage_conntrack {
	struct stage base;
	struct procmap *pm;
	struct netns_set *ns;
	struct ct_table *ct;
	bool kernel_filter; /* ask the kernel for NAT entries only */
	bool events;	    /* a daemon: keep the table up to date by events */
	bool polling;	    /* the records are all there is (no streaming
			     * source asking for nat_sources()) */
	uint32_t gen;	    /* scans */
	struct ct_ns *nss;
	size_t nns, cap_ns;
	uint64_t vanished; /* netns gone since the last purge */
	int events_err;	   /* why a netns has no events (0: all do) */
	bool reported_events;
	struct ct_stats stats;

	/* A one-shot polling scan looks the records' tuples up instead of
	 * dumping, when the lookup is offered and opens. */
	struct ct_lookup_ops lk;
	enum ct_lookup_state lk_state;
	int lk_err;
	char lk_why[200];
	bool lk_scan;	 /* this scan's entries came from lookups */
	bool reported_lk;
	struct ct_queries queries;
	/* What the lookups found, per record of the scan (translate()'s
	 * fast path: the flow table asks with the records scan() had):
	 * ans[i] 0: nothing, else lk_v[ans[i] - 1]. lk_v goes into the
	 * table (for another record pointer) only when asked (lk_indexed). */
	const struct sock_record *lk_recs;
	size_t lk_nrecs;
	uint32_t *ans;
	size_t ans_cap;
	struct ct_entry *lk_v;
	size_t lk_n, lk_cap;
	bool lk_indexed;
	bool lk_dumped; /* a netns was dumped instead: the table counts too */

	/* A one-shot scan: the DNAT dumps run on a thread from prepare()
	 * while the source reads; scan() joins it. */
	pthread_t pre_thread;
	bool pre_running;
	int pre_err;
	/* The records of the scan in course (scan(): SNAT dumps needed?). */
	const struct sock_record *recs;
	size_t nrecs;
	struct ct_table_stats before; /* the table's counters at scan_begin() */
	/* The addresses source NAT gives connections (nat_sources()), as
	 * of scan nat_gen, built from the table at its nat_version (built
	 * again only when that or the own addresses changed: nat_builds);
	 * nat_over: more than NAT_SOURCES_MAX. */
	struct net_addr *nat;
	size_t nnat;
	uint32_t nat_gen;
	uint64_t nat_version;
	uint64_t nat_builds;
	bool nat_over;
	struct hindex nat_index; /* over nat while it is built */
	/* The agent's own addresses, as of scan nlocal_gen (0: never). */
	struct net_addr local[NAT_LOCAL_MAX];
	size_t nlocal;
	uint32_t nlocal_gen;

	/* What report() logs once per change. */
	int last_err;	  /* of this scan's first failed dump, 0: none */
	int reported_err; /* the last logged state */
	bool reported_once;
	bool reported_filter;
	bool reported_full;
	bool reported_table_full;
	uint64_t scan_dropped;
};

static inline void addr_copy(uint8_t dst[16], const uint8_t *src,
			     uint8_t family)
{
	memset(dst, 0, 16);
	memcpy(dst, src, family == AF_INET6 ? 16 : 4);
}

/* The local addresses of the calling thread's netns (netns_run()-able). */
struct addrs_job {
	uint8_t (*addr)[17]; /* family, then 16 bytes */
	size_t n, cap;
};
int ct_local_addrs(void *arg);

/*
 * The tuples a scan looks up (ct_lookup_ops), built once from the
 * scan's records: every connection record with both ports, its local
 * address and port as source, its peer as destination, so the lookup
 * finds an active socket's DNAT entry by its original tuple and a
 * backend's source-NATed one by its reply tuple. Active ones
 * (SOCK_DIR_ACTIVE, or no listener on the local port in the record's
 * netns, as the flow table classifies) are looked up in every netns;
 * passive ones whose peer is not loopback only where the peer is an
 * address of the netns (ct_queries_select()). A tuple resolved in one
 * netns (a NAT entry found) is not looked up in the next ones
 * (ct_queries_resolve(), ct_queries_compact()).
 */
/* q->q[0..nact) the active tuples, pas the passive ones (recs is kept:
 * it must outlive the selections), n = nact. 0 or -ENOMEM (q emptied
 * first, its memory kept). */
int ct_queries_build(struct ct_queries *q, const struct sock_record *recs,
		     size_t n);
/*
 * Appends after the active tuples the passive ones whose peer is one of
 * a's addresses (the netns the lookup runs in: masquerade gives a
 * connection an address of the netns doing it). Returns q->n, the
 * tuples to look up there.
 */
size_t ct_queries_select(struct ct_queries *q, const struct addrs_job *a);
/* The index in recs of q->q[i] (of the last selection). */
uint32_t ct_queries_rec(const struct ct_queries *q, size_t i);
/* q->q[i] (of the last selection) is resolved. */
void ct_queries_resolve(struct ct_queries *q, size_t i);
/* Drops the resolved tuples (q->n = the active ones left); returns how
 * many tuples are left, active and passive. */
size_t ct_queries_compact(struct ct_queries *q);
void ct_queries_free(struct ct_queries *q);

struct netns_handle;

/* stage_conntrack.c, for the lookup (stage_conntrack_lookup.c). */
struct ct_ns *ct_ns_find(struct stage_conntrack *c, uint64_t ino);
int ct_dump_ns(struct stage_conntrack *c, struct netns_handle *h, struct ct_ns *s,
	    unsigned kinds);
void ct_dump_failed(struct stage_conntrack *c, const struct netns_handle *h,
		    struct ct_ns *s, int err);
unsigned ct_kinds_wanted(struct stage_conntrack *c, struct netns_handle *h,
		      struct ct_ns *s, bool final);

/* stage_conntrack_lookup.c: the per-connection lookup of a one-shot scan. */
/* Whether this scan looks tuples up instead of dumping (a one-shot
 * polling scan, the lookup offered and, opened once, not refused). */
bool ct_lookup_wanted(struct stage_conntrack *c);
bool ct_lookup_ready(struct stage_conntrack *c); /* opens it once */
void ct_count_netns(struct stage_conntrack *c);  /* prepare()'s share */
int ct_lookup_netns(struct stage_conntrack *c);	 /* 0 or -ENOMEM */

/* stage_conntrack_report.c: report() and stats() of the stage. */
void ct_report(struct stage *st);
void ct_stats_fn(const struct stage *st, stat_fn fn, void *ud);

/* stage_conntrack_match.c: the stage's per-record callbacks. */
bool ct_translate(struct stage *st, const struct sock_record *rec,
		  uint8_t dir, struct flow_nat *ret);
bool ct_plain_peer(struct stage *st, const struct sock_record *rec);
ssize_t ct_nat_sources(struct stage *st, const struct net_addr **ret);

#endif
