// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shawk streaming probes. One event per connection, attributed in process
 * context (see DESIGN.md §5):
 *
 *  - cgroup/connect4|6 runs in the connecting task: it records its
 *    tgid/comm/cgroup in `conn_owners`, a bounded LRU hash keyed by socket
 *    cookie, only until the connection is reported. No state lives with a
 *    socket for its whole life (no socket storage).
 *  - SYN_SENT -> ESTABLISHED (shawk_tcp_state, a BTF-typed raw tracepoint
 *    on inet_sock_set_state; sockops ACTIVE_ESTABLISHED where the kernel
 *    refuses it) emits the TCP event with that owner and deletes the
 *    entry; the kernel's socket cookie is the same one sock_diag reports,
 *    so the seeding poll and the stream deduplicate.
 *  - tracepoint sock/inet_sock_set_state CLOSE->LISTEN runs in the task
 *    calling listen(): it records the owner per (netns, port) in
 *    `listeners`; SYN_RECV -> ESTABLISHED (or sockops PASSIVE_ESTABLISHED;
 *    softirq, never `current`) takes the accepted socket's owner from
 *    there. Listeners older than the
 *    agent are attributed in user space from the polled listener owner.
 *    SYN_SENT->CLOSE (a connect that never established) deletes the
 *    connect's entry; LRU eviction bounds whatever else is left.
 *  - UDP: cgroup/connect4|6, sendmsg4|6 and recvmsg4|6 (process context);
 *    one event per (socket, peer), deduplicated in the kernel by an LRU map
 *    so a datagram stream costs one map lookup per packet.
 *
 * Events go to a ring buffer with BPF_RB_NO_WAKEUP: user space drains it on
 * its scan timer, as a wakeup per event costs 30-57% of the connection rate.
 * A failed reservation is counted in lost_events, never silent.
 *
 * Established TCP connections are counted in the kernel instead, when user
 * space has installed an aggregate map (agg_outer[0]): the event, with its
 * cookie and ephemeral port zeroed, is the key of a per-CPU counter, so a
 * connection costs a hash lookup and an add instead of a ring buffer record
 * that user space decodes and tracks. User space swaps in a new map at each
 * scan and reads the old one (the map update waits for running programs),
 * and removes it for the duration of each full poll, so that every
 * connection the poll can see is either counted before it (by an aggregate
 * already read) or reported by an event with its cookie (see
 * src/probe/ebpf.c). When there is no map, or it is full, the event goes to
 * the ring buffer as before.
 *
 * With user space's conntrack stage on (agg_all 0), only connections it
 * needs no tuple of are counted: an active one to a peer it vouched for
 * (plain_peers: no NAT rewrites it), a passive one from an address that
 * is not a NAT source (nat_sources). A connection through a Service comes
 * as an event with its client port, which finds its backend in conntrack.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "shawk_event.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7
#define TCP_LISTEN 10

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Config, set by user space before load. */
const volatile bool udp_enabled = true;
/* Set by user space once cgroup/sock_release is attached: it then reports
 * connected UDP sockets at close. Not rodata, as attaching follows loading. */
__u32 udp_release_attached = 0;

/* Events lost because the ring buffer was full. */
__u64 lost_events = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20); /* resized by user space */
} events SEC(".maps");

/* The in-kernel aggregate: event with SHAWK_EVF_AGGREGATE -> connections
 * (per CPU). Created, swapped and read by user space. */
struct agg_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, SHAWK_AGG_MAX_ENTRIES);
	__uint(key_size, sizeof(struct shawk_event));
	__uint(value_size, sizeof(__u64));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct agg_map);
} agg_outer SEC(".maps");

/* Connections passed to the ring buffer because the aggregate was full. */
__u64 agg_full = 0;

/* 1: every TCP connection may be counted in the aggregate. 0 (user space,
 * when its conntrack stage needs the tuple of connections through a NAT):
 * only those of plain peers, below. */
__u32 agg_all = 1;
/* Set by user space once nat_sources holds what it knows: until then no
 * passive connection is counted without its tuple (agg_all 0). */
