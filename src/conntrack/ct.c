// SPDX-License-Identifier: MIT
/*
 * ctnetlink through libmnl, with our own parser of the few attributes we
 * need (tuples and status). libnetfilter_conntrack would parse every
 * attribute of every entry into a heap object (nfct_new per message) and
 * hide the dump request, which we need to carry the kernel-side status
 * filter; with libmnl a 150k-entry table costs one pass over the receive
 * buffer and nothing per skipped entry.
 */
#include "conntrack/ct.h"
#include "conntrack/ct_parse.h"

#include "core/hindex.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define CT_DEFAULT_MAX (256u * 1024)
#define CT_RECV_BUF (64u * 1024)

struct ct_table {
	struct ct_entry *v;
	size_t n, cap, max;
	/* Entries by original tuple; SNAT entries by reply tuple. */
	struct hindex orig;
	struct hindex reply;
	struct ct_table_stats stats;
	uint64_t ctx_netns;
	uint32_t ctx_gen;
	size_t dead;	     /* entries with a dead_gen */
	size_t reply_slots; /* slots used in the reply index */
	uint64_t snat_version; /* ct_table_snat_version() */
};

/* ---- the table -------------------------------------------------------- */

struct ct_table *ct_table_new(size_t max_entries)
{
	struct ct_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max_entries ? max_entries : CT_DEFAULT_MAX;
	t->snat_version = 1;
	return t;
}

void ct_table_free(struct ct_table *t)
{
	if (!t)
		return;
	free(t->v);
	hindex_free(&t->orig);
	hindex_free(&t->reply);
	free(t);
}

size_t ct_table_dead(const struct ct_table *t)
{
	return t->dead;
}

void ct_table_clear(struct ct_table *t)
{
	t->snat_version++;
	t->n = 0;
	t->dead = 0;
	t->reply_slots = 0;
	t->stats.nat = 0;
	t->stats.dropped = 0;
	hindex_clear(&t->orig);
	hindex_clear(&t->reply);
}

size_t ct_table_count(const struct ct_table *t)
{
	return t->n;
}

void ct_table_get_stats(const struct ct_table *t, struct ct_table_stats *ret)
{
	*ret = t->stats;
	ret->nat = t->n;
}

uint64_t ct_table_snat_version(const struct ct_table *t)
{
	return t->snat_version;
}

/* Whether e gives its connection a source address (nat_sources()). */
static bool snat_source(const struct ct_entry *e)
{
	return memcmp(e->osrc, e->rdst, sizeof(e->rdst)) != 0;
}

/* Whether replacing a by b can change the set of SNAT sources. */
static bool snat_differs(const struct ct_entry *a, const struct ct_entry *b)
{
	if (!snat_source(a) && !snat_source(b))
		return false;
	return a->family != b->family || snat_source(a) != snat_source(b) ||
	       memcmp(a->rdst, b->rdst, sizeof(a->rdst));
}

/* A tuple as lookups see it: family, protocol, both ends. */
struct ct_key {
	const struct ct_table *t;
	uint8_t family, proto;
	uint16_t sport, dport;
	const uint8_t *src, *dst;
};

static uint64_t tuple_hash(const struct ct_key *k)
{
	uint64_t ports = ((uint64_t)k->family << 40) |
			 ((uint64_t)k->proto << 32) |
			 ((uint64_t)k->sport << 16) | k->dport;
	if (k->family != AF_INET6) {
		uint32_t a, b;
		memcpy(&a, k->src, 4);
		memcpy(&b, k->dst, 4);
		return hash_u64((((uint64_t)a << 32) | b) ^ hash_u64(ports));
	}
	/* hash_bytes() mixes upwards only: finalise before masking. */
	return hash_u64(hash_bytes(k->dst, 16, hash_bytes(k->src, 16, ports)));
}

static struct ct_key orig_key(const struct ct_table *t,
			      const struct ct_entry *e)
{
	return (struct ct_key){ t, e->family, e->proto, e->osport, e->odport,
				e->osrc, e->odst };
}

