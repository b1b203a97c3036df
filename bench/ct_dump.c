// SPDX-License-Identifier: MIT
/*
 * ct_dump: the floor of a conntrack dump, for bench/services_scan.sh.
 *
 *   ct_dump KIND RUNS
 *
 * Dumps the conntrack table of the current netns over ctnetlink RUNS
 * times and prints, per run, "KIND ENTRIES BYTES MICROSECONDS". Nothing
 * is parsed beyond the netlink headers: what is left is the kernel's walk
 * of its host-wide hash and its fill of the entries sent. KIND:
 *   walk  a status filter no entry matches (dying and unconfirmed): the
 *         walk alone
 *   dnat  entries with IPS_DST_NAT (the stage's first dump)
 *   snat  entries with IPS_SRC_NAT and without IPS_DST_NAT (its second)
 *   all   no filter: every entry filled
 */
#include <arpa/inet.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000LL + t.tv_nsec / 1000;
}

static void put_u32(char *req, uint16_t type, uint32_t v)
{
	struct nlmsghdr *n = (struct nlmsghdr *)req;
	struct nlattr *a = (struct nlattr *)(req + n->nlmsg_len);
	a->nla_len = NLA_HDRLEN + 4;
	a->nla_type = type;
	v = htonl(v);
	memcpy((char *)a + NLA_HDRLEN, &v, 4);
	n->nlmsg_len += NLA_ALIGN(a->nla_len);
}

int main(int argc, char **argv)
{
	static char buf[64 * 1024];
	if (argc != 3) {
		fprintf(stderr, "usage: ct_dump walk|dnat|snat|all RUNS\n");
		return 2;
	}
	const char *kind = argv[1];
	uint32_t val = 0, mask = 0;
	if (!strcmp(kind, "walk"))
		val = IPS_DYING, mask = IPS_DYING | IPS_CONFIRMED;
	else if (!strcmp(kind, "dnat"))
		val = IPS_DST_NAT, mask = IPS_DST_NAT;
	else if (!strcmp(kind, "snat"))
		val = IPS_SRC_NAT, mask = IPS_SRC_NAT | IPS_DST_NAT;
	else if (strcmp(kind, "all")) {
		fprintf(stderr, "ct_dump: unknown kind %s\n", kind);
		return 2;
	}
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0) {
		perror("ct_dump: socket");
		return 1;
	}
	int sz = 1 << 20; /* as the stage's socket */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("ct_dump: bind");
		return 1;
	}
	for (int run = 0; run < atoi(argv[2]); run++) {
		char req[128] = { 0 };
		struct nlmsghdr *n = (struct nlmsghdr *)req;
		n->nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
		n->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
		n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		n->nlmsg_seq = (uint32_t)run + 1;
		if (mask) {
			put_u32(req, CTA_STATUS, val);
			put_u32(req, CTA_STATUS_MASK, mask);
		}
		long long t0 = now_us(), entries = 0, bytes = 0;
		if (send(fd, req, n->nlmsg_len, 0) < 0) {
			perror("ct_dump: send");
			return 1;
		}
		for (int done = 0; !done;) {
			ssize_t k = recv(fd, buf, sizeof(buf), 0);
			if (k <= 0) {
				perror("ct_dump: recv");
				return 1;
			}
			bytes += k;
			int left = (int)k;
			for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
			     NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
				if (h->nlmsg_type == NLMSG_ERROR) {
					struct nlmsgerr *e = NLMSG_DATA(h);
					fprintf(stderr, "ct_dump: error %d\n",
						e->error);
					return 1;
				}
				if (h->nlmsg_type == NLMSG_DONE) {
					done = 1;
					break;
				}
				entries++;
			}
		}
		printf("%s %lld %lld %lld\n", kind, entries, bytes,
		       now_us() - t0);
	}
	return 0;
}