__u32 nat_known = 0;

/* Peers (address, port) of active connections that user space found
 * untouched by NAT (no DNAT entry for a connection to them): the
 * connections to one of them are counted without their tuple. Anything
 * else (a Service's address, a peer not seen yet) comes as an event.
 * An LRU: a peer evicted comes as events again until vouched for again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SHAWK_PLAIN_PEERS_MAX);
	__type(key, struct shawk_peer_key);
	__type(value, __u8);
} plain_peers SEC(".maps");

/* Addresses that source-NAT connections take (a node's addresses, the
 * reply destination of SNAT entries): a passive connection from one of
 * them comes as an event, so its original client can be found. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, SHAWK_NAT_SOURCES_MAX);
	__type(key, struct shawk_peer_key);
	__type(value, __u8);
} nat_sources SEC(".maps");

/* Active connections not reported yet: socket cookie -> owner, filled
 * at connect() and deleted when the event is emitted (or the connect
 * fails). An LRU, so entries of sockets that never get there (connect
 * failing before SYN_SENT, a pending UDP socket living long) are bounded. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct shawk_owner);
} conn_owners SEC(".maps");

/* Active TCP connections established without a recorded owner (evicted,
 * or connected before the agent): user space attributes them by poll. */
__u64 owner_misses = 0;

struct listener_key {
	__u32 netns;
	__u16 port; /* host byte order */
	__u16 pad;
};

struct listener_val {
	__u64 sk; /* the listening socket, so only its close removes it */
	struct shawk_owner owner;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct listener_key);
	__type(value, struct listener_val);
} listeners SEC(".maps");

struct udp_peer_key {
	__u64 cookie;
	__u32 addr[4];
	__u32 port; /* network byte order */
	__u32 pad;  /* hashed too: always zeroed */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536); /* resized by user space */
	__type(key, struct udp_peer_key);
	__type(value, __u8);
} udp_peers SEC(".maps");

/*
 * Context and bpf_sock fields must be loaded at constant offsets from the
 * original pointer ("pointer arithmetic on sock prohibited"); clang likes to
 * compute &p->arr once and index it, so the four loads are spelled in asm.
 * These are UAPI structures: their offsets are stable without CO-RE.
 */
#define LD32(p, off)                                                           \
	({                                                                     \
		__u32 __v;                                                     \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                          \
			     : "=r"(__v)                                       \
			     : "r"(p), "i"(off));                              \
		__v;                                                           \
	})
#define COPY6(dst, p, type, field)                                             \
	do {                                                                   \
		((__u32 *)(dst))[0] = LD32(p, __builtin_offsetof(type, field));      \
		((__u32 *)(dst))[1] = LD32(p, __builtin_offsetof(type, field) + 4);  \
		((__u32 *)(dst))[2] = LD32(p, __builtin_offsetof(type, field) + 8);  \
		((__u32 *)(dst))[3] = LD32(p, __builtin_offsetof(type, field) + 12); \
	} while (0)

static __always_inline __u32 current_netns(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

static __always_inline void owner_fill(struct shawk_owner *o)
{
	o->tgid = bpf_get_current_pid_tgid() >> 32;
	o->netns = current_netns();
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* The owner's netns is only used by UDP events: a TCP event takes the
 * socket's own (three dependent reads saved per connect). */
static __always_inline void remember_owner(__u64 cookie, __u32 flags,
					   bool need_netns)
{
	struct shawk_owner o = {};
	o.tgid = bpf_get_current_pid_tgid() >> 32;
	if (need_netns)
		o.netns = current_netns();
	o.cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o.comm, sizeof(o.comm));
	o.flags = flags;
	bpf_map_update_elem(&conn_owners, &cookie, &o, BPF_ANY);
}

static __always_inline struct shawk_event *event_reserve(void)
{
	struct shawk_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&lost_events, 1);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->version = SHAWK_EVENT_VERSION;
	return e;
}