static struct ct_key reply_key(const struct ct_table *t,
			       const struct ct_entry *e)
{
	return (struct ct_key){ t, e->family, e->proto, e->rsport, e->rdport,
				e->rsrc, e->rdst };
}

static uint64_t orig_hash_at(uint32_t i, const void *ud)
{
	const struct ct_table *t = ud;
	struct ct_key k = orig_key(t, &t->v[i]);
	return tuple_hash(&k);
}

static uint64_t reply_hash_at(uint32_t i, const void *ud)
{
	const struct ct_table *t = ud;
	struct ct_key k = reply_key(t, &t->v[i]);
	return tuple_hash(&k);
}

static bool orig_eq(uint32_t i, const void *key)
{
	const struct ct_key *k = key;
	const struct ct_entry *e = &k->t->v[i];
	return e->family == k->family && e->proto == k->proto &&
	       e->osport == k->sport && e->odport == k->dport &&
	       !memcmp(e->osrc, k->src, 16) && !memcmp(e->odst, k->dst, 16);
}

/* The reply index holds SNAT entries only: a passive socket's peer. */
static bool in_reply_index(const struct ct_entry *e)
{
	return e->nat & CT_NAT_SRC;
}

/* A slot left by an entry replaced since (another reply tuple, or no SNAT
 * any more) no longer matches: lookups pass it by. */
static bool reply_eq(uint32_t i, const void *key)
{
	const struct ct_key *k = key;
	const struct ct_entry *e = &k->t->v[i];
	return in_reply_index(e) && e->family == k->family &&
	       e->proto == k->proto && e->rsport == k->sport &&
	       e->rdport == k->dport && !memcmp(e->rsrc, k->src, 16) &&
	       !memcmp(e->rdst, k->dst, 16);
}

static uint32_t find_orig(const struct ct_table *t, const struct ct_key *k)
{
	return hindex_find(&t->orig, tuple_hash(k), orig_eq, k);
}

/* Entry i into the reply index unless its reply tuple is there. */
static int index_reply(struct ct_table *t, uint32_t i)
{
	const struct ct_entry *e = &t->v[i];
	if (!in_reply_index(e))
		return 0;
	struct ct_key k = reply_key(t, e);
	uint64_t h = tuple_hash(&k);
	if (hindex_find(&t->reply, h, reply_eq, &k) != HINDEX_NONE)
		return 0;
	if (hindex_reserve(&t->reply, t->reply_slots + 1, reply_hash_at, t) < 0)
		return -ENOMEM;
	hindex_add(&t->reply, h, i);
	t->reply_slots++;
	return 0;
}

/* Both indexes from the array (after a purge). */
static int reindex(struct ct_table *t)
{
	hindex_clear(&t->orig);
	hindex_clear(&t->reply);
	t->reply_slots = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		struct ct_key k = orig_key(t, &t->v[i]);
		uint64_t h = tuple_hash(&k);
		if (hindex_find(&t->orig, h, orig_eq, &k) == HINDEX_NONE)
			hindex_add(&t->orig, h, i);
		if (index_reply(t, i) < 0)
			return -ENOMEM;
	}
	return 0;
}

