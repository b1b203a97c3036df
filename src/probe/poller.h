/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_POLLER_H
#define SHAWK_PROBE_POLLER_H

#include "probe/procmap.h"
#include "probe/source.h"

#include <stdbool.h>

struct poller_stats {
	uint64_t scans;
	uint64_t netns;		  /* namespaces in the last scan */
	uint64_t sockets;	  /* records in the last scan */
	uint64_t procfs_fallbacks; /* netns read through /proc/<pid>/net */
	int enter_error;	  /* -errno of a refused setns, 0 if none */
};

/*
 * The polling source: every scan() dumps TCP and UDP sockets (IPv4 and
 * IPv6) of every netns with sock_diag (or /proc/<pid>/net/ when sock_diag is
 * unavailable there) and attributes them to processes through pm, which the
 * caller owns and which must outlive the source. Returns NULL on OOM.
 * max_records bounds one scan (0: default).
 */
struct source *poller_new(struct procmap *pm, const char *run_netns_dir,
			  size_t max_records);

void poller_get_stats(const struct source *src, struct poller_stats *ret);

#endif
