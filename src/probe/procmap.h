/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_PROCMAP_H
#define SHAWK_PROBE_PROCMAP_H

#include "probe/source.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Processes of the host (from $SHAWK_HOST_PROC) and the socket inodes they
 * own. Kept between scans: a steady-state scan reads no fd link at all; only
 * sockets not seen before make it walk /proc/<pid>/fd, and then only of
 * processes in the netns of those sockets, busiest first, stopping as soon as
 * every new socket has an owner.
 * probe/procmap.c keeps the process table (refresh, foreach, get);
 * probe/procmap_owner.c finds socket owners (resolve, the owner lookup).
 */
struct proc_info {
	uint32_t pid;
	uint32_t ppid;
	uint32_t pgid;
	uint64_t starttime;
	uint64_t netns; /* 0 when not readable */
	char comm[16];
	char *cgroup;  /* cgroup v2 path, NULL when unknown */
	char *cmdline; /* NUL-free, bounded; NULL when unknown */
	uint32_t seen_gen;
	uint32_t hot_gen; /* last scan in which it owned a new socket */
	bool details_loaded;
	bool details_ok;
};

struct procmap_stats {
	uint64_t fd_links_read;
	uint64_t fd_dirs_walked;
	uint64_t walks;
	uint64_t ns_denied; /* processes whose netns link we may not read */
	uint64_t fd_denied; /* processes whose fd table we may not read */
	uint32_t denied_example; /* one such pid, for the log */
	uint64_t unowned; /* sockets with an inode but no owner found */
	uint64_t owner_lookups; /* owner searches done by the lookup fn */
	uint64_t owner_lookup_errors; /* ... that failed (fd walk instead) */
	uint64_t newborn_walked; /* processes born during a scan, walked */
};

struct procmap;

/*
 * host_proc: procfs root (e.g. "/proc"). max_procs / max_sockets bound the
 * caches (0 = defaults). Returns 0 with *ret (procmap_free() it), -ENOMEM,
 * or -errno when host_proc cannot be opened.
 */
int procmap_new(const char *host_proc, size_t max_procs, size_t max_sockets,
		struct procmap **ret);
void procmap_free(struct procmap *pm);
void procmap_freep(struct procmap **pm);

/*
 * Lists the processes and reads each one's netns. Processes that vanished
 * are dropped. Returns the number of processes or -errno.
 */
int procmap_refresh(struct procmap *pm);

/* Calls fn for each known process. */
void procmap_foreach(struct procmap *pm,
		     void (*fn)(const struct proc_info *p, void *ud),
		     void *ud);

/*
 * Fills rec->pid for each record that has an inode and no pid yet, using
 * the cache and walking fd tables only for unknown inodes. Forgets inodes
 * absent from recs (closed sockets). Returns the number of records that
 * have an owner afterwards, or -errno.
 */
int procmap_resolve(struct procmap *pm, struct sock_record *recs, size_t n);

/*
 * An alternative to walking /proc/<pid>/fd: fn calls emit(tgid, inode, ctx)
 * for every socket file of the host (e.g. from a BPF task_file iterator) and
 * returns >= 0, or -errno (procmap then walks fd tables as before).
 */
typedef int (*procmap_owner_emit_fn)(uint32_t tgid, uint64_t inode,
				     void *ctx);
typedef int (*procmap_owner_lookup_fn)(void *ud, procmap_owner_emit_fn emit,
				       void *ctx);

/* Installs (fn != NULL) or removes the owner lookup used by resolve. */
void procmap_set_owner_lookup(struct procmap *pm, procmap_owner_lookup_fn fn,
			      void *ud);

/*
 * Returns the process with its details (pgid, comm, cgroup, cmdline) loaded
 * on first use; NULL when the pid is unknown or gone. The pointer is valid
 * until the next procmap_refresh().
 */
const struct proc_info *procmap_get(struct procmap *pm, uint32_t pid);

void procmap_get_stats(const struct procmap *pm, struct procmap_stats *ret);
const char *procmap_root(const struct procmap *pm);

#endif
