/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_H
#define SHAWK_PROBE_EBPF_H

#include "core/config.h"
#include "probe/procmap.h"
#include "probe/source.h"
#include "probe/stream.h"

#include <stddef.h>
#include <stdint.h>

struct ebpf_options {
	const char *run_netns_dir; /* passed to the seeding poller */
	enum poll_backend poll_backend; /* of the seeding poller */
	int64_t resync_ms;	   /* full poll period (0: on request only), see probe/stream.h */
	int64_t resync_phase_ms;   /* offset of the polls from the first scan */
	size_t ringbuf_bytes;	   /* 0: 16 MiB; rounded up to a power of 2 */
	/* Receives one line per degraded feature or system change (tracefs
	 * mounted, program switched off and why). May be NULL. */
	void (*note)(const char *msg, void *userdata);
	void *note_userdata;
	bool verbose;	   /* libbpf warnings and verifier logs to stderr */
	/* BPF programs to treat as refused (SHAWK_BPF_DENY, for tests), or
	 * NULL; borrowed for the source's life. */
	const char *deny;
	bool classic;	   /* sockops + classic tracepoint, not the BTF one */
	bool no_aggregate; /* every TCP connection as a ring buffer event */
	/* Only connections user space vouched for are counted in the kernel
	 * (source.h plain_peer/nat_sources: a conntrack stage needs the
	 * others' tuple); the rest come as events. */
	bool aggregate_plain_only;
	const char *no_aggregate_why; /* said in the log line; NULL: none */
};

struct ebpf_stats {
	struct stream_stats stream;
	uint64_t lost_since_last; /* events lost during the last scan */
	uint32_t programs;	  /* attached programs */
	bool aggregating;	  /* TCP connections counted in the kernel */
	uint64_t agg_full;	  /* ... passed as events: aggregate full */
	bool plain_only;	  /* ... only those of plain peers */
	uint64_t plain_peers;	  /* peers vouched for (map updates) */
	uint64_t nat_sources;	  /* addresses in the last NAT source set */
};

/*
 * The streaming source: BPF programs on the cgroup v2 root and the
 * inet_sock_set_state tracepoint (BTF-typed; sockops and the classic
 * tracepoint where the kernel refuses that), events drained from a ring
 * buffer at each scan, plus full polls through a poller on pm (seed and resync; pm must
 * outlive the source). Checks the kernel's features first and switches off
 * the optional programs it cannot run.
 *
 * Returns 0 and *ret (free with source_free()), or -errno with a one-line
 * reason in why (why_sz bytes) when streaming cannot start.
 */
int ebpf_source_new(struct procmap *pm, const struct ebpf_options *opt,
		    struct source **ret, char *why, size_t why_sz);

/* src must come from ebpf_source_new(). */
void ebpf_get_stats(const struct source *src, struct ebpf_stats *ret);

/*
 * Finds the cgroup v2 mount in a /proc/self/mountinfo text. Returns 0 and
 * writes the mount point (unescaped) and whether its root is the
 * hierarchy's root, or -ENOENT. Pure (exposed for tests).
 */
int ebpf_find_cgroup2(const char *mountinfo, char *ret_path, size_t path_sz,
		      bool *ret_is_root);

#endif
