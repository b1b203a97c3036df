// SPDX-License-Identifier: MIT
#include "probe/sockdiag.h"

#include "core/addr.h"
#include "core/util.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

struct diag_request {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};

/* The pre-sock_diag TCPDIAG_GETSOCK request: the kernel answers it with
 * sdiag_family AF_UNSPEC, i.e. IPv4 and IPv6 sockets in one dump. */
struct diag_request_compat {
	struct nlmsghdr nlh;
	struct inet_diag_req req;
};

/*
 * family AF_UNSPEC with IPPROTO_TCP builds the legacy request for both
 * families at once. Every TCP dump walks the whole established hash of the
 * host (shared by all netns unless net.ipv4.tcp_child_ehash_entries is set)
 * and skips the sockets of other netns one by one, so per netns one walk
 * instead of two halves the cost of a scan.
 */
int sockdiag_build_request(void *buf, size_t bufsz, int family, int proto,
			   uint32_t states, uint32_t seq)
{
	if (family == AF_UNSPEC && proto == IPPROTO_TCP) {
		struct diag_request_compat c;

		if (bufsz < sizeof(c))
			return -ENOBUFS;
		memset(&c, 0, sizeof(c));
		c.nlh.nlmsg_len = sizeof(c);
		c.nlh.nlmsg_type = TCPDIAG_GETSOCK;
		c.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		c.nlh.nlmsg_seq = seq;
		c.req.idiag_states = states;
		memcpy(buf, &c, sizeof(c));
		return (int)sizeof(c);
	}

	struct diag_request r;

	if (bufsz < sizeof(r))
		return -ENOBUFS;
	memset(&r, 0, sizeof(r));
	r.nlh.nlmsg_len = sizeof(r);
	r.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	r.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.nlh.nlmsg_seq = seq;
	r.req.sdiag_family = (uint8_t)family;
	r.req.sdiag_protocol = (uint8_t)proto;
	r.req.idiag_states = states;
	/* No idiag_ext bits: INET_DIAG_CGROUP_ID comes without asking and
	 * the optional extensions (tcp_info, meminfo) only cost time here. */
	memcpy(buf, &r, sizeof(r));
	return (int)sizeof(r);
}

static int parse_one(const struct nlmsghdr *nlh, int proto, uint64_t netns,
		     sock_record_fn fn, void *userdata)
{
	size_t plen = nlh->nlmsg_len - NLMSG_HDRLEN;
	const struct inet_diag_msg *m;
	struct sock_record rec;

	if (plen < sizeof(*m))
		return -EBADMSG;
	m = NLMSG_DATA(nlh);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -EBADMSG;

	memset(&rec, 0, sizeof(rec));
	rec.proto = (uint8_t)proto;
	rec.state = m->idiag_state;
	rec.lport = ntohs(m->id.idiag_sport);
	rec.rport = ntohs(m->id.idiag_dport);
	memcpy(rec.laddr, m->id.idiag_src, 16);
	memcpy(rec.raddr, m->id.idiag_dst, 16);
	if (m->idiag_family == AF_INET) {
		/* Only the first word is defined for IPv4. */
		memset(rec.laddr + 4, 0, 12);
		memset(rec.raddr + 4, 0, 12);
		rec.family = AF_INET;
	} else {
		rec.family = (uint8_t)addr_normalize_pair(rec.laddr,
							 rec.raddr);
	}
	rec.uid = m->idiag_uid;
	rec.inode = m->idiag_inode;
	rec.netns = netns;
	rec.cookie = ((uint64_t)m->id.idiag_cookie[1] << 32) |
		     m->id.idiag_cookie[0];

	size_t alen = plen - NLMSG_ALIGN(sizeof(*m));
	if (plen < NLMSG_ALIGN(sizeof(*m)))
		alen = 0;
	const struct rtattr *rta =
		(const struct rtattr *)((const char *)m +
					NLMSG_ALIGN(sizeof(*m)));
	unsigned int left = (unsigned int)alen;
	for (; left > 0; rta = RTA_NEXT(rta, left)) {
		if (!RTA_OK(rta, left))
			return -EBADMSG;
		if (rta->rta_type == INET_DIAG_CGROUP_ID) {
			if (RTA_PAYLOAD(rta) < sizeof(uint64_t))
				return -EBADMSG;
			memcpy(&rec.cgroup_id, RTA_DATA(rta),
			       sizeof(uint64_t));
		}
		if (RTA_ALIGN(rta->rta_len) >= left)
			break;
	}
	return fn(&rec, userdata);
}

