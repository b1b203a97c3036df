/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_ITER_H
#define SHAWK_PROBE_EBPF_ITER_H

#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The BPF iterators of the polling fast path (bpf/iter.bpf.c). Loading them
 * is the feature probe; afterwards each scan creates fresh iterator fds
 * (an iterator fd is read once) and reads them with iterrec_read_*().
 *
 * Each program loads on its own: a light skeleton per program first, the
 * regular skeleton (one object, refused programs switched off) for those
 * whose light skeleton could not load because the kernel refuses its
 * loader program (below 5.17: no BPF_PROG_TYPE_SYSCALL loader with kfunc
 * and BTF lookups). A program the verifier refuses is off, with the reason.
 */
enum ebpf_iter_kind {
	EBPF_ITER_TCP,
	EBPF_ITER_UDP,
	EBPF_ITER_OWNERS, /* (tgid, socket inode) of every socket file */
	EBPF_ITER_FDSOCKS, /* every TCP/UDP socket held by an fd, any netns */
	EBPF_ITER_KINDS
};

enum ebpf_iter_via {
	EBPF_ITER_OFF,
	EBPF_ITER_LIGHT,   /* light skeleton */
	EBPF_ITER_REGULAR, /* regular skeleton */
};

struct ebpf_iter;

/*
 * Loads and attaches every program it can; tcp_states/udp_states are masks
 * of the TCP_* states to report; deny: programs to treat as refused
 * (bpflog_list_has(), "light-skeleton" for every light skeleton; NULL:
 * none). Returns 0 and *ret (free with ebpf_iter_free()) when at least one
 * program runs, else -errno with a one-line reason in why (why_sz bytes).
 */
int ebpf_iter_new(uint32_t tcp_states, uint32_t udp_states, const char *deny,
		  struct ebpf_iter **ret, char *why, size_t why_sz);
void ebpf_iter_free(struct ebpf_iter *it);
DEFINE_FREEP(struct ebpf_iter, ebpf_iter_free)

/* How program kind runs, and when off, why ("" when it runs). */
enum ebpf_iter_via ebpf_iter_via(const struct ebpf_iter *it,
				 enum ebpf_iter_kind kind);
const char *ebpf_iter_why_off(const struct ebpf_iter *it,
			      enum ebpf_iter_kind kind);
/* The BPF program's name ("shawk_iter_fd_sock") and what it is. */
const char *ebpf_iter_prog_name(enum ebpf_iter_kind kind);
const char *ebpf_iter_kind_name(enum ebpf_iter_kind kind);
static inline bool ebpf_iter_has(const struct ebpf_iter *it,
				 enum ebpf_iter_kind kind)
{
	return it && ebpf_iter_via(it, kind) != EBPF_ITER_OFF;
}

/*
 * Where libbpf's messages go: nowhere, or (verbose: SHAWK_BPF_VERBOSE)
 * its warnings to stderr; a refused program's verifier log comes back
 * through its log buffer either way. libbpf's print hook is process-wide,
 * so is this setting. For both loaders of the module (ebpf.c, ebpf_iter.c).
 */
void ebpf_iter_libbpf_print(bool verbose);

/*
 * Creates a new iterator fd (O_CLOEXEC) of the given kind. Socket iterators
 * see the netns of the calling thread only (the kernel binds them to it at
 * creation). Returns the fd, -ENOENT when that program is off, or -errno.
 * Thread-safe.
 */
int ebpf_iter_open(const struct ebpf_iter *it, enum ebpf_iter_kind kind);

#endif
