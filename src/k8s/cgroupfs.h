/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_CGROUPFS_H
#define SHAWK_K8S_CGROUPFS_H

#include "core/util.h"

#include <stddef.h>
#include <stdint.h>

/*
 * cgroup v2 id -> cgroup path. The id that INET_DIAG_CGROUP_ID and
 * bpf_get_current_cgroup_id() report is the kernfs node id of the cgroup
 * directory, which is also its file handle (name_to_handle_at). Paths are
 * relative to the cgroup2 root ("/kubepods.slice/..."), like the "0::" line
 * of /proc/<pid>/cgroup.
 */

/* Bound of a mountinfo read whole (a busy node's is well under 1 MiB). */
#define MOUNTINFO_MAX (4u << 20)

/*
 * Pure: finds the cgroup2 mount in mountinfo content. Prefers a mount at or
 * below prefer (e.g. "/sys/fs/cgroup"; NULL: no preference), then the first
 * one. Writes the mount point (octal escapes decoded) and the mount's root
 * within the hierarchy. Returns 0, -ENOENT when there is none,
 * -ENAMETOOLONG when a buffer is too small.
 */
int cgroupfs_parse_mountinfo(const char *buf, size_t len, const char *prefer,
			     char *ret_mount, size_t mount_sz, char *ret_root,
			     size_t root_sz);

struct cgroupfs;

/*
 * Finds the cgroup2 mount from <host_proc>/self/mountinfo (preferring one
 * under cgroup_root), falling back to cgroup_root or cgroup_root/unified
 * when either is a cgroup2 filesystem. max_entries bounds the cache
 * (0: 65536). Returns 0 and *ret (free with cgroupfs_free), -ENOENT when
 * there is no cgroup2 hierarchy, -ENOMEM or -errno.
 */
int cgroupfs_open(const char *host_proc, const char *cgroup_root,
		  size_t max_entries, struct cgroupfs **ret);
void cgroupfs_free(struct cgroupfs *c);
DEFINE_FREEP(struct cgroupfs, cgroupfs_free)

/* The mount point in use (for logs). */
const char *cgroupfs_mount(const struct cgroupfs *c);

/*
 * Looks id up: cache, then open_by_handle_at (needs CAP_DAC_READ_SEARCH),
 * then a walk of the hierarchy, at most once per min_walk_ms (now_ms is
 * monotonic). Returns 0 with *ret_path valid until the next call, or
 * -ENOENT.
 */
int cgroupfs_lookup(struct cgroupfs *c, uint64_t id, int64_t now_ms,
		    const char **ret_path);

/* Minimum time between two walks triggered by misses (default 2000). */
void cgroupfs_set_min_walk_ms(struct cgroupfs *c, int64_t ms);

/* Walks the whole hierarchy now, rebuilding the cache. Returns the number
 * of cgroups cached or -errno. */
int cgroupfs_rescan(struct cgroupfs *c);

#endif
