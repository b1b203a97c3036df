// SPDX-License-Identifier: MIT
#include "probe/ebpf_event.h"

#include "core/addr.h"
#include "core/util.h"
#include "shawk_event.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

static int decode(const void *buf, size_t len, bool agg,
		  struct sock_record *ret)
{
	struct shawk_event e;
	struct sock_record rec;

	if (!buf || len < sizeof(e))
		return -EINVAL;
	memcpy(&e, buf, sizeof(e)); /* ring buffer data is only 8-aligned */
	if (e.version != SHAWK_EVENT_VERSION)
		return -EPROTO;
	if (e.family != AF_INET && e.family != AF_INET6)
		return -EINVAL;
	if (!!(e.flags & SHAWK_EVF_AGGREGATE) != agg)
		return -EINVAL;
	if (agg && e.kind != SHAWK_EV_TCP_ACTIVE &&
	    e.kind != SHAWK_EV_TCP_PASSIVE)
		return -EINVAL;

	memset(&rec, 0, sizeof(rec));
	switch (e.kind) {
	case SHAWK_EV_TCP_ACTIVE:
		rec.proto = IPPROTO_TCP;
		rec.dir = SOCK_DIR_ACTIVE;
		break;
	case SHAWK_EV_TCP_PASSIVE:
		rec.proto = IPPROTO_TCP;
		rec.dir = SOCK_DIR_PASSIVE;
		break;
	case SHAWK_EV_UDP_ACTIVE:
		rec.proto = IPPROTO_UDP;
		rec.dir = SOCK_DIR_ACTIVE;
		break;
	case SHAWK_EV_UDP_PASSIVE:
		rec.proto = IPPROTO_UDP;
		rec.dir = SOCK_DIR_PASSIVE;
		break;
	default:
		return -EINVAL;
	}
	/* A connection event without a peer cannot make a flow. An
	 * aggregate's ephemeral port is 0 (the other one is not). */
	if (agg ? (rec.dir == SOCK_DIR_ACTIVE ? e.rport : e.lport) == 0 ||
			  e.cookie
		: e.rport == 0)
		return -EINVAL;

	rec.state = TCP_ESTABLISHED;
	rec.lport = e.lport;
	rec.rport = e.rport;
	memcpy(rec.laddr, e.laddr, 16);
	memcpy(rec.raddr, e.raddr, 16);
	if (e.family == AF_INET) {
		/* Only the first 4 bytes are meaningful for IPv4. */
		memset(rec.laddr + 4, 0, 12);
		memset(rec.raddr + 4, 0, 12);
	}
	rec.family = e.family == AF_INET6
			     ? (uint8_t)addr_normalize_pair(rec.laddr, rec.raddr)
			     : e.family;
	rec.netns = e.netns;
	rec.cookie = e.cookie;
	if (e.flags & SHAWK_EVF_PER_PEER) {
		uint64_t h = hash_bytes(rec.raddr, 16, e.cookie);
		rec.cookie = hash_u64(h ^ rec.rport) | 1;
	}
	if (e.flags & SHAWK_EVF_OWNER) {
		rec.flags |= SOCK_REC_F_OWNER_KNOWN;
		rec.pid = e.tgid;
		rec.cgroup_id = e.cgroup_id;
		memcpy(rec.comm, e.comm, sizeof(rec.comm));
		rec.comm[sizeof(rec.comm) - 1] = '\0';
	}
	*ret = rec;
	return 0;
}

int ebpf_event_decode(const void *buf, size_t len, struct sock_record *ret)
{
	return decode(buf, len, false, ret);
}

int ebpf_agg_decode(const void *key, size_t len, uint64_t count,
		    struct sock_record *ret)
{
	if (count == 0)
		return -EINVAL;
	int r = decode(key, len, true, ret);
	if (r < 0)
		return r;
	ret->conns = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
	return 0;
}
