/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_STAGE_H
#define SHAWK_CORE_STAGE_H

#include "core/flow.h"
#include "core/record.h"
#include "core/stats.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A stage sits between the sources and the flow table and tells more about
 * the socket records of each scan (docs/architecture.md). The agent runs
 * its stages in list order; every callback but free is optional (NULL).
 * A stage is built by its own constructor (stage_<name>_new) and freed
 * with stage_free().
 */
struct stage {
	const char *name;
	/*
	 * Once per scan, before aggregation, with all of the scan's records
	 * (the source's array, read-only): for a stage that keeps its own
	 * table per scan (conntrack reads its NAT entries here). Returns 0 or -errno; -ENOMEM stops the
	 * agent, any other error fails this scan (logged, the loop goes on).
	 */
	int (*scan)(struct stage *st, const struct sock_record *recs, size_t n);
	/*
	 * Before the source is read for a scan: work that needs no records
	 * may start here and run while the source reads (conntrack dumps on
	 * a thread of its own in a one-shot scan); scan() finishes it. A
	 * prepare() may be followed by no scan() (the source failed): the
	 * next prepare(), scan() or free() finishes it then.
	 */
	void (*prepare)(struct stage *st);
	/*
	 * Optional: while the source reads (after prepare()), the records
	 * read so far, now and then (probe/source.h struct source watch:
	 * the source's array, valid during the call; scan()'s records are
	 * the scan's, and may differ). For work that can start on part of
	 * the records (conntrack looks tuples up on prepare()'s thread).
	 */
	void (*partial)(struct stage *st, const struct sock_record *recs,
			size_t n);
	/*
	 * Per connection record with an owner pid (never 0), while the flow
	 * table aggregates: adds what the stage knows to *o (strings
	 * borrowed, valid until the next call). Returns 0, or -ESRCH: the
	 * owner is unknown, later stages are skipped and the flow keeps an
	 * empty identity.
	 */
	int (*enrich)(struct stage *st, uint32_t pid,
		      const struct sock_record *rec, struct flow_owner *o);
	/*
	 * Per connection record, every one (with or without an owner,
	 * polled or streamed), before its flow key is built, with the
	 * direction the flow table classified: fills *ret and returns true
	 * to give the flow another peer, a Service or a NAT peer
	 * (core/flow.h struct flow_nat, zeroed before the call). rec is the
	 * source's and stays unchanged. The first stage in list order that
	 * returns true wins.
	 */
	bool (*translate)(struct stage *st, const struct sock_record *rec,
			  uint8_t dir, struct flow_nat *ret);
	/*
	 * Optional, for a stage with translate(): after the scan, per exact
	 * active TCP record that no stage translated, true when the stage
	 * vouches that no connection to the same peer (address and port)
	 * would be translated (so a source may count them without their
	 * tuple, source.h plain_peer). False whenever it cannot be sure.
	 */
	bool (*plain_peer)(struct stage *st, const struct sock_record *rec);
	/*
	 * Optional: the addresses source NAT gives connections, as this
	 * stage knows them after the last scan (*ret borrowed until the next
	 * scan); returns their count, or -1 when the stage cannot tell (then
	 * every passive connection keeps its tuple).
	 */
	ssize_t (*nat_sources)(struct stage *st, const struct net_addr **ret);
	/* After every scan: logs what changed since the last call, once. */
	void (*report)(struct stage *st);
	/* Reports the stage's counters (see core/stats.h). */
	void (*stats)(const struct stage *st, stat_fn fn, void *userdata);
	void (*free)(struct stage *st);
};

static inline void stage_free(struct stage *st)
{
	if (st)
		st->free(st);
}

static inline void stage_freep(struct stage **st)
{
	stage_free(*st);
}

#endif
