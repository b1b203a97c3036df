/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_SOURCE_H
#define SHAWK_PROBE_SOURCE_H

#include "core/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* See struct source watch. */
typedef void (*source_progress_fn)(void *ud, const struct sock_record *recs,
				   size_t n);

/*
 * One interface for every source (sock_diag polling, eBPF streaming, ...).
 * scan() reports what the source learned since the previous call: the full
 * socket table for polling sources, the drained events (plus, on the first
 * call, a seed) for streaming ones. Returns a record count or -errno.
 */
struct source {
	const char *name;
	int (*scan)(struct source *src, sock_record_fn fn, void *userdata);
	/* True when the last scan() reported a full snapshot (listeners
	 * included). Read after each scan(): the streaming source sets it
	 * only for scans that included a full poll. */
	bool snapshot;
	/*
	 * Optional (NULL when the source has none): the records of the last
	 * scan() as one array the source owns, valid until its next scan()
	 * or free. A caller that needs the records as an array uses it and
	 * passes fn NULL to scan(), which then calls nothing: no copy of
	 * 100k records per scan.
	 */
	const struct sock_record *(*records)(const struct source *src,
					     size_t *ret_n);
	/*
	 * Optional: makes the next scan() a full poll. The probe calls it
	 * before the scan it flushes after, so that the poll is the last
	 * scan of each flush interval (the streaming source relies on that
	 * to count each connection once, see probe/ebpf.c).
	 */
	void (*request_poll)(struct source *src);
	/*
	 * Optional: while later scans read, fn(ud, recs, n) is called now
	 * and then with the records read so far (the source's array, valid
	 * during the call only). A later call or the scan's final records
	 * may have changed or dropped some of them (n below the last
	 * call's: read again): work started on them must be checked
	 * against the scan's records. fn NULL: no more calls.
	 */
	void (*watch)(struct source *src, source_progress_fn fn, void *ud);
	/*
	 * Optional, for a source that counts connections without their
	 * tuple (streaming's in-kernel aggregate) while a stage needs the
	 * tuple of some (conntrack: connections through a NAT). Until told
	 * otherwise the source reports every connection with its tuple.
	 *  - plain_peer: rec (an exact active TCP record the stages left
	 *    untranslated) dialed a peer (address, port) that no NAT
	 *    rewrites: later connections to it may be counted.
	 *  - nat_sources: the addresses source NAT gives connections (the
	 *    whole set, replacing the last one): passive connections from
	 *    them keep their tuple; from any other address they may be
	 *    counted. v NULL: unknown (none may). Before the first call,
	 *    none may.
	 */
	void (*plain_peer)(struct source *src, const struct sock_record *rec);
	void (*nat_sources)(struct source *src, const struct net_addr *v,
			    size_t n);
	void (*free)(struct source *src);
};

static inline void source_free(struct source *src)
{
	if (src)
		src->free(src);
}

static inline void source_freep(struct source **src)
{
	source_free(*src);
}

#endif
