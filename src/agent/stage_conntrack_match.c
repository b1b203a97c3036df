// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's answers per record (stage_conntrack.c keeps the
 * tables): translate() gives a flow its backend and Service or its
 * original client; plain_peer() and nat_sources() tell a source which
 * connections it may count without their tuple (nothing to translate).
 */
#include "agent/stage_conntrack_int.h"
#include "core/util.h"

#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
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

bool ct_translate(struct stage *st, const struct sock_record *rec,
			 uint8_t dir, struct flow_nat *ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	uint8_t l[16], p[16];

	if (!ct_table_count(c->ct))
		return false;
	/* An aggregate of connections (streaming, in-kernel counts) has no
	 * client port: its tuple is not known. */
	if (!rec->lport || !rec->rport)
		return false;
	addr_copy(l, rec->laddr, rec->family);
	addr_copy(p, rec->raddr, rec->family);

	if (dir == SOCK_DIR_ACTIVE) {
		const struct ct_entry *e =
			ct_table_find_orig(c->ct, rec->family, rec->proto, l,
					   rec->lport, p, rec->rport);
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
	const struct ct_entry *e = ct_table_find_reply(
		c->ct, rec->family, rec->proto, l, rec->lport, p, rec->rport);
	if (!e || !memcmp(e->osrc, p, 16))
		return false;
	memcpy(ret->nat_addr, e->osrc, 16);
	ret->nat_port = e->osport;
	c->stats.nat_matches++;
	return true;
}

/* ---- what may be counted without tuples ---------------------------- */

/* Whether this scan saw every NAT entry there is: a failed dump or
 * entries over the cap could hide the one that translates a peer. */
static bool ct_complete(const struct stage_conntrack *c)
{
	return c->gen && !c->last_err && !c->scan_dropped;
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
	const struct ct_entry *e = ct_table_find_orig(
		c->ct, rec->family, rec->proto, l, rec->lport, p, rec->rport);
	return !e || !(e->nat & CT_NAT_DST) ||
	       (e->rsport == rec->rport && !memcmp(e->rsrc, p, 16));
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
static void nat_local_refresh(struct stage_conntrack *c)
{
	static const uint8_t v6lo[16] = { [15] = 1 };
	if (c->nlocal_gen && c->gen - c->nlocal_gen < CT_REDUMP_EVERY)
		return;
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

/* The reply destinations of the entries a passive record would be
 * translated by (ct_translate(): the peer is not the original client),
 * and the agent's own addresses; sorted (net_addr_cmp), so that a source
 * compares sets without sorting again. Rebuilt once per scan: one hash
 * lookup per SNAT entry. */
ssize_t ct_nat_sources(struct stage *st, const struct net_addr **ret)
{
	struct stage_conntrack *c = (struct stage_conntrack *)st;
	if (!ct_complete(c))
		return -1;
	if (c->nat_gen != c->gen) {
		size_t n;
		const struct ct_entry *v = ct_table_entries(c->ct, &n);
		c->nnat = 0;
		c->nat_over = false;
		hindex_clear(&c->nat_index);
		nat_local_refresh(c);
		for (size_t i = 0; i < c->nlocal; i++)
			(void)nat_add(c, c->local[i].family, c->local[i].addr);
		for (size_t i = 0; i < n && !c->nat_over; i++)
			if (memcmp(v[i].osrc, v[i].rdst, 16))
				(void)nat_add(c, v[i].family, v[i].rdst);
		qsort(c->nat, c->nnat, sizeof(*c->nat), net_addr_cmp);
		c->nat_gen = c->gen;
	}
	if (c->nat_over)
		return -1;
	*ret = c->nat;
	return (ssize_t)c->nnat;
}
