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
#define STREAM_MAX_OWNERS (1u << 18)

/*
 * Who an event said owns a connection: cookie -> index + 1 of a distinct
 * (pid, comm). Owners are interned (by_owner: hash -> index + 1), as a
 * burst of connections comes from a few processes: an array entry per
 * event (grown by realloc: copies and page faults) was ~20 % of the
 * agent's time under a connection flood.
 */
struct owner_gen {
	struct u64map by_cookie;
	struct u64map by_owner;
	struct owner_ent {
		uint32_t pid;
		char comm[16];
	} *ents;
	size_t n, cap;
	size_t last; /* index + 1 of the last owner named, 0 if none */
};

struct held {
	struct sock_record rec;
	bool resolved;
	bool failed; /* the poll shows the socket unconnected */
};

struct stream {
	int64_t resync_ms, phase_ms; /* resync_ms 0: on request only */
	int64_t base_ms, next_resync_ms;
	bool seeded;
	bool in_seed;	    /* the poll in progress is the seed */
	bool requested;	    /* stream_request_resync() */
	bool aggregating;   /* stream_set_aggregating() */
	uint64_t kernel_lost;
	struct held *held;
	size_t nheld, max_held;
	struct u64map held_by_cookie; /* cookie -> index + 1 */
	/* Owners the events named since the previous poll, and in the
	 * period before (a connection may straddle a poll). */
	struct owner_gen owners[2];
	int cur; /* index of the current generation */
	struct stream_stats stats;
};

