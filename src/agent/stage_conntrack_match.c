// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's answers per record (stage_conntrack.c keeps the
 * tables): translate() gives a flow its backend and Service or its
 * original client; plain_peer() and nat_sources() tell a source which
 * connections it may count without their tuple (nothing to translate).
 */
#include "agent/stage_conntrack_int.h"
#include "core/util.h"

#include "core/u64map.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>

int ct_local_addrs(void *arg)
{
	struct addrs_job *j = arg;
	struct ifaddrs *ifa = NULL;
	if (getifaddrs(&ifa) < 0)
		return -errno;
	int r = 0;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
				     i->ifa_addr->sa_family != AF_INET6))
			continue;
		if (j->n == j->cap) {
			size_t nc = j->cap ? j->cap * 2 : 16;
			void *v = realloc(j->addr, nc * sizeof(*j->addr));
			if (!v) {
				r = -ENOMEM;
				break;
			}
			j->addr = v;
			j->cap = nc;
		}
		uint8_t *a = j->addr[j->n++];
		memset(a, 0, 17);
		a[0] = (uint8_t)i->ifa_addr->sa_family;
		if (a[0] == AF_INET)
			memcpy(a + 1,
			       &((struct sockaddr_in *)(void *)i->ifa_addr)
					->sin_addr,
			       4);
		else
			memcpy(a + 1,
			       &((struct sockaddr_in6 *)(void *)i->ifa_addr)
					->sin6_addr,
			       16);
	}
	freeifaddrs(ifa);
	return r;
}

/* ---- the tuples of a scan's lookups ------------------------------------ */

static bool is_listener(const struct sock_record *r)
{
	if (r->proto == IPPROTO_TCP)
		return r->state == TCP_LISTEN;
	return r->rport == 0 && r->lport != 0;
}

static uint64_t listener_key(uint64_t netns, uint8_t proto, uint16_t port)
{
	/* As the flow table's (nsfs inode numbers are 32-bit); never 0 for
	 * a listener: its port is not. */
	return (netns << 24) | ((uint64_t)proto << 16) | port;
}

static bool is_loopback(uint8_t family, const uint8_t *a)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	return family == AF_INET ? a[0] == 127 : !memcmp(a, v6lo, 16);
}

static bool is_any(uint8_t family, const uint8_t *a)
{
	static const uint8_t zero[16];
	return !memcmp(a, zero, family == AF_INET6 ? 16 : 4);
}

static void query_of(struct ct_query *c, const struct sock_record *rec)
{
	c->family = rec->family;
	c->proto = rec->proto;
	c->sport = rec->lport;
	c->dport = rec->rport;
	addr_copy(c->src, rec->laddr, rec->family);
	addr_copy(c->dst, rec->raddr, rec->family);
}

/* Grows *v (of *cap elements of size sz) to n. 0 or -ENOMEM. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n <= *cap)
		return 0;
	void *nv = realloc(*v, n * sz);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = n;
	return 0;
}

int ct_queries_build(struct ct_queries *q, const struct sock_record *recs,
		     size_t n)
{
	struct u64map listeners;
	q->n = q->nact = q->npas = 0;
	q->recs = recs;
	if (u64map_init(&listeners, 0) < 0)
		return -ENOMEM;
	int r = 0;
	for (size_t i = 0; i < n && !r; i++)
		if (is_listener(&recs[i]) && recs[i].dir == SOCK_DIR_UNKNOWN)
			r = u64map_put(&listeners,
				       listener_key(recs[i].netns, recs[i].proto,
						    recs[i].lport),
				       1) < 0 ? -ENOMEM : 0;
	/* Room for every record (untouched room costs nothing). */
	size_t cap_pidx = q->cap, cap_arec = q->cap;
	if (!r && (grow((void **)&q->q, &q->cap, n, sizeof(*q->q)) < 0 ||
		   grow((void **)&q->pidx, &cap_pidx, n, sizeof(*q->pidx)) < 0 ||
		   grow((void **)&q->arec, &cap_arec, n, sizeof(*q->arec)) < 0 ||
		   grow((void **)&q->pas, &q->cap_pas, n, sizeof(*q->pas)) < 0))
		r = -ENOMEM;
	if (cap_pidx < q->cap)
		q->cap = cap_pidx; /* q, pidx, arec: the smallest room */
	if (cap_arec < q->cap)
		q->cap = cap_arec;
	for (size_t i = 0; i < n && !r; i++) {
		const struct sock_record *rec = &recs[i];
		if (is_listener(rec) || !rec->lport || !rec->rport ||
		    (rec->proto != IPPROTO_TCP && rec->proto != IPPROTO_UDP) ||
		    (rec->family != AF_INET && rec->family != AF_INET6) ||
		    is_any(rec->family, rec->raddr))
			continue;
		uint8_t dir = rec->dir;
		if (dir == SOCK_DIR_UNKNOWN)
			dir = u64map_get(&listeners,
					 listener_key(rec->netns, rec->proto,
						      rec->lport))
				      ? SOCK_DIR_PASSIVE
				      : SOCK_DIR_ACTIVE;
		if (dir == SOCK_DIR_ACTIVE) {
			q->arec[q->nact] = (uint32_t)i;
			query_of(&q->q[q->nact++], rec);
		}
		else if (!is_loopback(rec->family, rec->raddr))
			q->pas[q->npas++] = (uint32_t)i;
	}
	q->n = q->nact;
	u64map_free(&listeners);
	return r;
}

