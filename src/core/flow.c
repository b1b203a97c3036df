// SPDX-License-Identifier: MIT
#include "core/flow.h"

#include "core/addr.h"
#include "core/flowset.h"
#include "core/log.h"
#include "core/u64map.h"
#include "core/utf8.h"
#include "core/util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define FLOW_DEFAULT_MAX (1u << 20)
#define CONN_DEFAULT_MAX (4u << 20)

struct flow_table {
	struct flow_set set; /* this interval's flows */
	size_t max;
	struct u64map listeners; /* listener key -> (1 << 32) | owner pid */
	struct u64map conns;	 /* conn id -> (interval << 32) | scan */
	uint32_t scan_gen;
	uint32_t interval_gen;
	struct flow_table_stats stats;
	flow_translate_fn translate;
	void *translate_ud;
};

struct flow_table *flow_table_new(size_t max_flows, size_t max_conns)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max_flows ? max_flows : FLOW_DEFAULT_MAX;
	t->interval_gen = 1;
	if (flow_set_reserve(&t->set, 512) < 0 || u64map_init(&t->listeners, 0) < 0 ||
	    u64map_init(&t->conns, max_conns ? max_conns : CONN_DEFAULT_MAX) <
		    0) {
		flow_table_free(t);
		return NULL;
	}
	return t;
}

