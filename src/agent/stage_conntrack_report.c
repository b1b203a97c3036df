// SPDX-License-Identifier: MIT
/*
 * What the conntrack stage tells: report() logs each change of its state
 * once (netns where conntrack is unavailable, the path a one-shot scan
 * took, events unavailable, a full table, entries over the cap), stats()
 * its counters (stage_conntrack.c does the work).
 */
#include "agent/stage_conntrack_int.h"
#include "core/log.h"
#include "core/stats.h"
#include "core/util.h"
#include "probe/netns.h"

#include <errno.h>
#include <string.h>

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

void ct_report(struct stage *st)
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
	if (c->lk_state == CT_LK_REFUSED && !c->reported_lk) {
		log_info("conntrack: per-connection lookup unavailable (%s): "
			 "dumps instead", c->lk_why[0] ? c->lk_why
						       : strerror(-c->lk_err));
		c->reported_lk = true;
	} else if (c->lk_scan && !c->reported_lk) {
		log_info("conntrack: per-connection lookup (BPF kfunc): %llu "
			 "tuples looked up in %llu netns, %llu found",
			 (unsigned long long)c->stats.lookups,
			 (unsigned long long)c->stats.lookup_netns,
			 (unsigned long long)c->stats.lookup_hits);
		c->reported_lk = true;
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
	S(lookups, STAT_COUNTER,
	  "connection tuples looked up in conntrack (per netns, BPF)"),
	S(lookup_hits, STAT_COUNTER,
	  "connection tuples looked up that a conntrack entry held"),
	S(lookup_netns, STAT_GAUGE,
	  "network namespaces searched by lookups in the last scan"),
	S(lookup_errors, STAT_COUNTER,
	  "netns whose lookup failed (dumped instead)"),
};
#undef S

void ct_stats_fn(const struct stage *st, stat_fn fn, void *ud)
{
	const struct stage_conntrack *c = (const struct stage_conntrack *)st;
	stats_emit(ct_stat_desc, ARRAY_SIZE(ct_stat_desc), &c->stats, fn, ud);
}
