// SPDX-License-Identifier: MIT
/* The streaming source in the agent: probe/ebpf.c plus its log lines. */
#include "agent/source.h"

#include "core/log.h"
#include "core/util.h"
#include "probe/ebpf.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

struct source_stream {
	struct agent_source base;
	bool warned_agg_full;
};

/* The streaming source's running totals, at lvl. */
static void log_stream_totals(const struct ebpf_stats *es, enum log_level lvl)
{
	log_msg(lvl,
		"streaming: %llu events decoded, %llu connections counted in "
		"the kernel (%llu aggregate records), %llu polls, %llu ring "
		"buffer overflows",
		(unsigned long long)es->stream.events,
		(unsigned long long)es->stream.aggregated,
		(unsigned long long)es->stream.agg_records,
		(unsigned long long)es->stream.resyncs,
		(unsigned long long)es->stream.lost_events);
}

static void streaming_report(struct agent_source *as, bool final)
{
	struct source_stream *s = (struct source_stream *)as;
	struct ebpf_stats es;

	ebpf_get_stats(as->src, &es);
	if (final) {
		log_stream_totals(&es, LOG_INFO);
		return;
	}
	if (es.lost_since_last)
		log_warn("streaming: %llu events lost (ring buffer "
			 "full; %llu in total): counts of this "
			 "interval are low",
			 (unsigned long long)es.lost_since_last,
			 (unsigned long long)es.stream.lost_events);
	if (es.agg_full && !s->warned_agg_full) {
		log_warn("streaming: in-kernel aggregate full (too "
			 "many distinct flows in one scan): %llu "
			 "connections passed as events instead",
			 (unsigned long long)es.agg_full);
		s->warned_agg_full = true;
	}
	if (log_get_level() >= LOG_DEBUG)
		log_stream_totals(&es, LOG_DEBUG);
}

#define S(field, kind, help) STAT_DESC(struct stream_stats, field, kind, help)
static const struct stat_desc streaming_stat_desc[] = {
	S(events, STAT_COUNTER, "events decoded"),
	S(bad_events, STAT_COUNTER, "events that failed to decode"),
	S(lost_events, STAT_COUNTER,
	  "events lost in the kernel: ring buffer full"),
	S(resyncs, STAT_COUNTER, "full polls, the seed included"),
	S(held_overflow, STAT_COUNTER,
	  "UDP events passed on unresolved: hold list full"),
	S(aggregated, STAT_COUNTER, "TCP connections counted in the kernel"),
	S(agg_records, STAT_COUNTER, "aggregate records decoded"),
};
#undef S

static void streaming_stats(const struct agent_source *as, stat_fn fn,
			    void *ud)
{
	struct ebpf_stats es;
	ebpf_get_stats(as->src, &es);
	stats_emit(streaming_stat_desc, ARRAY_SIZE(streaming_stat_desc),
		   &es.stream, fn, ud);
	fn("agg_full", STAT_COUNTER, es.agg_full,
	   "connections passed as events: in-kernel aggregate full", ud);
	fn("programs", STAT_GAUGE, es.programs, "attached BPF programs", ud);
	if (es.plain_only) {
		fn("plain_peers", STAT_COUNTER, es.plain_peers,
		   "peers vouched for by the conntrack stage: their "
		   "connections counted in the kernel", ud);
		fn("nat_sources", STAT_GAUGE, es.nat_sources,
		   "NAT source addresses: passive connections from them "
		   "come as events", ud);
	}
}

static void streaming_free(struct agent_source *as)
{
	source_free(as->src);
	free(as);
}

static void log_note(const char *msg, void *ud)
{
	(void)ud;
	log_info("streaming: %s", msg);
}

int source_stream_open(const struct probe_config *cfg, struct procmap *pm,
		       struct agent_source **ret, char *why, size_t why_sz)
{
	/* One poll per flush interval, in the scan the flush follows (the
	 * loop requests it), so a long-lived connection is in every
	 * interval's flows as in polling. */
	struct ebpf_options eo = {
		.run_netns_dir = cfg->run_netns_dir,
		.poll_backend = cfg->poll_backend,
		.resync_ms = 0,
		.note = log_note,
		.verbose = cfg->bpf_verbose,
		.deny = cfg->bpf_deny,
		.classic = cfg->bpf_classic,
		.no_aggregate = cfg->bpf_no_aggregate,
		.no_aggregate_why =
			cfg->bpf_no_aggregate ? "SHAWK_BPF_AGGREGATE=0" : NULL,
		/* The conntrack stage needs the tuple (client port) of a
		 * connection through a Service to find its backend: only
		 * connections it vouches for are counted in the kernel. */
		.aggregate_plain_only = cfg->conntrack,
	};
	struct source_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = ebpf_source_new(pm, &eo, &s->base.src, why, why_sz);
	if (r < 0) {
		free(s);
		return r;
	}
	s->base.report = streaming_report;
	s->base.stats = streaming_stats;
	s->base.free = streaming_free;
	*ret = &s->base;
	return 0;
}
