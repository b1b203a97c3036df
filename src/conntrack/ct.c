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
	/* Open addressing, entry index + 1 (0: empty slot), mask + 1 slots. */
	uint32_t *orig_idx;
	uint32_t *reply_idx;
	size_t mask;
	struct ct_table_stats stats;
	uint64_t ctx_netns;
	uint32_t ctx_gen;
	size_t dead;	 /* entries with a dead_gen */
	size_t nreply; /* entries in the reply index */
};

/* ---- the table -------------------------------------------------------- */

struct ct_table *ct_table_new(size_t max_entries)
{
	struct ct_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max = max_entries ? max_entries : CT_DEFAULT_MAX;
	return t;
}

void ct_table_free(struct ct_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->orig_idx);
	free(t->reply_idx);
	free(t);
}

size_t ct_table_dead(const struct ct_table *t)
{
	return t->dead;
}

void ct_table_clear(struct ct_table *t)
{
	t->n = 0;
	t->dead = 0;
	t->nreply = 0;
	t->stats.nat = 0;
	t->stats.dropped = 0;
	if (t->orig_idx) {
		memset(t->orig_idx, 0, (t->mask + 1) * sizeof(uint32_t));
		memset(t->reply_idx, 0, (t->mask + 1) * sizeof(uint32_t));
	}
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

static uint64_t tuple_hash(uint8_t family, uint8_t proto, const uint8_t *src,
			   uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	uint64_t ports = ((uint64_t)family << 40) | ((uint64_t)proto << 32) |
			 ((uint64_t)sport << 16) | dport;
	if (family != AF_INET6) {
		uint32_t a, b;
		memcpy(&a, src, 4);
		memcpy(&b, dst, 4);
		return hash_u64((((uint64_t)a << 32) | b) ^ hash_u64(ports));
	}
	/* hash_bytes() mixes upwards only: finalise before masking. */
	return hash_u64(hash_bytes(dst, 16, hash_bytes(src, 16, ports)));
}

static bool tuple_eq(const struct ct_entry *e, bool reply, uint8_t family,
		     uint8_t proto, const uint8_t *src, uint16_t sport,
		     const uint8_t *dst, uint16_t dport)
{
	if (e->family != family || e->proto != proto)
		return false;
	if (reply)
		return e->rsport == sport && e->rdport == dport &&
		       !memcmp(e->rsrc, src, 16) && !memcmp(e->rdst, dst, 16);
	return e->osport == sport && e->odport == dport &&
	       !memcmp(e->osrc, src, 16) && !memcmp(e->odst, dst, 16);
}

static uint32_t *slot_find(const struct ct_table *t, uint32_t *idx, bool reply,
			   uint8_t family, uint8_t proto, const uint8_t *src,
			   uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	size_t i = tuple_hash(family, proto, src, sport, dst, dport) & t->mask;
	for (;;) {
		if (!idx[i])
			return &idx[i];
		if (tuple_eq(&t->v[idx[i] - 1], reply, family, proto, src,
			     sport, dst, dport))
			return &idx[i];
		i = (i + 1) & t->mask;
	}
}

/* The reply index holds SNAT entries only: a passive socket's peer. */
static bool in_reply_index(const struct ct_entry *e)
{
	return e->nat & CT_NAT_SRC;
}

static void index_entry(struct ct_table *t, size_t i)
{
	const struct ct_entry *e = &t->v[i];
	uint32_t *s = slot_find(t, t->orig_idx, false, e->family, e->proto,
				e->osrc, e->osport, e->odst, e->odport);
	if (!*s)
		*s = (uint32_t)i + 1;
	if (!in_reply_index(e))
		return;
	s = slot_find(t, t->reply_idx, true, e->family, e->proto, e->rsrc,
		      e->rsport, e->rdst, e->rdport);
	if (!*s) {
		*s = (uint32_t)i + 1;
		t->nreply++;
	}
}

/* Keeps the indexes at most half full. */
static int index_grow(struct ct_table *t, size_t want)
{
	size_t slots = t->orig_idx ? t->mask + 1 : 0;
	if (want * 2 <= slots)
		return 0;
	size_t ns = slots ? slots : 1024;
	while (ns < want * 2)
		ns *= 2;
	uint32_t *o = calloc(ns, sizeof(*o));
	uint32_t *r = calloc(ns, sizeof(*r));
	if (!o || !r) {
		free(o);
		free(r);
		return -ENOMEM;
	}
	free(t->orig_idx);
	free(t->reply_idx);
	t->orig_idx = o;
	t->reply_idx = r;
	t->mask = ns - 1;
	t->nreply = 0;
	for (size_t i = 0; i < t->n; i++)
		index_entry(t, i);
	return 0;
}

int ct_table_add(struct ct_table *t, const struct ct_entry *e)
{
	if (t->n >= t->max) {
		t->stats.dropped++;
		return -ENOSPC;
	}
	if (index_grow(t, t->n + 1) < 0)
		return -ENOMEM;
	uint32_t *s = slot_find(t, t->orig_idx, false, e->family, e->proto,
				e->osrc, e->osport, e->odst, e->odport);
	if (*s) {
		/* Seen again (an event after a dump, a tuple reused by a new
		 * connection): the latest wins. An old reply slot of this
		 * entry no longer matches its tuple: lookups pass it by. */
		struct ct_entry *old = &t->v[*s - 1];
		if (old->dead_gen && !e->dead_gen)
			t->dead--;
		*old = *e;
		if (in_reply_index(e)) {
			uint32_t *rs = slot_find(t, t->reply_idx, true,
						 e->family, e->proto, e->rsrc,
						 e->rsport, e->rdst, e->rdport);
			if (!*rs) {
				*rs = *s;
				t->nreply++;
			}
		}
		return 0;
	}
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
	*s = (uint32_t)t->n + 1;
	if (in_reply_index(e)) {
		uint32_t *rs = slot_find(t, t->reply_idx, true, e->family,
					 e->proto, e->rsrc, e->rsport, e->rdst,
					 e->rdport);
		if (!*rs) {
			*rs = (uint32_t)t->n + 1;
			t->nreply++;
		}
	}
	t->n++;
	return 0;
}

void ct_table_set_context(struct ct_table *t, uint64_t netns, uint32_t gen)
{
	t->ctx_netns = netns;
	t->ctx_gen = gen;
}

bool ct_table_kill(struct ct_table *t, const struct ct_entry *e, uint32_t gen)
{
	if (!t->n)
		return false;
	uint32_t *s = slot_find(t, t->orig_idx, false, e->family, e->proto,
				e->osrc, e->osport, e->odst, e->odport);
	if (!*s)
		return false;
	if (!t->v[*s - 1].dead_gen) {
		t->v[*s - 1].dead_gen = gen ? gen : 1;
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
		if (drop(&t->v[i], ud))
			continue;
		if (w != i)
			t->v[w] = t->v[i];
		t->dead += t->v[w].dead_gen != 0;
		w++;
	}
	size_t dropped = t->n - w;
	if (!dropped)
		return 0;
	t->n = w;
	t->nreply = 0;
	if (t->orig_idx) {
		memset(t->orig_idx, 0, (t->mask + 1) * sizeof(uint32_t));
		memset(t->reply_idx, 0, (t->mask + 1) * sizeof(uint32_t));
		for (size_t i = 0; i < t->n; i++)
			index_entry(t, i);
	}
	return dropped;
}

const struct ct_entry *ct_table_find_orig(const struct ct_table *t,
					  uint8_t family, uint8_t proto,
					  const uint8_t *src, uint16_t sport,
					  const uint8_t *dst, uint16_t dport)
{
	if (!t->n)
		return NULL;
	uint32_t *s = slot_find(t, t->orig_idx, false, family, proto, src,
				sport, dst, dport);
	return *s ? &t->v[*s - 1] : NULL;
}

const struct ct_entry *ct_table_find_reply(const struct ct_table *t,
					   uint8_t family, uint8_t proto,
					   const uint8_t *src, uint16_t sport,
					   const uint8_t *dst, uint16_t dport)
{
	/* Most tables have no SNAT entry: no probe at all. */
	if (!t->nreply)
		return NULL;
	uint32_t *s = slot_find(t, t->reply_idx, true, family, proto, src,
				sport, dst, dport);
	return *s ? &t->v[*s - 1] : NULL;
}

int ct_table_feed(struct ct_table *t, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off = 0;

	/* Our own bounds, in size_t: mnl_nlmsg_ok() compares nlmsg_len as
	 * an int, so a length over 2 GiB would pass it. */
	while (len - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const void *)(p + off);
		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len - off)
			return -EBADMSG;
		if (nlh->nlmsg_type == NLMSG_DONE)
			return 1;
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
			if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
				return -EBADMSG;
			if (err->error == 0) /* an ack */
				return 1;
			return err->error < 0 && err->error > -4096
				       ? err->error
				       : -EBADMSG;
		}
		uint16_t msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) == NFNL_SUBSYS_CTNETLINK &&
		    (msg == IPCTNL_MSG_CT_NEW || msg == IPCTNL_MSG_CT_DELETE)) {
			struct ct_entry e;
			bool del = msg == IPCTNL_MSG_CT_DELETE;
			t->stats.messages++;
			int r = ct_parse_message(mnl_nlmsg_get_payload(nlh),
						 mnl_nlmsg_get_payload_len(nlh),
						 &e, !del);
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
		}
		size_t step = MNL_ALIGN(nlh->nlmsg_len);
		if (step >= len - off)
			return 0;
		off += step;
	}
	/* Bytes left that are no whole message: a broken header. */
	return off < len ? -EBADMSG : 0;
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

int ct_dump(struct ct_table *t, int fd, bool filter, bool *ret_filtered)
{
	_cleanup_(freep) void *buf = malloc(CT_RECV_BUF);
	int r;
	*ret_filtered = false;
	if (!buf)
		return -ENOMEM;
	if (filter) {
		uint64_t skipped = t->stats.skipped;
		/* The kernel compares (status & mask) == status: one dump per
		 * kind, the second without the entries of the first. */
		r = dump_one(t, fd, IPS_DST_NAT, IPS_DST_NAT, buf);
		if (r == 0)
			r = dump_one(t, fd, IPS_SRC_NAT,
				     IPS_SRC_NAT | IPS_DST_NAT, buf);
		if (r == 0) {
			/* A kernel ignoring the attributes sends the whole
			 * table: filtered here all the same. */
			*ret_filtered = t->stats.skipped == skipped;
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
	return r;
}