int ct_table_add(struct ct_table *t, const struct ct_entry *e)
{
	struct ct_key k = orig_key(t, e);
	uint64_t h = tuple_hash(&k);
	uint32_t at = find_orig(t, &k);
	if (at != HINDEX_NONE) {
		/* Seen again (an event after a dump, a tuple reused by a new
		 * connection): the latest wins. */
		struct ct_entry *old = &t->v[at];
		if (old->dead_gen && !e->dead_gen)
			t->dead--;
		t->snat_version += snat_differs(old, e);
		*old = *e;
		return index_reply(t, at);
	}
	if (t->n >= t->max) {
		t->stats.dropped++;
		return -ENOSPC;
	}
	if (hindex_reserve(&t->orig, t->n + 1, orig_hash_at, t) < 0)
		return -ENOMEM;
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 256;
		if (nc > t->max)
			nc = t->max;
		struct ct_entry *nv = realloc(t->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	t->v[t->n] = *e;
	t->snat_version += snat_source(e);
	hindex_add(&t->orig, h, (uint32_t)t->n);
	t->n++;
	return index_reply(t, (uint32_t)t->n - 1);
}

void ct_table_set_context(struct ct_table *t, uint64_t netns, uint32_t gen)
{
	t->ctx_netns = netns;
	t->ctx_gen = gen;
}

bool ct_table_kill(struct ct_table *t, const struct ct_entry *e, uint32_t gen)
{
	struct ct_key k = orig_key(t, e);
	uint32_t at = find_orig(t, &k);
	if (at == HINDEX_NONE)
		return false;
	if (!t->v[at].dead_gen) {
		t->v[at].dead_gen = gen ? gen : 1;
		t->dead++;
	}
	return true;
}

const struct ct_entry *ct_table_entries(const struct ct_table *t,
					size_t *ret_n)
{
	*ret_n = t->n;
	return t->v;
}

size_t ct_table_purge(struct ct_table *t,
		      bool (*drop)(const struct ct_entry *e, void *ud), void *ud)
{
	size_t w = 0;
	t->dead = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (drop(&t->v[i], ud)) {
			t->snat_version += snat_source(&t->v[i]);
			continue;
		}
		if (w != i)
			t->v[w] = t->v[i];
		t->dead += t->v[w].dead_gen != 0;
		w++;
	}
	size_t dropped = t->n - w;
	if (!dropped)
		return 0;
	t->n = w;
	/* Fewer entries than before: the reserved room suffices. */
	(void)reindex(t);
	return dropped;
}

const struct ct_entry *ct_table_find_orig(const struct ct_table *t,
					  uint8_t family, uint8_t proto,
					  const uint8_t *src, uint16_t sport,
					  const uint8_t *dst, uint16_t dport)
{
	struct ct_key k = { t, family, proto, sport, dport, src, dst };
	uint32_t at = find_orig(t, &k);
	return at == HINDEX_NONE ? NULL : &t->v[at];
}

const struct ct_entry *ct_table_find_reply(const struct ct_table *t,
					   uint8_t family, uint8_t proto,
					   const uint8_t *src, uint16_t sport,
					   const uint8_t *dst, uint16_t dport)
{
	/* Most tables have no SNAT entry: no probe at all. */
	if (!t->reply_slots)
		return NULL;
	struct ct_key k = { t, family, proto, sport, dport, src, dst };
	uint32_t at = hindex_find(&t->reply, tuple_hash(&k), reply_eq, &k);
	return at == HINDEX_NONE ? NULL : &t->v[at];
}

/* One message of a dump or of events into t: 0, or -ENOMEM. */
static int feed_msg(const struct nlmsghdr *nlh, void *ud)
{
	struct ct_table *t = ud;
	uint16_t msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    (msg != IPCTNL_MSG_CT_NEW && msg != IPCTNL_MSG_CT_DELETE))
		return 0;
	struct ct_entry e;
	bool del = msg == IPCTNL_MSG_CT_DELETE;
	t->stats.messages++;
	int r = ct_parse_message(mnl_nlmsg_get_payload(nlh),
				 mnl_nlmsg_get_payload_len(nlh), &e, !del);
	if (r < 0) {
		t->stats.malformed++;
	} else if (r == CT_PARSE_SKIP) {
		t->stats.skipped++;
	} else if (del) {
		(void)ct_table_kill(t, &e, t->ctx_gen);
	} else {
		e.netns = t->ctx_netns;
		if (ct_table_add(t, &e) == -ENOMEM)
			return -ENOMEM;
	}
	return 0;
}

int ct_table_feed(struct ct_table *t, const void *buf, size_t len)
{
	return ct_nlmsg_walk(buf, len, feed_msg, t);
}

/* ---- I/O -------------------------------------------------------------- */

int ct_socket_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* A dump of a large table comes in many 32 KiB batches: room for a
	 * few so the kernel never waits on us between recv()s. */
	int sz = 1 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* One dump request; status_mask 0: no filter. */