size_t ct_queries_select(struct ct_queries *q, const struct addrs_job *a)
{
	size_t w = q->nact;
	for (size_t i = 0; i < q->npas; i++) {
		const struct sock_record *rec = &q->recs[q->pas[i]];
		size_t alen = rec->family == AF_INET6 ? 16 : 4;
		for (size_t k = 0; k < a->n; k++) {
			if (a->addr[k][0] == rec->family &&
			    !memcmp(a->addr[k] + 1, rec->raddr, alen)) {
				q->pidx[w - q->nact] = (uint32_t)i;
				query_of(&q->q[w++], rec);
				break;
			}
		}
	}
	q->n = w;
	return w;
}

uint32_t ct_queries_rec(const struct ct_queries *q, size_t i)
{
	return i < q->nact ? q->arec[i] : q->pas[q->pidx[i - q->nact]];
}

/* A resolved tuple: an active one's protocol 0 (never looked up: TCP or
 * UDP), a passive one's index UINT32_MAX. */
void ct_queries_resolve(struct ct_queries *q, size_t i)
{
	if (i >= q->n)
		return;
	q->q[i].proto = 0;
	if (i >= q->nact)
		q->pas[q->pidx[i - q->nact]] = UINT32_MAX;
}

size_t ct_queries_compact(struct ct_queries *q)
{
	size_t w = 0;
	for (size_t i = 0; i < q->nact; i++)
		if (q->q[i].proto) {
			if (w != i) {
				q->q[w] = q->q[i];
				q->arec[w] = q->arec[i];
			}
			w++;
		}
	q->nact = q->n = w;
	w = 0;
	for (size_t i = 0; i < q->npas; i++)
		if (q->pas[i] != UINT32_MAX)
			q->pas[w++] = q->pas[i];
	q->npas = w;
	return q->nact + q->npas;
}

void ct_queries_free(struct ct_queries *q)
{
	free(q->q);
	free(q->pas);
	free(q->pidx);
	free(q->arec);
	*q = (struct ct_queries){ 0 };
}