static __always_inline void event_set_owner(struct shawk_event *e,
					    const struct shawk_owner *o)
{
	e->tgid = o->tgid;
	e->cgroup_id = o->cgroup_id;
	__builtin_memcpy(e->comm, o->comm, sizeof(e->comm));
	e->flags |= SHAWK_EVF_OWNER;
}

static __always_inline void event_submit(struct shawk_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* Counts a TCP connection event in the aggregate agg; false when agg is
 * full (e is then as it came, for the ring buffer). */
static __always_inline bool aggregate(void *agg, struct shawk_event *e)
{
	__u64 cookie = e->cookie;
	__u16 lport = e->lport, rport = e->rport;
	__u8 flags = e->flags;

	e->cookie = 0;
	e->flags |= SHAWK_EVF_AGGREGATE;
	if (e->kind == SHAWK_EV_TCP_ACTIVE)
		e->lport = 0;
	else
		e->rport = 0;
	__u64 *n = bpf_map_lookup_elem(agg, e);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return true;
	}
	__u64 one = 1;
	if (bpf_map_update_elem(agg, e, &one, BPF_NOEXIST) == 0)
		return true;
	/* Inserted meanwhile on this CPU (a nested program), or full. */
	n = bpf_map_lookup_elem(agg, e);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return true;
	}
	__sync_fetch_and_add(&agg_full, 1);
	e->cookie = cookie;
	e->flags = flags;
	e->lport = lport;
	e->rport = rport;
	return false;
}

/* The owner of an established TCP connection, never current (softirq):
 * an active one's from conn_owners (recorded at connect(), forgotten here),
 * a passive one's from the listener of its netns and port. */
static __always_inline void tcp_event_owner(struct shawk_event *e)
{
	if (e->kind == SHAWK_EV_TCP_ACTIVE) {
		struct shawk_owner *o = bpf_map_lookup_elem(&conn_owners, &e->cookie);
		if (o) {
			event_set_owner(e, o);
			bpf_map_delete_elem(&conn_owners, &e->cookie);
		} else {
			__sync_fetch_and_add(&owner_misses, 1);
		}
	} else {
		struct listener_key k;
		__builtin_memset(&k, 0, sizeof(k));
		k.netns = e->netns;
		k.port = e->lport;
		struct listener_val *v = bpf_map_lookup_elem(&listeners, &k);
		if (v)
			event_set_owner(e, &v->owner);
	}
}

/* ---- ownership ----------------------------------------------------- */

/* A TCP socket entering LISTEN (in the task calling listen(): current is
 * its owner) or leaving it: the listener's owner per (netns, port), which
 * accepted connections are attributed to. Only the socket that registered
 * a port removes it. port: host byte order. */
static __always_inline void listener_track(const struct sock *sk, __u16 port,
					   bool listening)
{
	struct listener_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	k.port = port;
	if (listening) {
		struct listener_val v = { .sk = (__u64)sk };
		owner_fill(&v.owner);
		bpf_map_update_elem(&listeners, &k, &v, BPF_ANY);
		return;
	}
	struct listener_val *v = bpf_map_lookup_elem(&listeners, &k);
	if (v && v->sk == (__u64)sk)
		bpf_map_delete_elem(&listeners, &k);
}

SEC("tracepoint/sock/inet_sock_set_state")
int shawk_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	const struct sock *sk = ctx->skaddr;
	if (ctx->oldstate == TCP_SYN_SENT && ctx->newstate == TCP_CLOSE) {
		/* A connect that never established: forget its owner. The
		 * cookie was set by bpf_get_socket_cookie() at connect(). */
		__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
		if (cookie)
			bpf_map_delete_elem(&conn_owners, &cookie);
		return 0;
	}
	if (ctx->newstate != TCP_LISTEN && ctx->oldstate != TCP_LISTEN)
		return 0;

	listener_track(sk, ctx->sport, ctx->newstate == TCP_LISTEN);
	return 0;
}

/* ---- TCP ------------------------------------------------------------- */

/*
 * The UDP event of a sock_addr hook (connect, sendmsg, recvmsg): the
 * current task as owner, the local address from the socket, the peer from
 * ctx. kind, flags and is6 are constants of each inlined caller: v4
 * programs may not touch the IPv6 context fields, and only sendmsg4 may
 * read msg_src_ip4 (the IP_PKTINFO source), compiled into it alone.
 */