void flow_clear(struct flow *f)
{
	free(f->cmdline);
	free(f->cgroup);
	free(f->container_id);
	free(f->container_name);
	free(f->pod_namespace);
	free(f->pod_name);
	free(f->pod_uid);
	free(f->node);
	free(f->conn_ids);
	f->conn_ids = NULL;
	f->n_conn_ids = 0;
	f->cmdline = f->cgroup = f->container_id = f->container_name = NULL;
	f->pod_namespace = f->pod_name = f->pod_uid = f->node = NULL;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int flow_copy(struct flow *dst, const struct flow *src)
{
	*dst = *src;
	/* Until duplicated, dst's strings are src's: flow_clear() below
	 * must not free those. */
	dst->cmdline = dst->cgroup = dst->container_id = NULL;
	dst->container_name = dst->pod_namespace = dst->pod_name = NULL;
	dst->pod_uid = dst->node = NULL;
	dst->conn_ids = NULL;
	dst->n_conn_ids = 0;
	if (flow_add_conn_ids(dst, src->conn_ids, src->n_conn_ids) < 0 ||
	    dup_str(&dst->cmdline, src->cmdline) < 0 ||
	    dup_str(&dst->cgroup, src->cgroup) < 0 ||
	    dup_str(&dst->container_id, src->container_id) < 0 ||
	    dup_str(&dst->container_name, src->container_name) < 0 ||
	    dup_str(&dst->pod_namespace, src->pod_namespace) < 0 ||
	    dup_str(&dst->pod_name, src->pod_name) < 0 ||
	    dup_str(&dst->pod_uid, src->pod_uid) < 0 ||
	    dup_str(&dst->node, src->node) < 0) {
		flow_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

int flow_add_conn_ids(struct flow *f, const uint64_t *pairs, size_t n)
{
	size_t room = FLOW_CONN_IDS_MAX - f->n_conn_ids;
	if (n > room)
		n = room;
	if (n == 0)
		return 0;
	/* The array holds pow2_ceil(n_conn_ids): one append per new
	 * connection reallocates only at powers of two. */
	size_t need = f->n_conn_ids + n;
	size_t cap = f->n_conn_ids ? pow2_ceil(f->n_conn_ids) : 0;
	if (need > cap) {
		size_t nc = pow2_ceil(need);
		uint64_t *v = realloc(f->conn_ids, 2 * nc * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->conn_ids = v;
	}
	memcpy(f->conn_ids + 2 * f->n_conn_ids, pairs, 2 * n * sizeof(*pairs));
	f->n_conn_ids += (uint32_t)n;
	return 0;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	flow_set_done(&t->set);
	u64map_free(&t->listeners);
	u64map_free(&t->conns);
	free(t);
}

void flow_table_freep(struct flow_table **t)
{
	flow_table_free(*t);
}

size_t flow_table_count(const struct flow_table *t)
{
	return t->set.count;
}

const struct flow *flow_table_flows(const struct flow_table *t)
{
	return t->set.flows;
}

void flow_table_get_stats(const struct flow_table *t,
			  struct flow_table_stats *ret)
{
	*ret = t->stats;
	ret->listeners = t->listeners.count;
}

void flow_table_forget_closed_ids(struct flow_table *t)
{
	for (size_t i = 0; i < t->set.count; i++) {
		struct flow *f = &t->set.flows[i];
		uint32_t k = 0;
		for (uint32_t j = 0; j < f->n_conn_ids; j++) {
			if (!u64map_get(&t->conns, f->conn_ids[2 * j]))
				continue;
			f->conn_ids[2 * k] = f->conn_ids[2 * j];
			f->conn_ids[2 * k + 1] = f->conn_ids[2 * j + 1];
			k++;
		}
		f->n_conn_ids = k;
	}
}

void flow_table_set_translate(struct flow_table *t, flow_translate_fn fn,
			      void *userdata)
{
	t->translate = fn;
	t->translate_ud = userdata;
}

void flow_table_reset_interval(struct flow_table *t)
{
	flow_set_clear(&t->set);
	t->interval_gen++;
}

bool flow_is_loopback(const struct flow *f)
{
	return addr_is_loopback(f->key.family, f->key.raddr) ||
	       addr_is_loopback(f->key.family, f->key.laddr);
}

static uint64_t listener_key(uint64_t netns, uint8_t proto, uint16_t port)
{
	/* nsfs inode numbers are 32-bit, so this packing is exact. */
	return (netns << 24) | ((uint64_t)proto << 16) | port;
}

/* Returns the flow for k, creating it; NULL when full (-ENOSPC) or OOM. */
static struct flow *flow_get(struct flow_table *t, const struct flow_key *k,
			     int *err)
{
	size_t slot;
	struct flow *f = flow_set_find(&t->set, k, &slot);
	if (f)
		return f;
	if (t->set.count >= t->max) {
		*err = -ENOSPC;
		return NULL;
	}
	f = flow_set_insert(&t->set, k, slot);
	if (!f)
		*err = -ENOMEM;
	return f;
}

static bool is_listener(const struct sock_record *r)
{
	if (r->proto == IPPROTO_TCP)
		return r->state == TCP_LISTEN;
	/* An unconnected bound UDP socket serves its port. */
	return r->rport == 0 && r->lport != 0;
}

/* Cookies count up from 1 and stay below 2^63: the two never meet. */
static uint64_t inode_id(const struct sock_record *r)
{
	return r->inode | (1ULL << 63);
}

static uint64_t conn_id(const struct sock_record *r)
{
	if (r->cookie)
		return r->cookie;
	if (r->inode)
		return inode_id(r);
	/* No identity from the kernel: the 4-tuple in its netns is one. */
	uint64_t h = hash_bytes(r->laddr, 16, r->netns);
	h = hash_bytes(r->raddr, 16, h ^ r->lport ^ ((uint64_t)r->rport << 16) ^
					     ((uint64_t)r->proto << 32));
	return h | 1;
}

/*
 * Finds r's connection in t->conns, inserting it with value 0 when new;
 * returns as u64map_upsert(). The kernel makes a socket's cookie on first
 * request, and the polling fd walk reads the field (its verifier refuses
 * the helper there, bpf/iter.bpf.c): a socket nothing asked yet comes
 * with cookie 0 and is tracked by its inode; once anything made it
 * (sock_diag, `ss`, a per-netns iterator, a BPF program) the same socket
 * comes with both. That first record moves the entry to the cookie, the
 * key every path knows from then on (events carry no inode, an orphaned
 * socket has none any more), so it is never counted as new again.
 */
static int conn_upsert(struct flow_table *t, const struct sock_record *r,
		       uint64_t **ret)
{
	uint64_t id = conn_id(r);
	int pr = u64map_upsert(&t->conns, id, ret);
	if (pr > 0 && !r->cookie && r->inode)
		log_debug("flow: netns %llu, ports %u -> %u: first seen "
			  "without a cookie (inode %llu)",
			  (unsigned long long)r->netns, r->lport, r->rport,
			  (unsigned long long)r->inode);
	if (pr == 0 || pr == -ENOMEM || !r->cookie || !r->inode)
		return pr;
	const uint64_t *old = u64map_get(&t->conns, inode_id(r));
	if (!old)
		return pr;
	log_debug("flow: netns %llu, ports %u -> %u: cookie %llu made after "
		  "first sight, moved from inode %llu",
		  (unsigned long long)r->netns, r->lport, r->rport,
		  (unsigned long long)r->cookie, (unsigned long long)r->inode);
	uint64_t v = *old;
	/* Deleting may shift the new entry back: find it again. */
	(void)u64map_del(&t->conns, inode_id(r));
	if (pr < 0 && u64map_put(&t->conns, id, v) < 0)
		return pr; /* not reached: the delete made room */
	*ret = u64map_get(&t->conns, id);
	**ret = v;
	return 0;
}

/* Owned copy of an untrusted string, made valid UTF-8 for every sink. */
static void dup_clean(char **dst, const char *src)
{
	if (dup_str(dst, src) == 0 && *dst)
		utf8_sanitize(*dst);
}

static void fill_strings(struct flow *f, const struct flow_owner *o)
{
	/* First writer wins; later owners of the same flow agree anyway. */
	if (!f->cmdline && o->cmdline)
		dup_clean(&f->cmdline, o->cmdline);
	if (!f->cgroup && o->cgroup)
		dup_clean(&f->cgroup, o->cgroup);
	if (!f->container_id && o->container_id)
		dup_clean(&f->container_id, o->container_id);
	if (!f->container_name && o->container_name)
		dup_clean(&f->container_name, o->container_name);
	if (!f->pod_namespace && o->pod_namespace)
		dup_clean(&f->pod_namespace, o->pod_namespace);
	if (!f->pod_name && o->pod_name)
		dup_clean(&f->pod_name, o->pod_name);
	if (!f->pod_uid && o->pod_uid)
		dup_clean(&f->pod_uid, o->pod_uid);
	if (!f->node && o->node)
		dup_clean(&f->node, o->node);
}

/*
 * A connection absent from two full scans in a row has closed. One is not
 * enough: a netlink dump (sock_diag) resumes by its position in a kernel
 * hash chain, so a socket can be skipped by one dump while the table
 * changes under it; forgotten, it was counted new again at the next scan
 * (seen in CI: 601 of 600 newborn connections, the extra one ownerless,
 * its process gone by then). Identities are never reused within two scans
 * (cookies never, inode numbers only after the counter wraps).
 */
static bool keep_scanned(uint64_t key, uint64_t val, void *ud)
{
	const uint32_t *scan = ud;
	(void)key;
	return (uint32_t)val == *scan || (uint32_t)val + 1 == *scan;
}

/* The listening ports of this scan (all of them with a snapshot). */
static void listeners_update(struct flow_table *t,
			     const struct sock_record *recs, size_t n,
			     bool snapshot)
{
	if (snapshot)
		u64map_clear(&t->listeners);
	for (size_t i = 0; i < n; i++) {
		const struct sock_record *r = &recs[i];
		if (!is_listener(r))
			continue;
		uint64_t lk = listener_key(r->netns, r->proto, r->lport);
		uint64_t *v = u64map_get(&t->listeners, lk);
		/* Several listeners may share a port (SO_REUSEPORT, v4+v6):
		 * keep one known owner. */
		if (v && (uint32_t)*v)
			continue;
		(void)u64map_put(&t->listeners, lk, (1ULL << 32) | r->pid);
	}
}

/*
 * A SOCK_REC_F_COUNTED record: counted in this interval by an aggregate
 * record if new, then only remembered, under no flow. Returns 1 when it
 * is done with (remembered or untracked), 0 when it is aggregated like
 * any record (a connection seen before), or -ENOMEM.
 */
static int remember_counted(struct flow_table *t, const struct sock_record *r)
{
	uint64_t *cv;
	int pr = conn_upsert(t, r, &cv);
	if (pr == -ENOMEM)
		return -ENOMEM;
	if (pr > 0) {
		*cv = ((uint64_t)t->interval_gen << 32) | t->scan_gen;
		return 1;
	}
	if (pr < 0) {
		t->stats.untracked_conns++;
		return 1;
	}
	return 0;
}

/* The owner of r, through enrich; *o is all zero when unknown. */
static void owner_resolve(const struct sock_record *r, uint32_t pid,
			  flow_enrich_fn enrich, void *userdata,
			  struct flow_owner *o)
{
	bool have_owner = false;
	memset(o, 0, sizeof(*o));
	if (r->flags & SOCK_REC_F_OWNER_KNOWN) {
		o->pid = r->pid;
		memcpy(o->comm, r->comm, sizeof(o->comm));
		o->comm[sizeof(o->comm) - 1] = '\0';
		have_owner = true;
	}
	if (pid && enrich && enrich(pid, r, o, userdata) == 0)
		have_owner = true;
	if (!have_owner)
		memset(o, 0, sizeof(*o));
}

/* What t's translation (conntrack) changes in k. */
static void flow_key_translate(const struct flow_table *t, struct flow_key *k,
			       const struct sock_record *r)
{
	struct flow_nat n;
	memset(&n, 0, sizeof(n));
	if (!t->translate || !t->translate(r, k->dir, &n, t->translate_ud))
		return;
	if (n.peer_set) {
		memcpy(k->raddr, n.peer, 16);
		if (k->dir == SOCK_DIR_ACTIVE)
			k->rport = n.peer_port;
	}
	memcpy(k->svc_addr, n.svc_addr, 16);
	k->svc_port = n.svc_port;
	memcpy(k->nat_addr, n.nat_addr, 16);
	/* The original client's port is ephemeral, like a passive peer's. */
	k->nat_port = k->dir == SOCK_DIR_PASSIVE ? 0 : n.nat_port;
}

static void flow_key_build(struct flow_key *k, const struct sock_record *r,
			   uint8_t dir, const struct flow_owner *o)
{
	memset(k, 0, sizeof(*k));
	k->dir = dir;
	k->proto = r->proto;
	k->family = r->family;
	memcpy(k->laddr, r->laddr, 16);
	memcpy(k->raddr, r->raddr, 16);
	if (dir == SOCK_DIR_PASSIVE)
		k->lport = r->lport;
	else
		k->rport = r->rport;
	k->netns = r->netns;
	k->pgid = o->pgid;
	memcpy(k->comm, o->comm, sizeof(k->comm));
	k->comm[sizeof(k->comm) - 1] = '\0';
	utf8_sanitize(k->comm);
}

/* Counts r's connection in f: once per interval, new once ever. */
static int count_conn(struct flow_table *t, struct flow *f,
		      const struct sock_record *r)
{
	if (r->conns) {
		/* New connections the source counted: no identity to track
		 * (they are never polled as new, see SOCK_REC_F_COUNTED). */
		f->connections += r->conns;
		f->new_connections += r->conns;
		return 0;
	}
	uint64_t *cv;
	uint64_t nv = ((uint64_t)t->interval_gen << 32) | t->scan_gen;
	int pr = conn_upsert(t, r, &cv);
	if (pr == -ENOMEM)
		return -ENOMEM;
	if (pr != 0) {
		if (pr < 0)
			t->stats.untracked_conns++;
		f->connections++;
		f->new_connections++;
		/* Only a kernel identity is one across processes. */
		uint64_t pair[2] = { conn_id(r), r->inode ? inode_id(r)
							  : r->cookie };
		if ((r->cookie || r->inode) &&
		    flow_add_conn_ids(f, pair, 1) < 0)
			return -ENOMEM;
	} else if ((uint32_t)(*cv >> 32) != t->interval_gen) {
		f->connections++;
	}
	if (cv)
		*cv = nv;
	return 0;
}

/* A TCP socket on its way out (FIN-WAIT, CLOSE-WAIT, LAST-ACK, CLOSING;
 * TIME-WAIT sockets are never reported): not a live connection. */
static bool is_closing(const struct sock_record *r)
{
	return r->proto == IPPROTO_TCP && !r->conns &&
	       (r->state == TCP_FIN_WAIT1 || r->state == TCP_FIN_WAIT2 ||
		r->state == TCP_CLOSE_WAIT || r->state == TCP_LAST_ACK ||
		r->state == TCP_CLOSING);
}

/*
 * A closing socket counts once as the connection it was, never again, and
 * a server's leftover creates no caller of its own (its client may be
 * long gone). Known already: only kept alive (a snapshot would otherwise
 * forget it and count it as new if it came back). Unknown at a client
 * (active): the call its process made, counted once. Unknown at a server
 * (passive): one connection of its flow when that flow exists (an
 * established sibling from the same peer and process), else nothing.
 * Returns 1 when done with r, 0 to aggregate it, or -ENOMEM.
 */
static int closing_seen(struct flow_table *t, const struct sock_record *r,
			const struct flow_key *k)
{
	uint64_t *cv = u64map_get(&t->conns, conn_id(r));
	/* Known by its inode before the kernel made its cookie (see
	 * conn_upsert()); the entry stays under the inode until it closes. */
	if (!cv && r->cookie && r->inode)
		cv = u64map_get(&t->conns, inode_id(r));
	if (cv) {
		*cv = (*cv & ~0xffffffffULL) | t->scan_gen;
		t->stats.closing_skipped++;
		return 1;
	}
	size_t slot;
	if (k->dir == SOCK_DIR_PASSIVE && !flow_set_find(&t->set, k, &slot)) {
		t->stats.closing_skipped++;
		return 1;
	}
	return 0;
}

/* One connection record into its flow. Returns 1 when aggregated, 0 when
 * skipped (not a connection, or the flow table is full), or -ENOMEM. */
static int ingest_one(struct flow_table *t, const struct sock_record *r,
		      int64_t now_ms, flow_enrich_fn enrich, void *userdata)
{
	if (is_listener(r) || (r->rport == 0 && !r->conns) ||
	    addr_is_any(r->family, r->raddr))
		return 0;
	if (r->flags & SOCK_REC_F_COUNTED) {
		int c = remember_counted(t, r);
		if (c != 0)
			return c < 0 ? c : 0;
	}

	uint64_t *lv = u64map_get(&t->listeners,
				  listener_key(r->netns, r->proto, r->lport));
	uint8_t dir = r->dir;
	if (dir == SOCK_DIR_UNKNOWN)
		dir = lv ? SOCK_DIR_PASSIVE : SOCK_DIR_ACTIVE;

	/* Sockets still in the accept queue (no inode yet) and any passive
	 * socket without a known owner belong to whoever listens on the
	 * port, never to an interrupted task. */
	uint32_t pid = r->pid;
	if (!pid && dir == SOCK_DIR_PASSIVE && lv)
		pid = (uint32_t)*lv;

	struct flow_owner o;
	owner_resolve(r, pid, enrich, userdata, &o);
	struct flow_key k;
	flow_key_build(&k, r, dir, &o);
	/* Translated before anything looks the key up. */
	flow_key_translate(t, &k, r);
	if (is_closing(r)) {
		int c = closing_seen(t, r, &k);
		if (c != 0)
			return c < 0 ? c : 0;
	}

	int err = 0;
	struct flow *f = flow_get(t, &k, &err);
	if (!f) {
		if (err == -ENOMEM)
			return -ENOMEM;
		t->stats.dropped_flows++;
		return 0;
	}
	if (!f->first_seen_ms)
		f->first_seen_ms = now_ms;
	f->last_seen_ms = now_ms;
	if (o.pid && (!f->pid || o.pid < f->pid))
		f->pid = o.pid;
	if (!f->cgroup_id)
		f->cgroup_id = r->cgroup_id;
	fill_strings(f, &o);
	int r2 = count_conn(t, f, r);
	return r2 < 0 ? r2 : 1;
}

int flow_table_ingest(struct flow_table *t, const struct sock_record *recs,
		      size_t n, bool snapshot, int64_t now_ms,
		      flow_enrich_fn enrich, void *userdata)
{
	int aggregated = 0;

	t->scan_gen++;
	/* One growth to the scan's size instead of a dozen rehashes from 64
	 * entries on a first scan of 100k sockets. */
	if (u64map_reserve(&t->conns, n > t->conns.count ? n : t->conns.count) <
	    0)
		return -ENOMEM;
	listeners_update(t, recs, n, snapshot);
	/* Closing sockets last: they join the flows of live ones. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			if (is_closing(&recs[i]) != (pass == 1))
				continue;
			int r = ingest_one(t, &recs[i], now_ms, enrich,
					   userdata);
			if (r < 0)
				return r;
			aggregated += r;
		}

	/* Connections absent from full snapshots have closed. */
	if (snapshot)
		u64map_filter(&t->conns, keep_scanned, &t->scan_gen);
	return aggregated;
}
