// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shawk polling fast path: BPF iterators (a separate object from the
 * streaming programs, so either works without the other).
 *
 *  - iter/tcp, iter/udp: one fixed-size record per socket in a state polling
 *    reports. The kernel binds an iterator to the netns of the task that
 *    creates its fd (bpf_iter_init_seq_net), so user space creates one per
 *    netns; the walk itself is the same hash walk as a sock_diag dump.
 *  - iter/task_file: (tgid, socket inode) for every socket file of the host,
 *    in one read, instead of readlink() on every /proc/<pid>/fd entry. The
 *    kernel already skips threads sharing their leader's file table.
 *
 * TIME_WAIT and NEW_SYN_RECV (request) sockets are mini sockets without
 * sk_socket: the state mask excludes them before anything else is read.
 *
 * Each program is also built alone (-DSHAWK_ITER_ONLY=<n>, one light
 * skeleton per program, see the Makefile), so that the kernel refusing one
 * costs only that one; the whole object is the regular skeleton's, where
 * user space switches a refused program off with set_autoload(false).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "iter_record.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define TCP_CLOSE 7

/* Which programs this build holds: all, or the one SHAWK_ITER_ONLY names. */
#define SHAWK_ITER_TCP 1
#define SHAWK_ITER_UDP 2
#define SHAWK_ITER_OWNERS 3
#define SHAWK_ITER_FDSOCK 4
#ifdef SHAWK_ITER_ONLY
#define WANT(p) (SHAWK_ITER_ONLY == SHAWK_ITER_##p)
#else
#define WANT(p) 1
#endif

char LICENSE[] SEC("license") = "Dual MIT/GPL";

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Bit n set: report sockets in TCP state n. Set by user space. */
const volatile __u32 tcp_states = 0;
const volatile __u32 udp_states = 0;

#if WANT(TCP) || WANT(UDP) || WANT(FDSOCK)
/*
 * Fills *r from sk (the caller zeroed it and set r->uid); false for a
 * family we do not report. so: sk's socket when the caller has it already
 * (one cache line less than sk->sk_socket), NULL to read it. trusted: sk
 * came from the iterator's context; a socket reached through
 * file->private_data is an untrusted pointer to verifiers since ~6.x,
 * which refuse helpers on it (bpf_get_socket_cookie(): "R1
 * type=untrusted_ptr_"), so its cookie is read from the field instead:
 * the same value once anything asked for it (sock_diag, any iterator or
 * program calling the helper), and 0 for a socket nobody asked yet, which
 * user space then identifies by its inode (core/flow.c conn_id()). Plain
 * loads through such a pointer are fine on every kernel that has
 * bpf_sock_from_file() (5.11+).
 */
static __always_inline bool fill_sock(struct shawk_iter_sock *r,
				      struct sock *ctx_sk, struct socket *so,
				      __u8 proto, __u8 state, bool trusted)
{
	/* Fields are read through a read-only alias: on a trusted pointer
	 * the verifier checks each pointer load by looking up "__safe_*"
	 * BTF types by name, linear searches of the kernel's BTF (6.18
	 * verified iter/udp in 17 ms that way, 1.5 ms like this; loading
	 * through the light skeleton's loader took 50-70 ms). */
	struct sock *sk = bpf_rdonly_cast(ctx_sk,
					  bpf_core_type_id_kernel(struct sock));
	struct sock_common *skc = &sk->__sk_common;
	struct cgroup *cg;
	struct net *net;

	r->magic = SHAWK_ITER_SOCK_MAGIC;
	r->proto = proto;
	r->state = state;
	r->family = (__u8)skc->skc_family;
	r->lport = skc->skc_num;
	r->rport = bpf_ntohs(skc->skc_dport);
	if (r->family == AF_INET) {
		__u32 l = skc->skc_rcv_saddr, d = skc->skc_daddr;
		__builtin_memcpy(r->laddr, &l, 4);
		__builtin_memcpy(r->raddr, &d, 4);
	} else if (r->family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->laddr, skc, skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&r->raddr, skc, skc_v6_daddr);
	} else {
		return false;
	}
	net = skc->skc_net.net;
	if (net)
		r->netns = net->ns.inum;
	if (!so)
		so = sk->sk_socket;
	if (so) {
		/* sock_i_ino(): the inode sits next to the socket in one
		 * allocation (struct socket_alloc), one cache miss instead of
		 * three through file->f_inode. */
		struct socket_alloc *sa = bpf_rdonly_cast(
			so, bpf_core_type_id_kernel(struct socket_alloc));
		r->inode = sa->vfs_inode.i_ino;
	}
	cg = sk->sk_cgrp_data.cgroup;
	if (cg && cg->kn)
		r->cgroup_id = cg->kn->id;
	if (trusted)
		r->cookie = bpf_get_socket_cookie(ctx_sk);
	else
		r->cookie = (__u64)skc->skc_cookie.counter;
	return true;
}
#endif