static __always_inline void submit_udp_event(struct bpf_sock_addr *ctx,
					     struct bpf_sock *sk, __u8 kind,
					     __u8 flags, __u64 cookie,
					     bool is6)
{
	struct shawk_event *e = event_reserve();
	if (!e)
		return;
	struct shawk_owner o = {};
	owner_fill(&o);
	event_set_owner(e, &o);
	e->kind = kind;
	e->flags |= flags;
	e->family = is6 ? AF_INET6 : AF_INET;
	e->netns = o.netns;
	e->cookie = cookie;
	e->lport = sk->src_port;
	e->rport = bpf_ntohs(ctx->user_port);
	if (!is6) {
		__u32 src = sk->src_ip4;
		if (kind == SHAWK_EV_UDP_ACTIVE && flags && !src)
			src = ctx->msg_src_ip4;
		*(__u32 *)e->laddr = src;
		*(__u32 *)e->raddr = ctx->user_ip4;
	} else {
		COPY6(e->laddr, sk, struct bpf_sock, src_ip6);
		COPY6(e->raddr, ctx, struct bpf_sock_addr, user_ip6);
	}
	event_submit(e);
}

/* is6 is a constant: v4 programs may not touch the IPv6 context fields. */
static __always_inline int on_connect(struct bpf_sock_addr *ctx, bool is6)
{
	struct bpf_sock *sk = ctx->sk;
	__u64 cookie = bpf_get_socket_cookie(ctx);

	if (sk->protocol == IPPROTO_TCP) {
		remember_owner(cookie, 0, false);
		return 1;
	}
	if (!udp_enabled || sk->protocol != IPPROTO_UDP)
		return 1;
	/* An unbound socket gets its local address only after this hook:
	 * report it at release, when the address is known (a long-lived
	 * one is seen by the periodic poll meanwhile). */
	bool unbound;
	if (is6) {
		__u32 a[4];
		COPY6(a, sk, struct bpf_sock, src_ip6);
		unbound = !(a[0] | a[1] | a[2] | a[3]);
	} else {
		unbound = !sk->src_ip4;
	}
	if (unbound && udp_release_attached) {
		remember_owner(cookie, SHAWK_OWNF_UDP_PENDING, true);
		return 1;
	}

	submit_udp_event(ctx, sk, SHAWK_EV_UDP_ACTIVE, 0, cookie, is6);
	return 1;
}

SEC("cgroup/connect4")
int shawk_connect4(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, false);
}

SEC("cgroup/connect6")
int shawk_connect6(struct bpf_sock_addr *ctx)
{
	return on_connect(ctx, true);
}

SEC("sockops")
int shawk_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return 1;

	/* Softirq for both callbacks in general: never use current here. */
	struct shawk_event *e = event_reserve();
	if (!e)
		return 1;
	e->kind = op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB ?
			  SHAWK_EV_TCP_ACTIVE :
			  SHAWK_EV_TCP_PASSIVE;
	e->family = skops->family;
	e->cookie = bpf_get_socket_cookie(skops);
	e->lport = skops->local_port;
	/* remote_port holds the __be16 in the upper half on little endian. */
	e->rport = bpf_ntohl(skops->remote_port);
	if (skops->family == AF_INET) {
		*(__u32 *)e->laddr = skops->local_ip4;
		*(__u32 *)e->raddr = skops->remote_ip4;
	} else {
		COPY6(e->laddr, skops, struct bpf_sock_ops, local_ip6);
		COPY6(e->raddr, skops, struct bpf_sock_ops, remote_ip6);
	}
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		e->netns = BPF_CORE_READ(tp, inet_conn.icsk_inet.sk.__sk_common
						      .skc_net.net,
					 ns.inum);

	tcp_event_owner(e);
	event_submit(e);
	return 1;
}

