/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_ITER_H
#define SHAWK_PROBE_EBPF_ITER_H

#include <stddef.h>
#include <stdint.h>

/*
 * The BPF iterators of the polling fast path (bpf/iter.bpf.c). Loading them
 * is the feature probe; afterwards each scan creates fresh iterator fds
 * (an iterator fd is read once) and reads them with iterrec_read_*().
 */
enum ebpf_iter_kind {
	EBPF_ITER_TCP,
	EBPF_ITER_UDP,
	EBPF_ITER_OWNERS, /* (tgid, socket inode) of every socket file */
	EBPF_ITER_FDSOCKS, /* every TCP/UDP socket held by an fd, any netns */
};

struct ebpf_iter;

/*
 * Loads and attaches the iterators; tcp_states/udp_states are masks of the
 * TCP_* states to report. Returns 0 and *ret (free with ebpf_iter_free()),
 * or -errno with a one-line reason in why (why_sz bytes).
 */
int ebpf_iter_new(uint32_t tcp_states, uint32_t udp_states,
		  struct ebpf_iter **ret, char *why, size_t why_sz);
void ebpf_iter_free(struct ebpf_iter *it);

/*
 * Creates a new iterator fd (O_CLOEXEC) of the given kind. Socket iterators
 * see the netns of the calling thread only (the kernel binds them to it at
 * creation). Returns the fd or -errno. Thread-safe.
 */
int ebpf_iter_open(const struct ebpf_iter *it, enum ebpf_iter_kind kind);

#endif