static int dump_send(int fd, uint32_t seq, uint32_t status,
		     uint32_t status_mask)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (status_mask) {
		mnl_attr_put_u32(nlh, CTA_STATUS, htonl(status));
		mnl_attr_put_u32(nlh, CTA_STATUS_MASK, htonl(status_mask));
	}
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	ssize_t n = sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
			   sizeof(sa));
	if (n < 0)
		return -errno;
	return n == (ssize_t)nlh->nlmsg_len ? 0 : -EIO;
}

int ct_events_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK,
			NETLINK_NETFILTER);
	if (fd < 0)
		return -errno;
	/* Room for bursts between two scans; FORCE works as root. */
	int sz = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	static const int groups[] = { NFNLGRP_CONNTRACK_NEW,
				      NFNLGRP_CONNTRACK_DESTROY };
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &groups[i], sizeof(groups[i])) < 0)
			goto fail;
	return fd;
fail:;
	int e = -errno;
	close(fd);
	return e;
}

int ct_events_read(struct ct_table *t, int fd)
{
	_cleanup_(freep) void *buf = malloc(CT_RECV_BUF);
	int n = 0;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t got = recv(fd, buf, CT_RECV_BUF, MSG_DONTWAIT);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return n;
			return -errno;
		}
		if (got == 0)
			return n;
		int r = ct_table_feed(t, buf, (size_t)got);
		if (r == -ENOMEM)
			return r;
		n++;
	}
}

int ct_count(int fd, uint32_t *ret_entries, uint32_t *ret_max)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_STATS;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	struct nfgenmsg *nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		return ct_parse_count(buf, (size_t)n, ret_entries, ret_max);
	}
}

static int dump_recv(struct ct_table *t, int fd, void *buf)
{
	for (;;) {
		ssize_t n = recv(fd, buf, CT_RECV_BUF, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		int r = ct_table_feed(t, buf, (size_t)n);
		if (r != 0)
			return r < 0 ? r : 0;
	}
}

static int dump_one(struct ct_table *t, int fd, uint32_t status,
		    uint32_t mask, void *buf)
{
	static uint32_t seq;
	if (!seq)
		seq = (uint32_t)time(NULL);
	int r = dump_send(fd, ++seq, status, mask);
	if (r < 0)
		return r;
	return dump_recv(t, fd, buf);
}

int ct_dump(struct ct_table *t, int fd, bool filter, unsigned kinds,
	    unsigned *ret_done, bool *ret_filtered)
{
	_cleanup_(freep) void *buf = malloc(CT_RECV_BUF);
	int r = 0;
	*ret_filtered = false;
	*ret_done = 0;
	if (!buf)
		return -ENOMEM;
	if (filter) {
		uint64_t skipped = t->stats.skipped;
		/* The kernel compares (status & mask) == status: one dump per
		 * kind, the second without the entries of the first. */
		if (kinds & CT_DUMP_DNAT) {
			r = dump_one(t, fd, IPS_DST_NAT, IPS_DST_NAT, buf);
			if (r == 0)
				*ret_done |= CT_DUMP_DNAT;
		}
		if (r == 0 && (kinds & CT_DUMP_SNAT)) {
			r = dump_one(t, fd, IPS_SRC_NAT,
				     IPS_SRC_NAT | IPS_DST_NAT, buf);
			if (r == 0)
				*ret_done |= CT_DUMP_SNAT;
		}
		if (r == 0) {
			/* A kernel ignoring the attributes sends the whole
			 * table: filtered here all the same. */
			*ret_filtered = t->stats.skipped == skipped;
			if (!*ret_filtered)
				*ret_done = CT_DUMP_ALL;
			return 0;
		}
		if (r != -EINVAL && r != -EOPNOTSUPP) {
			t->stats.dump_errors++;
			return r;
		}
		/* An older kernel refusing the filter: dump everything
		 * (entries kept so far are deduplicated). */
	}
	r = dump_one(t, fd, 0, 0, buf);
	if (r < 0)
		t->stats.dump_errors++;
	else
		*ret_done = CT_DUMP_ALL;
	return r;
}