/*
 * The same TCP life cycle from one program: the inet_sock_set_state
 * tracepoint as a BTF-typed raw tracepoint. It replaces both sockops and the
 * classic tracepoint when the kernel can run it (user space falls back to
 * those otherwise): sockops on the cgroup root runs for every callback of
 * every TCP socket (~9 per connection here, 2 of them useful) and the
 * classic tracepoint builds a perf record for each of ~7 state changes per
 * connection before the program runs; here the ~7 calls receive the socket
 * pointer directly and all but the 2-3 useful ones return at the first test.
 *
 *  - SYN_SENT -> ESTABLISHED: an active connection (same moment as
 *    sockops ACTIVE_ESTABLISHED), owner from conn_owners;
 *  - SYN_RECV -> ESTABLISHED: a passive one (PASSIVE_ESTABLISHED), owner
 *    from listeners. Softirq for both: never current.
 *  - LISTEN entered / left, SYN_SENT -> CLOSE: as shawk_set_state.
 */
/* Whether e may be counted without its tuple (see agg_all). */
static __always_inline bool countable(const struct shawk_event *e)
{
	if (agg_all)
		return true;
	struct shawk_peer_key k;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.addr, e->raddr, sizeof(k.addr));
	k.family = e->family;
	if (e->kind == SHAWK_EV_TCP_ACTIVE) {
		k.port = e->rport;
		return bpf_map_lookup_elem(&plain_peers, &k) != NULL;
	}
	return nat_known && bpf_map_lookup_elem(&nat_sources, &k) == NULL;
}

