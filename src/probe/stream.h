/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_STREAM_H
#define SHAWK_PROBE_STREAM_H

#include "core/util.h"

#include "probe/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The user-space half of streaming mode, free of libbpf and I/O so that
 * tests feed it recorded events. One scan of the streaming source is:
 *
 *   stream_on_event() for each ring buffer record drained, then, when
 *   stream_resync_due() said so, a full poll: stream_on_poll_record() for
 *   each polled socket and stream_poll_done().
 *
 * Per-interval semantics: each connection is reported once, when it is
 * established (its event). The first scan is a full poll (the seed: what was
 * open before the agent), and a poll is repeated on the grid first scan +
 * k * resync_ms + phase_ms, so that a long-lived connection shows in each
 * flush interval like in polling mode. The probe passes resync = the flush
 * interval and phase = half a scan interval: the probe loop flushes on the
 * grid first scan + k * flush interval, after the scan of the same tick, so
 * each poll is the first scan of a new flush interval, whatever it costs.
 * The flow table deduplicates by socket cookie, which the kernel shares
 * between the BPF programs and sock_diag, so a connection is counted at
 * most once per interval and once ever in new_connections.
 *
 * Connected UDP sockets are reported by cgroup/connect4|6, before the kernel
 * picked the local address when the socket was not bound. Such events are
 * held until the next poll, which shows the socket's address (by cookie);
 * a socket the poll shows unconnected had its connect() fail and is dropped,
 * one the poll does not show any more keeps the wildcard address.
 *
 * A polled connection whose event came in the last two resync periods
 * takes the owner (pid, comm) the event named in process context, as the
 * poll may find none (accept queue, process gone).
 */
struct stream_stats {
	uint64_t events;      /* records decoded */
	uint64_t bad_events;  /* records that failed to decode */
	uint64_t lost_events; /* dropped in the kernel: ring buffer full */
	uint64_t resyncs;     /* full polls, the seed included */
	uint64_t held;	      /* UDP events held for their local address */
	uint64_t held_overflow; /* passed on unresolved: hold list full */
	uint64_t aggregated;	/* connections counted in the kernel */
	uint64_t agg_records;	/* aggregate records decoded */
};

struct stream;

/*
 * resync_ms > 0, 0 <= phase_ms < resync_ms (see above), or resync_ms 0:
 * polls only for the seed and on request; max_held bounds held events (0:
 * default). NULL on OOM.
 */
struct stream *stream_new(int64_t resync_ms, int64_t phase_ms,
			  size_t max_held);
void stream_free(struct stream *s);
DEFINE_FREEP(struct stream, stream_free)

/* True for the first scan (the seed), then once per grid point passed and
 * after stream_request_resync(). */
bool stream_resync_due(struct stream *s, int64_t now_ms);

/* Makes the next stream_resync_due() true. */
void stream_request_resync(struct stream *s);

/*
 * Says that new TCP connections are counted in the kernel (aggregate
 * records, stream_on_aggregate()) except while a poll runs, when they
 * come as events. A TCP socket that a poll other than the seed shows, and
 * that no recent event named, is then passed on with SOCK_REC_F_COUNTED:
 * an aggregate counted it if it is new.
 */
void stream_set_aggregating(struct stream *s, bool on);

/*
 * Decodes one entry of the in-kernel aggregate (key, len bytes, and the
 * connections it counted) and passes it to fn. Returns fn's negative
 * result or 0; a malformed entry is counted in bad_events and skipped.
 */
int stream_on_aggregate(struct stream *s, const void *key, size_t len,
			uint64_t count, sock_record_fn fn, void *userdata);

/*
 * Decodes one ring buffer record and passes it to fn, or holds it (see
 * above). Returns fn's negative result, -ENOMEM, or 0; a malformed record
 * is counted in bad_events and skipped.
 */
int stream_on_event(struct stream *s, const void *buf, size_t len,
		    sock_record_fn fn, void *userdata);

/* Passes a polled record to fn after completing held events with it. */
int stream_on_poll_record(struct stream *s, const struct sock_record *rec,
			  sock_record_fn fn, void *userdata);

/* Ends a poll: releases every held event. Returns 0 or fn's error. */
int stream_poll_done(struct stream *s, sock_record_fn fn, void *userdata);

/*
 * Takes the kernel's running total of lost events; returns how many were
 * lost since the previous call.
 */
uint64_t stream_note_lost(struct stream *s, uint64_t kernel_total);

void stream_get_stats(const struct stream *s, struct stream_stats *ret);

#endif
