// SPDX-License-Identifier: MIT
/*
 * The ctnetlink parser (no I/O: buffers in, entries out), tested on dumps
 * recorded on a real kernel (tests/test_conntrack.c). ct.c holds the
 * table and the netlink sockets.
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

/* ---- parsing ---------------------------------------------------------- */

struct tuple {
	bool have_src, have_dst, have_proto, have_sport, have_dport;
	uint8_t family, proto;
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

static int ip_cb(const struct nlattr *a, void *data)
{
	struct tuple *t = data;
	uint16_t len = mnl_attr_get_payload_len(a);
	switch (mnl_attr_get_type(a)) {
	case CTA_IP_V4_SRC:
	case CTA_IP_V4_DST:
		if (len != 4 || (t->family && t->family != AF_INET))
			return MNL_CB_ERROR;
		t->family = AF_INET;
		break;
	case CTA_IP_V6_SRC:
	case CTA_IP_V6_DST:
		if (len != 16 || (t->family && t->family != AF_INET6))
			return MNL_CB_ERROR;
		t->family = AF_INET6;
		break;
	default:
		return MNL_CB_OK;
	}
	uint16_t type = mnl_attr_get_type(a);
	bool src = type == CTA_IP_V4_SRC || type == CTA_IP_V6_SRC;
	memcpy(src ? t->src : t->dst, mnl_attr_get_payload(a), len);
	if (src)
		t->have_src = true;
	else
		t->have_dst = true;
	return MNL_CB_OK;
}

static int proto_cb(const struct nlattr *a, void *data)
{
	struct tuple *t = data;
	uint16_t len = mnl_attr_get_payload_len(a);
	switch (mnl_attr_get_type(a)) {
	case CTA_PROTO_NUM:
		if (len != 1)
			return MNL_CB_ERROR;
		t->proto = mnl_attr_get_u8(a);
		t->have_proto = true;
		break;
	case CTA_PROTO_SRC_PORT:
		if (len != 2)
			return MNL_CB_ERROR;
		t->sport = ntohs(mnl_attr_get_u16(a));
		t->have_sport = true;
		break;
	case CTA_PROTO_DST_PORT:
		if (len != 2)
			return MNL_CB_ERROR;
		t->dport = ntohs(mnl_attr_get_u16(a));
		t->have_dport = true;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int tuple_cb(const struct nlattr *a, void *data)
{
	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_IP:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
		    mnl_attr_parse_nested(a, ip_cb, data) < 0)
			return MNL_CB_ERROR;
		break;
	case CTA_TUPLE_PROTO:
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
		    mnl_attr_parse_nested(a, proto_cb, data) < 0)
			return MNL_CB_ERROR;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

struct entry_ctx {
	struct tuple orig, reply;
	bool have_status;
	uint32_t status;
};

static int entry_cb(const struct nlattr *a, void *data)
{
	struct entry_ctx *c = data;
	switch (mnl_attr_get_type(a)) {
	case CTA_TUPLE_ORIG:
	case CTA_TUPLE_REPLY: {
		struct tuple *t = mnl_attr_get_type(a) == CTA_TUPLE_ORIG
					  ? &c->orig
					  : &c->reply;
		if (mnl_attr_validate(a, MNL_TYPE_NESTED) < 0 ||
		    mnl_attr_parse_nested(a, tuple_cb, t) < 0)
			return MNL_CB_ERROR;
		break;
	}
	case CTA_STATUS:
		if (mnl_attr_get_payload_len(a) != 4)
			return MNL_CB_ERROR;
		c->status = ntohl(mnl_attr_get_u32(a));
		c->have_status = true;
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static bool tuple_complete(const struct tuple *t)
{
	return t->have_src && t->have_dst && t->have_proto;
}

int ct_parse_message(const void *payload, size_t len, struct ct_entry *ret,
		     bool need_status)
{
	struct entry_ctx c;
	if (len < sizeof(struct nfgenmsg) || len > UINT16_MAX * 16u)
		return -EBADMSG;
	memset(&c, 0, sizeof(c));
	const uint8_t *p = payload;
	/* mnl_attr_parse_payload() stops (MNL_CB_OK) at a truncated tail:
	 * the attributes must fill the payload exactly. */
	size_t off = MNL_ALIGN(sizeof(struct nfgenmsg));
	if (off > len)
		return -EBADMSG;
	for (size_t o = off; o < len;) {
		const struct nlattr *a = (const void *)(p + o);
		if (len - o < sizeof(*a) || a->nla_len < sizeof(*a) ||
		    a->nla_len > len - o)
			return -EBADMSG;
		o += MNL_ALIGN(a->nla_len);
	}
	if (mnl_attr_parse_payload(p + off, len - off, entry_cb, &c) < 0)
		return -EBADMSG;
	if (!tuple_complete(&c.orig) || !tuple_complete(&c.reply) ||
	    (need_status && !c.have_status) ||
	    c.orig.family != c.reply.family || c.orig.proto != c.reply.proto)
		return -EBADMSG;
	if (!need_status && !c.have_status)
		c.status = IPS_DST_NAT; /* which entry is gone: by its tuple */

	uint8_t nat = ct_status_nat(c.status);
	/* IPVS (net.ipv4.vs.conntrack=1) rewrites the reply tuple without
	 * the status bits: a reply from elsewhere than the original
	 * destination is a destination NAT all the same. */
	if (need_status && c.orig.have_dport && c.reply.have_sport &&
	    (c.reply.sport != c.orig.dport ||
	     memcmp(c.reply.src, c.orig.dst, 16)))
		nat |= CT_NAT_DST;
	if (!nat ||
	    (c.orig.proto != IPPROTO_TCP && c.orig.proto != IPPROTO_UDP))
		return CT_PARSE_SKIP;
	if (!c.orig.have_sport || !c.orig.have_dport ||
	    !c.reply.have_sport || !c.reply.have_dport)
		return -EBADMSG;

	memset(ret, 0, sizeof(*ret));
	ret->family = c.orig.family;
	ret->proto = c.orig.proto;
	ret->nat = nat;
	ret->osport = c.orig.sport;
	ret->odport = c.orig.dport;
	ret->rsport = c.reply.sport;
	ret->rdport = c.reply.dport;
	memcpy(ret->osrc, c.orig.src, 16);
	memcpy(ret->odst, c.orig.dst, 16);
	memcpy(ret->rsrc, c.reply.src, 16);
	memcpy(ret->rdst, c.reply.dst, 16);
	return CT_PARSE_NAT;
}

uint8_t ct_status_nat(uint32_t status)
{
	return (status & IPS_DST_NAT ? CT_NAT_DST : 0) |
	       (status & IPS_SRC_NAT ? CT_NAT_SRC : 0);
}

bool ct_entry_classify(struct ct_entry *e, uint32_t status)
{
	e->nat = ct_status_nat(status);
	/* IPVS: see ct_parse_message(). */
	if (e->rsport != e->odport || memcmp(e->rsrc, e->odst, 16))
		e->nat |= CT_NAT_DST;
	return e->nat &&
	       (e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP);
}

int ct_parse_entry(const void *payload, size_t len, struct ct_entry *ret)
{
	return ct_parse_message(payload, len, ret, true);
}

struct stats_ctx {
	bool have_entries;
	uint32_t entries, max;
};

static int stats_cb(const struct nlattr *a, void *data)
{
	struct stats_ctx *c = data;
	uint16_t type = mnl_attr_get_type(a);
	if (type != CTA_STATS_GLOBAL_ENTRIES &&
	    type != CTA_STATS_GLOBAL_MAX_ENTRIES)
		return MNL_CB_OK;
	if (mnl_attr_get_payload_len(a) != 4)
		return MNL_CB_ERROR;
	uint32_t v = ntohl(mnl_attr_get_u32(a));
	if (type == CTA_STATS_GLOBAL_ENTRIES) {
		c->entries = v;
		c->have_entries = true;
	} else {
		c->max = v;
	}
	return MNL_CB_OK;
}

int ct_nlmsg_walk(const void *buf, size_t len,
		  int (*fn)(const struct nlmsghdr *nlh, void *ud), void *ud)
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
		int r = fn(nlh, ud);
		if (r)
			return r;
		size_t step = MNL_ALIGN(nlh->nlmsg_len);
		if (step >= len - off)
			return 0;
		off += step;
	}
	/* Bytes left that are no whole message: a broken header. */
	return off < len ? -EBADMSG : 0;
}

struct count_ctx {
	bool found;
	uint32_t entries, max;
};

/* The IPCTNL_MSG_CT_GET_STATS reply: 2 when read, -EBADMSG when bad. */
static int count_msg(const struct nlmsghdr *nlh, void *ud)
{
	struct count_ctx *cc = ud;
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != IPCTNL_MSG_CT_GET_STATS)
		return 0;
	struct stats_ctx c = { 0 };
	size_t pl = mnl_nlmsg_get_payload_len(nlh);
	size_t at = MNL_ALIGN(sizeof(struct nfgenmsg));
	if (pl < at)
		return -EBADMSG;
	const uint8_t *q = mnl_nlmsg_get_payload(nlh);
	for (size_t o = at; o < pl;) {
		const struct nlattr *a = (const void *)(q + o);
		if (pl - o < sizeof(*a) || a->nla_len < sizeof(*a) ||
		    a->nla_len > pl - o)
			return -EBADMSG;
		o += MNL_ALIGN(a->nla_len);
	}
	if (mnl_attr_parse_payload(q + at, pl - at, stats_cb, &c) < 0 ||
	    !c.have_entries)
		return -EBADMSG;
	cc->found = true;
	cc->entries = c.entries;
	cc->max = c.max;
	return 2;
}

int ct_parse_count(const void *buf, size_t len, uint32_t *ret_entries,
		   uint32_t *ret_max)
{
	struct count_ctx cc = { 0 };
	int r = ct_nlmsg_walk(buf, len, count_msg, &cc);
	if (r < 0)
		return r;
	/* The end, NLMSG_DONE or an ack before the reply: no reply. */
	if (!cc.found)
		return -EBADMSG;
	*ret_entries = cc.entries;
	*ret_max = cc.max;
	return 0;
}