#if WANT(TCP) || WANT(UDP)
static __always_inline void emit_sock(struct seq_file *seq, struct sock *sk,
				      __u8 proto, __u8 state, __u32 uid)
{
	struct shawk_iter_sock r = {};

	r.uid = uid;
	if (fill_sock(&r, sk, NULL, proto, state, true))
		bpf_seq_write(seq, &r, sizeof(r));
}
#endif

#if WANT(TCP)
SEC("iter/tcp")
int shawk_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	__u8 state;

	if (!skc)
		return 0;
	state = skc->skc_state;
	if (state >= 32 || !(tcp_states & (1u << state)))
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	emit_sock(ctx->meta->seq, &tp->inet_conn.icsk_inet.sk, IPPROTO_TCP,
		  state, ctx->uid);
	return 0;
}
#endif

#if WANT(UDP)
SEC("iter/udp")
int shawk_iter_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *us = ctx->udp_sk;
	struct sock *sk;
	__u8 state;

	if (!us)
		return 0;
	sk = &us->inet.sk;
	state = sk->__sk_common.skc_state;
	if (state >= 32 || !(udp_states & (1u << state)))
		return 0;
	emit_sock(ctx->meta->seq, sk, IPPROTO_UDP, state, ctx->uid);
	return 0;
}
#endif

#if WANT(OWNERS)
SEC("iter/task_file")
int shawk_iter_task_file(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct shawk_iter_owner o = {};
	struct inode *ino;

	if (!task || !file)
		return 0;
	ino = file->f_inode;
	if (!ino || (ino->i_mode & S_IFMT) != S_IFSOCK)
		return 0;
	o.inode = ino->i_ino;
	o.tgid = task->tgid;
	o.magic = SHAWK_ITER_OWNER_MAGIC;
	bpf_seq_write(ctx->meta->seq, &o, sizeof(o));
	return 0;
}
#endif

#if WANT(FDSOCK)
/* Before 6.13, struct file counted its references in f_count. */
struct file___f_count {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/*
 * More references to file than the fd being visited and the iterator's own
 * (file_ref_t: refcnt is the count minus one; f_count: the count).
 */
static __always_inline bool file_shared(struct file *file)
{
	if (bpf_core_field_exists(file->f_ref))
		return file->f_ref.refcnt.counter != 1;
	struct file___f_count *old = (void *)file;
	return old->f_count.counter != 2;
}

/*
 * Every TCP/UDP socket held by a file descriptor, of every netns, with the
 * process holding it: one walk of the fd tables instead of one walk of the
 * host-wide socket hash per netns plus an owner join. Sockets without an fd
 * (not yet accepted, orphaned, kernel-owned) are not seen: user space
 * compares what it got per netns with the kernel's per-netns "inuse"
 * counters and walks a netns with iter/tcp + iter/udp when they differ.
 * Every hashed socket is written (TCP: all states but CLOSE; UDP: bound),
 * whatever the state masks, so that the counts compare; user space filters.
 */
SEC("iter/task_file")
int shawk_iter_fd_sock(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct shawk_iter_fdsock f = {};
	struct socket *so;
	struct sock *sk;
	__u16 type, protocol;
	__u8 state, proto;

	if (!task || !file)
		return 0;
	so = bpf_sock_from_file(file);
	if (!so)
		return 0;
	sk = so->sk;
	if (!sk)
		return 0;
	type = sk->sk_type;
	protocol = sk->sk_protocol;
	state = sk->__sk_common.skc_state;
	if (protocol == IPPROTO_TCP && type == SOCK_STREAM) {
		if (state == TCP_CLOSE)
			return 0; /* not hashed: no iterator shows it */
		proto = IPPROTO_TCP;
	} else if (protocol == IPPROTO_UDP && type == SOCK_DGRAM) {
		if (!sk->__sk_common.skc_num)
			return 0; /* not bound, not hashed */
		proto = IPPROTO_UDP;
	} else {
		return 0;
	}
	/* sk_uid: the socket inode's owner, kept in sk's line that holds
	 * sk_protocol and sk_type (read above) since sock_init_data(). */
	f.s.uid = sk->sk_uid.val;
	if (!fill_sock(&f.s, sk, so, proto, state, false))
		return 0;
	f.s.magic = SHAWK_ITER_FDSOCK_MAGIC;
	f.tgid = task->tgid;
	if (file_shared(file))
		f.flags = SHAWK_FDSOCK_F_SHARED;
	bpf_seq_write(ctx->meta->seq, &f, sizeof(f));
	return 0;
}
#endif
