/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_POLLER_H
#define SHAWK_PROBE_POLLER_H

#include "core/config.h"
#include "probe/procmap.h"
#include "probe/source.h"

#include <stdbool.h>

struct poller_stats {
	uint64_t scans;
	uint64_t netns;		  /* namespaces in the last scan */
	uint64_t sockets;	  /* records in the last scan */
	uint64_t procfs_fallbacks; /* netns read through /proc/<pid>/net */
	int enter_error;	  /* -errno of a refused setns, 0 if none */
	uint64_t iter_fallbacks;  /* netns read by sock_diag on the iter path */
	uint64_t skipped_empty;	  /* netns without sockets in the last scan */
	uint64_t skipped_unchanged; /* netns served from the previous scan */
	uint64_t fd_walk_netns;	  /* netns served by the fd walk */
};

/*
 * The polling source: every scan() reads TCP and UDP sockets (IPv4 and
 * IPv6) of every netns and attributes them to processes through pm, which
 * the caller owns and which must outlive the source. Returns NULL on OOM.
 *
 * opt->backend: POLL_BACKEND_BPF_ITER reads BPF iterators (sockets per netns,
 * socket owners host-wide in one read); POLL_BACKEND_SOCKDIAG dumps
 * sock_diag per netns (or /proc/<pid>/net/ when sock_diag is unavailable
 * there) and walks /proc/<pid>/fd for owners; AUTO tries the former and
 * falls back to the latter. See poller_backend() for the outcome.
 */
struct poller_options {
	const char *run_netns_dir; /* `ip netns` names, or NULL */
	size_t max_records;	   /* bound of one scan (0: default) */
	enum poll_backend backend;
	/* BPF programs to treat as refused (SHAWK_BPF_DENY, for tests), or
	 * NULL; borrowed for the source's life. */
	const char *bpf_deny;
	bool bpf_verbose; /* libbpf's warnings and verifier logs to stderr */
};

struct source *poller_new(struct procmap *pm, const struct poller_options *opt);

/*
 * The backend in use (POLL_BACKEND_BPF_ITER or POLL_BACKEND_SOCKDIAG) and,
 * when BPF iterators were wanted but could not load, why (else "").
 */
enum poll_backend poller_backend(const struct source *src,
				 const char **ret_why);

/*
 * Off by default. With max_reuse > 1, a netns whose socket counters did not
 * move since its last walk is not walked: its records of the previous scan
 * are reused, at most max_reuse - 1 scans in a row (see poller.c for what
 * can be missed meanwhile). poller_force_walk(): the next scan walks all.
 */
void poller_set_skip_unchanged(struct source *src, unsigned max_reuse);
void poller_force_walk(struct source *src);

void poller_get_stats(const struct source *src, struct poller_stats *ret);

#endif