static __always_inline void tcp_established(const struct sock *sk, bool active)
{
	struct shawk_event e;
	__builtin_memset(&e, 0, sizeof(e));
	e.version = SHAWK_EVENT_VERSION;
	e.kind = active ? SHAWK_EV_TCP_ACTIVE : SHAWK_EV_TCP_PASSIVE;
	e.family = sk->__sk_common.skc_family;
	/* The kernel's cookie: the one connect() saw and sock_diag reports. */
	e.cookie = bpf_get_socket_cookie((void *)sk);
	e.lport = sk->__sk_common.skc_num;
	e.rport = bpf_ntohs(sk->__sk_common.skc_dport);
	if (e.family == AF_INET) {
		*(__u32 *)e.laddr = sk->__sk_common.skc_rcv_saddr;
		*(__u32 *)e.raddr = sk->__sk_common.skc_daddr;
	} else {
		/* Sized explicitly: BPF_CORE_READ_INTO copies sizeof(*dst),
		 * one byte for an array. */
		bpf_core_read(e.laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e.raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	e.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);

	tcp_event_owner(&e);
	__u32 zero = 0;
	void *agg = bpf_map_lookup_elem(&agg_outer, &zero);
	if (agg && countable(&e) && aggregate(agg, &e))
		return;
	if (bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_NO_WAKEUP) < 0)
		__sync_fetch_and_add(&lost_events, 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(shawk_tcp_state, const struct sock *sk, int oldstate, int newstate)
{
	/* Most calls: the states first, the socket only when they matter. */
	if (newstate == TCP_ESTABLISHED) {
		if (oldstate != TCP_SYN_SENT && oldstate != TCP_SYN_RECV)
			return 0;
	} else if (newstate != TCP_LISTEN && oldstate != TCP_LISTEN &&
		   !(oldstate == TCP_SYN_SENT && newstate == TCP_CLOSE)) {
		return 0;
	}
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_ESTABLISHED) {
		tcp_established(sk, oldstate == TCP_SYN_SENT);
		return 0;
	}
	if (oldstate == TCP_SYN_SENT) {
		/* A connect that never established: forget its owner. */
		__u64 cookie = sk->__sk_common.skc_cookie.counter;
		if (cookie)
			bpf_map_delete_elem(&conn_owners, &cookie);
		return 0;
	}
	listener_track(sk, sk->__sk_common.skc_num, newstate == TCP_LISTEN);
	return 0;
}

/* ---- UDP ------------------------------------------------------------- */

SEC("cgroup/sock_release")
int shawk_sock_release(struct bpf_sock *sk)
{
	if (sk->protocol != IPPROTO_UDP)
		return 1;
	__u64 cookie = bpf_get_socket_cookie(sk);
	struct shawk_owner *so = bpf_map_lookup_elem(&conn_owners, &cookie);
	if (!so)
		return 1;
	/* Copied: the entry is deleted before the event is written. */
	struct shawk_owner o = *so;
	bpf_map_delete_elem(&conn_owners, &cookie);
	if (!(o.flags & SHAWK_OWNF_UDP_PENDING))
		return 1;
	/* dst_port 0: the connect() failed or was undone. */
	__u16 dport = bpf_ntohs((__u16)sk->dst_port);
	if (!dport)
		return 1;

	struct shawk_event *e = event_reserve();
	if (!e)
		return 1;
	event_set_owner(e, &o);
	e->kind = SHAWK_EV_UDP_ACTIVE;
	e->family = sk->family;
	e->netns = o.netns;
	e->cookie = cookie;
	e->rport = dport;
	/*
	 * The local address is what we came for, but cgroup/sock_release may
	 * not read src_* from its context. The context of cgroup/sock programs
	 * is the kernel's struct sock itself, so read it through CO-RE (root
	 * may pass a pointer to probe_read).
	 */
	const struct sock *ks = (const struct sock *)sk;
	e->lport = BPF_CORE_READ(ks, __sk_common.skc_num);
	if (e->family == AF_INET) {
		*(__u32 *)e->laddr = BPF_CORE_READ(ks, __sk_common.skc_rcv_saddr);
		*(__u32 *)e->raddr = sk->dst_ip4;
	} else {
		/* Sized explicitly: BPF_CORE_READ_INTO copies sizeof(*dst),
		 * one byte of this array. */
		bpf_core_read(e->laddr, 16, &ks->__sk_common.skc_v6_rcv_saddr);
		COPY6(e->raddr, sk, struct bpf_sock, dst_ip6);
	}
	event_submit(e);
	return 1;
}

/*
 * The first datagram between a socket and a peer decides the direction:
 * sent first = active (a client), received first = passive (a server).
 */
static __always_inline int udp_peer(struct bpf_sock_addr *ctx, __u8 kind,
				    bool is6)
{
	struct bpf_sock *sk = ctx->sk;
	if (!udp_enabled || sk->protocol != IPPROTO_UDP)
		return 1;
	/* Connected sockets are reported once, see on_connect(). */
	if (sk->dst_port)
		return 1;

	struct udp_peer_key k;
	/* Padding left to the compiler would be stack garbage in the hash. */
	__builtin_memset(&k, 0, sizeof(k));
	k.cookie = bpf_get_socket_cookie(ctx);
	k.port = ctx->user_port;
	if (!is6)
		k.addr[0] = ctx->user_ip4;
	else
		COPY6(k.addr, ctx, struct bpf_sock_addr, user_ip6);
	if (bpf_map_lookup_elem(&udp_peers, &k))
		return 1;
	__u8 one = 1;
	bpf_map_update_elem(&udp_peers, &k, &one, BPF_ANY);

	submit_udp_event(ctx, sk, kind, SHAWK_EVF_PER_PEER, k.cookie, is6);
	return 1;
}

SEC("cgroup/sendmsg4")
int shawk_sendmsg4(struct bpf_sock_addr *ctx)
{
	return udp_peer(ctx, SHAWK_EV_UDP_ACTIVE, false);
}

SEC("cgroup/sendmsg6")
int shawk_sendmsg6(struct bpf_sock_addr *ctx)
{
	return udp_peer(ctx, SHAWK_EV_UDP_ACTIVE, true);
}

SEC("cgroup/recvmsg4")
int shawk_recvmsg4(struct bpf_sock_addr *ctx)
{
	return udp_peer(ctx, SHAWK_EV_UDP_PASSIVE, false);
}

SEC("cgroup/recvmsg6")
int shawk_recvmsg6(struct bpf_sock_addr *ctx)
{
	return udp_peer(ctx, SHAWK_EV_UDP_PASSIVE, true);
}
