/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef SHAWK_BPF_ITER_RECORD_H
#define SHAWK_BPF_ITER_RECORD_H

/*
 * Records written by bpf/iter.bpf.c with bpf_seq_write() and read from the
 * iterator fds by src/probe/iterrec.c. Fixed size, __u32/__u64 only, no
 * implicit padding. The magic field lets the reader detect misalignment.
 */
#define SHAWK_ITER_SOCK_MAGIC 0x53 /* 'S' */
#define SHAWK_ITER_OWNER_MAGIC 0x4f /* 'O' */
#define SHAWK_ITER_FDSOCK_MAGIC 0x46 /* 'F' */

struct shawk_iter_sock {
	__u64 cookie;	 /* socket cookie (same as sock_diag's) */
	__u64 inode;	 /* socket inode, 0 when no file */
	__u64 cgroup_id; /* cgroup v2 id, 0 when unknown */
	__u32 netns;	 /* netns inode number */
	__u32 uid;
	__u8 laddr[16];	 /* network order; IPv4 in the first 4 bytes */
	__u8 raddr[16];
	__u16 lport; /* host order */
	__u16 rport; /* host order */
	__u8 magic;  /* SHAWK_ITER_SOCK_MAGIC */
	__u8 proto;  /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family; /* AF_INET / AF_INET6 */
	__u8 state;  /* TCP_* */
};

struct shawk_iter_owner {
	__u64 inode; /* socket inode */
	__u32 tgid;  /* owning process (init pid namespace) */
	__u8 magic;  /* SHAWK_ITER_OWNER_MAGIC */
	__u8 pad[3];
};

/*
 * A socket seen through a file descriptor (iter/task_file, every netns in
 * one walk): the socket record (magic SHAWK_ITER_FDSOCK_MAGIC) and the
 * process holding that fd. The same socket comes once per fd holding it.
 * TCP: every state but CLOSE (i.e. hashed sockets, the ones the per-netns
 * "inuse" counters count); UDP: bound sockets (lport != 0).
 */
struct shawk_iter_fdsock {
	struct shawk_iter_sock s;
	__u32 tgid;  /* process holding the fd (init pid namespace) */
	__u32 flags; /* SHAWK_FDSOCK_F_* */
};

/*
 * The socket's file had more references than this fd and the walk's own
 * when the walk saw it: other fds (dup, fork, passed) may hold the same
 * socket, so the reader must deduplicate it. Without the flag, it was held
 * by this fd only at that moment (a dup racing the walk can still show a
 * socket twice; the reader's per-netns count check catches that).
 */
#define SHAWK_FDSOCK_F_SHARED 1u

#endif
