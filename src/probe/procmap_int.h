/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_PROCMAP_INT_H
#define SHAWK_PROBE_PROCMAP_INT_H

/*
 * The procmap's insides, shared by its two files: procmap.c (the process
 * table: listing /proc, each process's netns and details) and
 * procmap_owner.c (which process owns each socket inode: the owner cache,
 * the owner lookup, fd walks).
 */
#include "core/u64map.h"
#include "probe/procmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct procmap {
	int proc_fd;
	char *root;
	struct u64map pids;   /* pid -> struct proc_info * */
	struct u64map inodes;  /* inode -> (last seen gen << 32) | owner pid */
	/* inode -> searches that found none << 32 | gen of the last one */
	struct u64map unowned;
	size_t max_procs;
	uint32_t gen; /* of the last procmap_refresh() */
	struct procmap_stats stats;
	procmap_owner_lookup_fn owner_fn;
	void *owner_ud;
};

/* The tracked process pid, or NULL. */
static inline struct proc_info *procmap_lookup(const struct procmap *pm,
					       uint32_t pid)
{
	uint64_t *v = u64map_get(&pm->pids, pid);
	return v ? (struct proc_info *)(uintptr_t)*v : NULL;
}

/* A /proc entry name as a pid: false for anything else (and for 0). */
bool procmap_parse_pid(const char *name, uint32_t *ret);

/*
 * Starts tracking pid (not tracked yet), seen in this generation. Returns 0
 * with *ret (owned by pm), -ENOMEM, or -ENOSPC over the max_procs bound.
 */
int procmap_track(struct procmap *pm, uint32_t pid, struct proc_info **ret);

/* Reads the netns inode of pid. Returns 0 with *ret, or -errno. */
int procmap_read_netns(const struct procmap *pm, uint32_t pid,
		       uint64_t *ret);

#endif