struct stream *stream_new(int64_t resync_ms, int64_t phase_ms,
			  size_t max_held)
{
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->resync_ms = resync_ms > 0 ? resync_ms : 0;
	s->phase_ms = phase_ms > 0 && s->resync_ms ? phase_ms % s->resync_ms
						   : 0;
	s->max_held = max_held ? max_held : STREAM_DEFAULT_MAX_HELD;
	if (u64map_init(&s->held_by_cookie, s->max_held) < 0 ||
	    u64map_init(&s->owners[0].by_cookie, STREAM_MAX_OWNERS) < 0 ||
	    u64map_init(&s->owners[1].by_cookie, STREAM_MAX_OWNERS) < 0 ||
	    u64map_init(&s->owners[0].by_owner, STREAM_MAX_OWNERS) < 0 ||
	    u64map_init(&s->owners[1].by_owner, STREAM_MAX_OWNERS) < 0) {
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
	for (int i = 0; i < 2; i++) {
		u64map_free(&s->owners[i].by_cookie);
		u64map_free(&s->owners[i].by_owner);
		free(s->owners[i].ents);
	}
	free(s->held);
	free(s);
}

bool stream_resync_due(struct stream *s, int64_t now_ms)
{
	if (!s->seeded) {
		s->seeded = true;
		s->in_seed = true;
		s->base_ms = now_ms;
		s->next_resync_ms = now_ms + s->phase_ms + s->resync_ms;
		s->stats.resyncs++;
		return true;
	}
	s->in_seed = false;
	bool grid = s->resync_ms && now_ms >= s->next_resync_ms;
	if (!grid && !s->requested)
		return false;
	s->requested = false;
	/* On the grid base + k * resync + phase, skipping missed points. */
	while (s->resync_ms && s->next_resync_ms <= now_ms)
		s->next_resync_ms += s->resync_ms;
	s->stats.resyncs++;
	return true;
}

void stream_request_resync(struct stream *s)
{
	s->requested = true;
}

void stream_set_aggregating(struct stream *s, bool on)
{
	s->aggregating = on;
}

int stream_on_aggregate(struct stream *s, const void *key, size_t len,
			uint64_t count, sock_record_fn fn, void *userdata)
{
	struct sock_record rec;
	if (ebpf_agg_decode(key, len, count, &rec) < 0) {
		s->stats.bad_events++;
		return 0;
	}
	s->stats.aggregated += rec.conns;
	s->stats.agg_records++;
	return fn(&rec, userdata);
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

static bool owner_is(const struct owner_ent *e, const struct sock_record *rec)
{
	return e->pid == rec->pid &&
	       memcmp(e->comm, rec->comm, sizeof(e->comm)) == 0;
}

/* Index + 1 of rec's (pid, comm) in g->ents, added when new; or -errno. */
static int64_t intern_owner(struct owner_gen *g, const struct sock_record *rec)
{
	if (g->last && owner_is(&g->ents[g->last - 1], rec))
		return (int64_t)g->last;
	uint64_t h = hash_bytes(rec->comm, sizeof(rec->comm), rec->pid) | 1;
	uint64_t *idx = u64map_get(&g->by_owner, h);
	if (idx && owner_is(&g->ents[*idx - 1], rec)) {
		g->last = *idx;
		return (int64_t)*idx;
	}
	if (g->n == g->cap) {
		if (g->cap >= STREAM_MAX_OWNERS)
			return -ENOSPC;
		size_t ncap = g->cap ? g->cap * 2 : 64;
		struct owner_ent *n = realloc(g->ents, ncap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->ents = n;
		g->cap = ncap;
	}
	struct owner_ent *e = &g->ents[g->n++];
	e->pid = rec->pid;
	memcpy(e->comm, rec->comm, sizeof(e->comm));
	/* A hash collision (idx set, other owner) keeps the first indexed:
	 * this one is still found through by_cookie. */
	if (!idx) {
		int r = u64map_put(&g->by_owner, h, g->n);
		if (r == -ENOMEM)
			return r;
	}
	g->last = g->n;
	return (int64_t)g->n;
}

static int remember_owner(struct owner_gen *g, const struct sock_record *rec)
{
	int64_t id = intern_owner(g, rec);
	if (id < 0)
		return (int)id;
	uint64_t *idx;
	int r = u64map_upsert(&g->by_cookie, rec->cookie, &idx);
	if (r < 0)
		return r;
	*idx = (uint64_t)id;
	return 0;
}

static const struct owner_ent *find_owner(struct stream *s, uint64_t cookie)
{
	for (int i = 0; i < 2; i++) {
		struct owner_gen *g = &s->owners[(s->cur + i) % 2];
		uint64_t *idx = u64map_get(&g->by_cookie, cookie);
		if (idx)
			return &g->ents[*idx - 1];
	}
	return NULL;
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
	if ((rec.flags & SOCK_REC_F_OWNER_KNOWN) && rec.cookie) {
		/* Full: the poll then keeps its own attribution. */
		int r = remember_owner(&s->owners[s->cur], &rec);
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
	const struct owner_ent *owner = rec->cookie ? find_owner(s, rec->cookie)
						    : NULL;
	if (!owner && s->aggregating && !s->in_seed &&
	    rec->proto == IPPROTO_TCP && rec->state != TCP_LISTEN) {
		/* Not reported by an event: an aggregate counted it if it is
		 * new (see probe/ebpf.c). */
		struct sock_record counted = *rec;
		counted.flags |= SOCK_REC_F_COUNTED;
		return fn(&counted, userdata);
	}
	if (owner) {
		/* Same owner as the event, even once the process is gone;
		 * closing sockets too (skipped, the flow table forgot a
		 * connection held half-closed and later counted it as new
		 * again). */
		struct sock_record patched = *rec;
		patched.pid = owner->pid;
		patched.flags |= SOCK_REC_F_OWNER_KNOWN;
		memcpy(patched.comm, owner->comm, sizeof(patched.comm));
		return fn(&patched, userdata);
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
	/* The previous generation is forgotten, the current one ages. */
	s->cur ^= 1;
	u64map_clear(&s->owners[s->cur].by_cookie);
	u64map_clear(&s->owners[s->cur].by_owner);
	s->owners[s->cur].n = 0;
	s->owners[s->cur].last = 0;
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