int sockdiag_parse(const void *buf, size_t len, uint32_t seq, int proto,
		   uint64_t netns, sock_record_fn fn, void *userdata)
{
	const struct nlmsghdr *nlh = buf;
	unsigned int left = (unsigned int)len;

	if (len > UINT32_MAX)
		return -EBADMSG;
	if (len == 0)
		return -EBADMSG;
	for (; left > 0; nlh = NLMSG_NEXT(nlh, left)) {
		if (!NLMSG_OK(nlh, left))
			return -EBADMSG;
		if (nlh->nlmsg_seq != seq) {
			/* Stale reply from an aborted earlier dump. */
		} else if (nlh->nlmsg_type == NLMSG_DONE) {
			/* A dump that fails after it started (no inet_diag
			 * handler for the protocol: -ENOENT) ends with DONE
			 * carrying the negated errno (netlink(7)). */
			int err = 0;
			if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(err)))
				memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
			return err < 0 ? err : 1;
		} else if (nlh->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(nlh);
			if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			return e->error < 0 ? e->error : -EPROTO;
		} else if (nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY ||
			   nlh->nlmsg_type == TCPDIAG_GETSOCK) {
			/* Replies carry the request's type; the legacy one
			 * has the same struct inet_diag_msg payload. */
			int r = parse_one(nlh, proto, netns, fn, userdata);
			if (r < 0)
				return r;
		}
		if (NLMSG_ALIGN(nlh->nlmsg_len) >= left)
			break;
	}
	return 0;
}

int sockdiag_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	/* A large receive buffer lets the kernel fill bigger dump skbs. */
	int sz = 1 << 20;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	return fd;
}

struct count_ctx {
	sock_record_fn fn;
	void *userdata;
	int count;
	int err;
};

static int count_cb(const struct sock_record *rec, void *ud)
{
	struct count_ctx *c = ud;
	if (c->err)
		return 0;
	int r = c->fn(rec, c->userdata);
	if (r < 0) {
		/* Keep draining so the socket holds no stale reply. */
		c->err = r;
		return 0;
	}
	c->count++;
	return 0;
}

#define SOCKDIAG_RCVBUF (64 * 1024)

/* Runs one request; records go through c (counted there). */
static int dump_request(int fd, int family, int proto, uint32_t states,
			uint64_t netns, struct count_ctx *c)
{
	static uint32_t seq_counter;
	uint32_t seq = ++seq_counter;
	char req[sizeof(struct diag_request) > sizeof(struct diag_request_compat)
			 ? sizeof(struct diag_request)
			 : sizeof(struct diag_request_compat)];
	struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
	int len = sockdiag_build_request(req, sizeof(req), family, proto,
					 states, seq);
	if (len < 0)
		return len;
	if (sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&nladdr,
		   sizeof(nladdr)) < 0)
		return -errno;

	_cleanup_(freep) char *buf = malloc(SOCKDIAG_RCVBUF);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, SOCKDIAG_RCVBUF, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EBADMSG;
		int r = sockdiag_parse(buf, (size_t)n, seq, proto, netns,
				       count_cb, c);
		if (r < 0)
			return r;
		if (r == 1)
			return 0;
	}
}

/* Set once a kernel refused TCPDIAG_GETSOCK: do not ask it again. */
static bool compat_refused;

int sockdiag_dump(int fd, int family, int proto, uint32_t states,
		  uint64_t netns, sock_record_fn fn, void *userdata)
{
	struct count_ctx c = { .fn = fn, .userdata = userdata };
	int r;

	if (family != AF_UNSPEC) {
		r = dump_request(fd, family, proto, states, netns, &c);
		if (r < 0)
			return r;
		return c.err ? c.err : c.count;
	}

	/* Both families: one legacy TCP dump when the kernel has it. */
	if (proto == IPPROTO_TCP && !compat_refused) {
		r = dump_request(fd, AF_UNSPEC, proto, states, netns, &c);
		if (r == 0)
			return c.err ? c.err : c.count;
		if (r == -ENOMEM || c.count || c.err)
			return c.err ? c.err : r;
		/* Refused before any record: no legacy interface
		 * (-EOPNOTSUPP, -EINVAL), or no TCP diag at all, which the
		 * per-family requests below report again. */
		if (r == -EOPNOTSUPP || r == -EINVAL)
			compat_refused = true;
	}
	r = dump_request(fd, AF_INET, proto, states, netns, &c);
	if (r < 0)
		return c.err ? c.err : r;
	r = dump_request(fd, AF_INET6, proto, states, netns, &c);
	if (r < 0 && r != -EAFNOSUPPORT) /* IPv6 disabled in this netns */
		return c.err ? c.err : r;
	return c.err ? c.err : c.count;
}
