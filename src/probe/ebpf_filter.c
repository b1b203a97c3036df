// SPDX-License-Identifier: MIT
/*
 * Which TCP connections the in-kernel aggregate may count without their
 * tuple when a stage needs the tuple of some (the conntrack stage: the
 * client port of a connection through a Service finds its backend; the
 * peer port of a source-NATed one, its original client). See
 * bpf/shawk.bpf.c: an active connection is counted when its peer
 * (address, port) is in plain_peers, a passive one when its peer address
 * is not in nat_sources; everything else comes as an event, as with the
 * aggregate off. Part of the probe/ebpf module (libbpf).
 */
#include "core/clock.h"
#include "core/util.h"
#include "probe/ebpf_int.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>

/* Peers already written to plain_peers, so that a burst of connections to
 * a new peer in one scan costs one map update (direct-mapped: a collision
 * costs an update again, nothing else). */
#define PLAIN_CACHE 4096
/* plain_peers is emptied this often: a peer that a NAT rule starts to
 * rewrite later (a new Service on an address that was plain) is then
 * reported with its tuple again within this long. */
#define PLAIN_FORGET_MS (5 * 60 * 1000)

static void key_of(struct shawk_peer_key *k, uint8_t family,
		   const uint8_t addr[16], uint16_t port)
{
	memset(k, 0, sizeof(*k));
	memcpy(k->addr, addr, family == AF_INET6 ? 16 : 4);
	k->family = family;
	k->port = port;
}

static size_t key_slot(const struct shawk_peer_key *k)
{
	/* FNV-1a over the key's bytes. */
	uint64_t h = 1469598103934665603ull;
	const uint8_t *p = (const uint8_t *)k;
	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (size_t)(h % PLAIN_CACHE);
}

static void ebpf_plain_peer(struct source *src, const struct sock_record *rec)
{
	struct ebpf *e = (struct ebpf *)src;
	if (!e->plain_only || rec->proto != IPPROTO_TCP ||
	    rec->dir != SOCK_DIR_ACTIVE || !rec->rport)
		return;
	struct shawk_peer_key k;
	key_of(&k, rec->family, rec->raddr, rec->rport);
	struct shawk_peer_key *slot = &e->plain_cache[key_slot(&k)];
	if (!memcmp(slot, &k, sizeof(k)))
		return;
	uint8_t one = 1;
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.plain_peers), &k,
				&one, BPF_ANY) == 0) {
		*slot = k;
		e->plain_updates++;
	}
}

static int nat_update(int fd, const struct net_addr *a, bool add)
{
	static const uint8_t one = 1;
	struct shawk_peer_key k;
	key_of(&k, a->family, a->addr, 0);
	return add ? bpf_map_update_elem(fd, &k, &one, BPF_ANY)
		   : bpf_map_delete_elem(fd, &k);
}

/* v: the stage's set (the conntrack stage gives it sorted; sorted again
 * here, the contract does not say so). e->nat: the set in the map,
 * sorted: one merge finds what to add and what to delete. */
static void ebpf_nat_sources(struct source *src, const struct net_addr *v,
			     size_t n)
{
	struct ebpf *e = (struct ebpf *)src;
	if (!e->plain_only)
		return;
	int fd = bpf_map__fd(e->skel->maps.nat_sources);
	/* Unknown, or more than the map holds: no passive connection is
	 * counted without its tuple until that changes. */
	bool known = v && n <= SHAWK_NAT_SOURCES_MAX;
	if (!known)
		n = 0;
	if (known && n == e->nnat && e->skel->bss->nat_known &&
	    (!n || !memcmp(v, e->nat, n * sizeof(*v))))
		return; /* the same set as last time */
	struct net_addr *keep = n ? malloc(n * sizeof(*keep)) : NULL;
	if (n && !keep) {
		e->skel->bss->nat_known = 0;
		return;
	}
	if (n)
		memcpy(keep, v, n * sizeof(*keep));
	n = net_addr_sort_unique(keep, n);
	/* The new ones first, then the old ones go: never a moment with
	 * an address of both sets missing. */
	bool failed = false;
	for (size_t i = 0, j = 0; i < n; i++) {
		while (j < e->nnat && net_addr_cmp(&e->nat[j], &keep[i]) < 0)
			j++;
		if ((j == e->nnat || net_addr_cmp(&e->nat[j], &keep[i])) &&
		    nat_update(fd, &keep[i], true) < 0)
			failed = true;
	}
	for (size_t i = 0, j = 0; i < e->nnat; i++) {
		while (j < n && net_addr_cmp(&keep[j], &e->nat[i]) < 0)
			j++;
		if (j == n || net_addr_cmp(&keep[j], &e->nat[i]))
			(void)nat_update(fd, &e->nat[i], false);
	}
	free(e->nat);
	e->nat = keep;
	e->nnat = n;
	e->skel->bss->nat_known = known && !failed;
}

void ebpf_filter_scan(struct ebpf *e, int64_t now_ms)
{
	if (!e->plain_only || now_ms - e->plain_since_ms < PLAIN_FORGET_MS)
		return;
	int fd = bpf_map__fd(e->skel->maps.plain_peers);
	struct shawk_peer_key k, next;
	/* Deleting the key just read makes get_next_key start over. */
	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		k = next;
		if (bpf_map_delete_elem(fd, &k) < 0)
			break;
	}
	memset(e->plain_cache, 0xff, PLAIN_CACHE * sizeof(*e->plain_cache));
	e->plain_since_ms = now_ms;
}

int ebpf_filter_setup(struct ebpf *e)
{
	e->plain_only = e->agg_on && e->opt.aggregate_plain_only;
	if (!e->plain_only)
		return 0;
	/* All ones: no real key (the pad byte is always 0). */
	e->plain_cache = malloc(PLAIN_CACHE * sizeof(*e->plain_cache));
	if (!e->plain_cache)
		return -ENOMEM;
	memset(e->plain_cache, 0xff, PLAIN_CACHE * sizeof(*e->plain_cache));
	e->plain_since_ms = now_monotonic_ms();
	e->skel->data->agg_all = 0;
	e->base.plain_peer = ebpf_plain_peer;
	e->base.nat_sources = ebpf_nat_sources;
	return 0;
}

void ebpf_filter_free(struct ebpf *e)
{
	free(e->plain_cache);
	free(e->nat);
}