/* What entry e (of rec's tuple, or NULL) gives rec's flow. */
static bool translate_entry(struct stage_conntrack *c,
			    const struct sock_record *rec, uint8_t dir,
			    const struct ct_entry *e, const uint8_t *p,
			    struct flow_nat *ret)
{
	if (dir == SOCK_DIR_ACTIVE) {
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
	if (!e || !(e->nat & CT_NAT_SRC) || !memcmp(e->osrc, p, 16))
		return false;
	memcpy(ret->nat_addr, e->osrc, 16);
	ret->nat_port = e->osport;
	c->stats.nat_matches++;
	return true;
}

/*
 * The entry the lookups found for rec (a record of the scan, by its
 * place in the scan's array), when its tuple is rec's in dir's sense:
 * *ret_known true (the answer holds, NULL: none). *ret_known false: rec
 * is not one of the scan's records as scan() saw them (ask the table).
 * A record the lookups found nothing for is known (NULL) by its place
 * alone: a cheap answer, not a check of its tuple.
 */
static const struct ct_entry *lookup_answer(const struct stage_conntrack *c,
					    const struct sock_record *rec,
					    uint8_t dir, const uint8_t *l,
					    const uint8_t *p, bool *ret_known)
{
	*ret_known = false;
	uintptr_t at = (uintptr_t)rec, base = (uintptr_t)c->lk_recs;
	if (!c->lk_recs || at < base ||
	    at >= base + c->lk_nrecs * sizeof(*rec) ||
	    (at - base) % sizeof(*rec))
		return NULL;
	uint32_t a = c->ans[(at - base) / sizeof(*rec)];
	if (!a) {
		/* Not found, or not looked up: a passive record whose peer
		 * is no address of a netns with entries, as with dumps. A
		 * netns dumped instead (its lookup failed): the table. */
		*ret_known = !c->lk_dumped;
		return NULL;
	}
	const struct ct_entry *e = &c->lk_v[a - 1];
	bool same = dir == SOCK_DIR_ACTIVE
			    ? e->osport == rec->lport && e->odport == rec->rport &&
				      !memcmp(e->osrc, l, 16) &&
				      !memcmp(e->odst, p, 16)
			    : e->rsport == rec->lport && e->rdport == rec->rport &&
				      !memcmp(e->rsrc, l, 16) &&
				      !memcmp(e->rdst, p, 16);
	/* Another record at that place (not the scan's): the table. */
	*ret_known = same && e->family == rec->family &&
		     e->proto == rec->proto;
	return *ret_known ? e : NULL;
}

/* The lookups' entries into the table, for a record translate() was
 * not given by scan() (kept out of it until then: the fast path needs
 * no index). */
static void lookup_index(struct stage_conntrack *c)
{
	if (c->lk_indexed)
		return;
	c->lk_indexed = true;
	for (size_t i = 0; i < c->lk_n; i++)
		(void)ct_table_add(c->ct, &c->lk_v[i]);
}

bool ct_translate(struct stage *st, const struct sock_record *rec,
			 uint8_t dir, struct flow_nat *ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	uint8_t l[16], p[16];

	/* An aggregate of connections (streaming, in-kernel counts) has no
	 * client port: its tuple is not known. */
	if (!rec->lport || !rec->rport)
		return false;
	if (!ct_table_count(c->ct) && !c->lk_n)
		return false;
	addr_copy(l, rec->laddr, rec->family);
	addr_copy(p, rec->raddr, rec->family);

	if (c->lk_scan) {
		bool known;
		const struct ct_entry *e =
			lookup_answer(c, rec, dir, l, p, &known);
		if (known)
			return translate_entry(c, rec, dir, e, p, ret);
		lookup_index(c);
	}
	const struct ct_entry *e =
		dir == SOCK_DIR_ACTIVE
			? ct_table_find_orig(c->ct, rec->family, rec->proto, l,
					     rec->lport, p, rec->rport)
			: ct_table_find_reply(c->ct, rec->family, rec->proto,
					      l, rec->lport, p, rec->rport);
	return translate_entry(c, rec, dir, e, p, ret);
}

/* ---- what may be counted without tuples ---------------------------- */

/* Whether this scan saw every NAT entry there is: a failed dump or
 * entries over the cap could hide the one that translates a peer. */
static bool ct_complete(const struct stage_conntrack *c)
{
	return c->gen && !c->last_err && !c->scan_dropped;
}

/* Entry e of an active record (peer p) leaves its peer as it is: no DNAT,
 * or one to the very same address. */
static bool not_translated(const struct ct_entry *e,
			   const struct sock_record *rec, const uint8_t p[16])
{
	return !(e->nat & CT_NAT_DST) ||
	       (e->rsport == rec->rport && !memcmp(e->rsrc, p, 16));
}

bool ct_plain_peer(struct stage *st, const struct sock_record *rec)
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
	if (c->lk_scan) {
		/* The lookups vouch for the tuples they found only. */
		bool known;
		const struct ct_entry *e =
			lookup_answer(c, rec, SOCK_DIR_ACTIVE, l, p, &known);
		return e && not_translated(e, rec, p);
	}
	const struct ct_entry *e = ct_table_find_orig(
		c->ct, rec->family, rec->proto, l, rec->lport, p, rec->rport);
	return !e || not_translated(e, rec, p);
}

