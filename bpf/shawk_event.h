/* SPDX-License-Identifier: MIT */
/*
 * The record the BPF programs (bpf/shawk.bpf.c) put in the ring buffer and
 * src/probe/ebpf_event.c decodes. Shared by both sides, so only fixed-width
 * __u8/__u16/__u32/__u64 fields, laid out without implicit padding.
 */
#ifndef SHAWK_BPF_SHAWK_EVENT_H
#define SHAWK_BPF_SHAWK_EVENT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

enum shawk_event_kind {
	SHAWK_EV_TCP_ACTIVE = 1,  /* connect()ed socket reached ESTABLISHED */
	SHAWK_EV_TCP_PASSIVE = 2, /* accepted socket reached ESTABLISHED */
	SHAWK_EV_UDP_ACTIVE = 3,  /* connect() or first sendto() to a peer */
	SHAWK_EV_UDP_PASSIVE = 4, /* first datagram received from a peer */
};

enum {
	/* tgid/comm/cgroup_id were taken in process context. */
	SHAWK_EVF_OWNER = 1u << 0,
	/* UDP per-peer event of an unconnected socket: the socket cookie
	 * alone does not identify the (socket, peer) pair. */
	SHAWK_EVF_PER_PEER = 1u << 1,
	/* Key of the in-kernel aggregate (see bpf/shawk.bpf.c): cookie 0 and
	 * the ephemeral port 0 (lport of an active connection, rport of a
	 * passive one); its value counts the connections. */
	SHAWK_EVF_AGGREGATE = 1u << 2,
};

/* Entries of one in-kernel aggregate map: distinct TCP flows (direction,
 * addresses, service port, owner) between two scans. Past it, connections
 * go to the ring buffer one event each. */
#define SHAWK_AGG_MAX_ENTRIES 16384

/*
 * With the conntrack stage on, only connections nothing can translate are
 * counted in the kernel (see bpf/shawk.bpf.c): an active one whose peer
 * (address, port) user space vouched for in plain_peers, a passive one
 * whose peer address is not in nat_sources. The key of both maps.
 */
struct shawk_peer_key {
	__u8 addr[16]; /* network byte order; IPv4 in the first 4 bytes */
	__u16 port;    /* host byte order; 0 in nat_sources */
	__u8 family;
	__u8 pad;      /* hashed too: always zeroed */
};

#define SHAWK_PLAIN_PEERS_MAX 16384
#define SHAWK_NAT_SOURCES_MAX 1024

/* Bumped whenever the layout changes; the decoder rejects others. */
#define SHAWK_EVENT_VERSION 1

struct shawk_event {
	__u8 version;
	__u8 kind;   /* enum shawk_event_kind */
	__u8 family; /* AF_INET or AF_INET6 */
	__u8 flags;  /* SHAWK_EVF_* */
	__u16 lport; /* host byte order */
	__u16 rport; /* host byte order */
	__u32 tgid;  /* 0 when the owner is unknown */
	__u32 pad;
	__u64 cookie;	 /* socket cookie */
	__u64 netns;	 /* netns inode number */
	__u64 cgroup_id; /* cgroup v2 id of the owner */
	__u8 laddr[16];	 /* network byte order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	char comm[16];
};

enum {
	/* Connected UDP socket not reported yet: cgroup/sock_release reports
	 * it with the local address the kernel chose after connect(). */
	SHAWK_OWNF_UDP_PENDING = 1u << 0,
};

/* Who owns a socket, as remembered in per-socket storage. */
struct shawk_owner {
	__u32 tgid;
	__u32 netns; /* netns inode of the owner when it was recorded */
	__u64 cgroup_id;
	char comm[16];
	__u32 flags; /* SHAWK_OWNF_* */
	__u32 pad;
};

#endif
