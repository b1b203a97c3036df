// SPDX-License-Identifier: MIT
#include "probe/stream.h"

#include "core/addr.h"
#include "core/u64map.h"
#include "core/util.h"
#include "probe/ebpf_event.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define STREAM_DEFAULT_MAX_HELD 65536
#define STREAM_MAX_OWNERS (1u << 20)

struct held {
	struct sock_record rec;
	bool resolved;
	bool failed; /* the poll shows the socket unconnected */
};

struct stream {
	int64_t resync_ms;
	int64_t next_resync_ms;
	bool seeded;
	uint64_t kernel_lost;
	struct held *held;
	size_t nheld, max_held;
	struct u64map held_by_cookie; /* cookie -> index + 1 */
	/* Owners the events named since the previous poll, and in the
	 * period before (a connection may straddle a poll): cookie -> tgid. */
	struct u64map owner_by_cookie, owner_by_cookie_prev;
	struct stream_stats stats;
};

struct stream *stream_new(int64_t resync_ms, size_t max_held)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->resync_ms = resync_ms > 0 ? resync_ms : 1;
	s->max_held = max_held ? max_held : STREAM_DEFAULT_MAX_HELD;
	if (u64map_init(&s->held_by_cookie, s->max_held) < 0 ||
	    u64map_init(&s->owner_by_cookie, STREAM_MAX_OWNERS) < 0 ||
	    u64map_init(&s->owner_by_cookie_prev, STREAM_MAX_OWNERS) < 0) {
		stream_free(s);
		return NULL;
	}
	return s;
}

void stream_free(struct stream *s)
{
	if (!s)
		return;
	u64map_free(&s->held_by_cookie);
	u64map_free(&s->owner_by_cookie);
	u64map_free(&s->owner_by_cookie_prev);
	free(s->held);
	free(s);
}

bool stream_resync_due(struct stream *s, int64_t now_ms)
{
	if (s->seeded && now_ms < s->next_resync_ms)
		return false;
	s->seeded = true;
	s->next_resync_ms = now_ms + s->resync_ms;
	s->stats.resyncs++;
	return true;
}

static bool needs_local_addr(const struct sock_record *r)
{
	return r->proto == IPPROTO_UDP && r->dir == SOCK_DIR_ACTIVE &&
	       r->cookie && addr_is_any(r->family, r->laddr);
}

static int hold(struct stream *s, const struct sock_record *rec)
{
	uint64_t *idx = u64map_get(&s->held_by_cookie, rec->cookie);
	if (idx) {
		/* Reconnected before the poll: the latest peer wins. */
		s->held[*idx - 1].rec = *rec;
		return 0;
	}
	if (s->nheld == s->max_held)
		return -ENOSPC;
	if (!s->held) {
		s->held = calloc(s->max_held, sizeof(*s->held));
		if (!s->held)
			return -ENOMEM;
	}
	int r = u64map_put(&s->held_by_cookie, rec->cookie, s->nheld + 1);
	if (r < 0)
		return r;
	s->held[s->nheld++] = (struct held){ .rec = *rec };
	s->stats.held++;
	return 0;
}

int stream_on_event(struct stream *s, const void *buf, size_t len,
		    sock_record_fn fn, void *userdata)
{
	struct sock_record rec;
	if (ebpf_event_decode(buf, len, &rec) < 0) {
		s->stats.bad_events++;
		return 0;
	}
	s->stats.events++;
	if (rec.pid && rec.cookie) {
		/* Full: the poll then keeps its own attribution. */
		int r = u64map_put(&s->owner_by_cookie, rec.cookie, rec.pid);
		if (r == -ENOMEM)
			return r;
	}
	if (needs_local_addr(&rec)) {
		int r = hold(s, &rec);
		if (r == 0)
			return 0;
		if (r == -ENOMEM)
			return r;
		/* Hold list full: a wildcard address beats no record. */
		s->stats.held_overflow++;
	}
	return fn(&rec, userdata);
}

int stream_on_poll_record(struct stream *s, const struct sock_record *rec,
			  sock_record_fn fn, void *userdata)
{
	if (s->nheld && rec->cookie && rec->proto == IPPROTO_UDP) {
		uint64_t *idx = u64map_get(&s->held_by_cookie, rec->cookie);
		if (idx) {
			struct held *h = &s->held[*idx - 1];
			if (rec->rport == 0) {
				h->failed = true;
			} else {
				h->rec.family = rec->family;
				memcpy(h->rec.laddr, rec->laddr, 16);
				h->rec.lport = rec->lport;
				h->resolved = true;
			}
		}
	}
	/* The event saw the owner in process context; the poll may not (a
	 * socket still in the accept queue has no fd yet, a closing one
	 * has none any more and its process may be gone). Agreeing on the
	 * owner keeps a connection in one flow. */
	uint64_t *owner = NULL;
	if (rec->cookie) {
		owner = u64map_get(&s->owner_by_cookie, rec->cookie);
		if (!owner)
			owner = u64map_get(&s->owner_by_cookie_prev, rec->cookie);
	}
	if (owner) {
		/* Reported by its event moments ago and already closing:
		 * the poll adds nothing but a guess at the owner. */
		if (rec->proto == IPPROTO_TCP && rec->state != TCP_ESTABLISHED) {
			s->stats.poll_dups++;
			return 0;
		}
		if (!rec->pid) {
			struct sock_record patched = *rec;
			patched.pid = (uint32_t)*owner;
			return fn(&patched, userdata);
		}
	}
	return fn(rec, userdata);
}

int stream_poll_done(struct stream *s, sock_record_fn fn, void *userdata)
{
	int ret = 0;
	for (size_t i = 0; i < s->nheld; i++) {
		const struct held *h = &s->held[i];
		if (h->failed || ret < 0)
			continue;
		int r = fn(&h->rec, userdata);
		if (r < 0)
			ret = r;
	}
	s->nheld = 0;
	u64map_clear(&s->held_by_cookie);
	struct u64map t = s->owner_by_cookie_prev;
	s->owner_by_cookie_prev = s->owner_by_cookie;
	s->owner_by_cookie = t;
	u64map_clear(&s->owner_by_cookie);
	return ret;
}

uint64_t stream_note_lost(struct stream *s, uint64_t kernel_total)
{
	uint64_t d = kernel_total >= s->kernel_lost ? kernel_total - s->kernel_lost
						    : kernel_total;
	s->kernel_lost = kernel_total;
	s->stats.lost_events += d;
	return d;
}

void stream_get_stats(const struct stream *s, struct stream_stats *ret)
{
	*ret = s->stats;
}