/* c->nat is indexed by nat_index while it is built (then sorted). */
struct nat_key {
	const struct net_addr *set;
	const struct net_addr *a;
};

static uint64_t nat_hash(const struct net_addr *a)
{
	return hash_bytes(a->addr, sizeof(a->addr), a->family);
}

static bool nat_eq(uint32_t idx, const void *key)
{
	const struct nat_key *k = key;
	return !net_addr_cmp(&k->set[idx], k->a);
}

/* Adds a to the set unless it is there; false once the set is full. */
static bool nat_add(struct stage_conntrack *c, uint8_t family,
		    const uint8_t addr[16])
{
	struct net_addr a = { .family = family };
	memcpy(a.addr, addr, sizeof(a.addr));
	struct nat_key k = { c->nat, &a };
	uint64_t h = nat_hash(&a);
	if (hindex_find(&c->nat_index, h, nat_eq, &k) != HINDEX_NONE)
		return true;
	if (c->nnat == NAT_SOURCES_MAX) {
		c->nat_over = true;
		return false;
	}
	c->nat[c->nnat] = a;
	hindex_add(&c->nat_index, h, (uint32_t)c->nnat++);
	return true;
}

/* The addresses of the agent's own netns (a node's, where kube-proxy
 * masquerades), known before the first connection they NAT. Read again
 * every CT_REDUMP_EVERY scans, not at every scan: an address added since
 * is in the set as soon as an entry NATs to it. */
static bool nat_local_due(const struct stage_conntrack *c)
{
	return !c->nlocal_gen || c->gen - c->nlocal_gen >= CT_REDUMP_EVERY;
}

static void nat_local_refresh(struct stage_conntrack *c)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	struct addrs_job j = { 0 };
	(void)ct_local_addrs(&j); /* what it found, even on ENOMEM */
	c->nlocal = 0;
	for (size_t i = 0; i < j.n && c->nlocal < NAT_LOCAL_MAX; i++) {
		const uint8_t *a = j.addr[i] + 1;
		if (j.addr[i][0] == AF_INET ? a[0] == 127 : !memcmp(a, v6lo, 16))
			continue;
		c->local[c->nlocal].family = j.addr[i][0];
		memcpy(c->local[c->nlocal++].addr, a, 16);
	}
	free(j.addr);
	c->nlocal_gen = c->gen;
}

/* The set from the table's SNAT entries and the own addresses. */
static void nat_build(struct stage_conntrack *c)
{
	size_t n;
	const struct ct_entry *v = ct_table_entries(c->ct, &n);
	c->nat_version = ct_table_snat_version(c->ct);
	c->nnat = 0;
	c->nat_over = false;
	hindex_clear(&c->nat_index);
	for (size_t i = 0; i < c->nlocal; i++)
		(void)nat_add(c, c->local[i].family, c->local[i].addr);
	for (size_t i = 0; i < n && !c->nat_over; i++)
		if (memcmp(v[i].osrc, v[i].rdst, 16))
			(void)nat_add(c, v[i].family, v[i].rdst);
	qsort(c->nat, c->nnat, sizeof(*c->nat), net_addr_cmp);
	c->nat_builds++;
}

/* The reply destinations of the entries a passive record would be
 * translated by (ct_translate(): the peer is not the original client),
 * and the agent's own addresses; sorted (net_addr_cmp), so that a source
 * compares sets without sorting again. Checked once per scan, built again
 * (one hash lookup per SNAT entry) only when the table's SNAT entries or
 * the own addresses may have changed. */
ssize_t ct_nat_sources(struct stage *st, const struct net_addr **ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	/* Lookups found the entries of this scan's records only. */
	if (!ct_complete(c) || c->lk_scan)
		return -1;
	if (c->nat_gen != c->gen) {
		bool local = nat_local_due(c);
		if (local)
			nat_local_refresh(c);
		if (local || c->nat_version != ct_table_snat_version(c->ct))
			nat_build(c);
		c->nat_gen = c->gen;
	}
	if (c->nat_over)
		return -1;
	*ret = c->nat;
	return (ssize_t)c->nnat;
}
