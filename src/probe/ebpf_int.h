/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_INT_H
#define SHAWK_PROBE_EBPF_INT_H

/*
 * The streaming source's insides, shared by ebpf.c (the source: scans,
 * the in-kernel aggregate, start-up) and ebpf_load.c (feature probes,
 * loading every program on its own terms, attaching).
 */
#include "probe/ebpf.h"
#include "shawk.skel.h"
#include "shawk_event.h"

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdio.h>

#define EBPF_DEFAULT_RINGBUF (16u << 20)
#define TRACEFS "/sys/kernel/tracing"

struct ebpf {
	struct source base;
	struct shawk_bpf *skel;
	struct ring_buffer *rb;
	struct source *poller;
	struct stream *st;
	int cgroup_fd;
	uint32_t programs;
	uint64_t lost_since_last;
	/* The callback of the scan in progress (ring_buffer has one ctx). */
	sock_record_fn fn;
	void *ud;
	int count;
	/* Records of the poll in progress, passed on after the events. */
	struct sock_record *polled;
	size_t npolled, cap_polled;
	/* In-kernel aggregate (see bpf/shawk.bpf.c): agg_on when this
	 * kernel and configuration use it; agg_fd the map installed in
	 * agg_outer[0], -1 when none (events only). */
	bool agg_on;
	int agg_fd;
	int ncpus;
	void *agg_keys, *agg_vals;
	uint64_t agg_full; /* kernel counter, last read */
	bool agg_warned; /* a failure of the aggregate was logged */
	/* Which connections the aggregate may count (ebpf_filter.c). */
	bool plain_only;
	struct shawk_peer_key *plain_cache; /* direct-mapped, PLAIN_CACHE */
	int64_t plain_since_ms; /* plain_peers last emptied */
	uint64_t plain_updates;
	struct net_addr *nat; /* the set in nat_sources */
	size_t nnat;
	struct ebpf_options opt; /* for note() */
	/* Programs off for this start (bpflog_list_has() list): those of
	 * SHAWK_BPF_DENY, then those the kernel refused. */
	char refused[512];
};

/* ebpf_filter.c: the source's plain_peer / nat_sources (source.h), and
 * the periodic forgetting of plain peers. setup: 0 or -ENOMEM. */
int ebpf_filter_setup(struct ebpf *e);
void ebpf_filter_scan(struct ebpf *e, int64_t now_ms);
void ebpf_filter_free(struct ebpf *e);

#define WHY(...) (snprintf(why, why_sz, __VA_ARGS__))

/* One line to opt->note, if any. */
void ebpf_note(const struct ebpf_options *opt, const char *fmt, ...)
	_printf_(2, 3);

/* The kernel lets programs of type t call helper f. */
bool ebpf_helper_ok(enum bpf_prog_type t, enum bpf_func_id f);

/*
 * Opens, loads and attaches the streaming programs into e->skel, the TCP
 * life cycle from the BTF-typed tracepoint (btf_tp) or sockops plus the
 * classic tracepoint; a program the kernel refuses is switched off (noted,
 * added to e->refused) and the object loaded again without it. cg: the
 * cgroup v2 root the cgroup programs attach to (e->cgroup_fd). Returns 0,
 * or -errno with a one-line reason in why; e->skel is then to destroy.
 */
int ebpf_load_degrading(struct ebpf *e, const struct ebpf_options *opt,
			const char *cg, bool btf_tp, char *why, size_t why_sz);

#endif
