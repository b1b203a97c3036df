/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_POLLER_INT_H
#define SHAWK_PROBE_POLLER_INT_H

/*
 * The polling source's insides, shared by its three files: poller.c (the
 * source, the sock_diag walk, one scan), poller_plan.c (skipping netns
 * whose counters did not move) and poller_iter.c (the BPF iterator
 * backend: per-netns iterators and the one-shot fd walk).
 */
#include "probe/ebpf_iter.h"
#include "probe/netns.h"
#include "probe/poller.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLLER_DEFAULT_MAX_RECORDS SOCK_RECORDS_MAX
/* One read() of a BPF iterator returns at most the seq_file buffer (8
 * pages today); a larger buffer costs nothing and survives kernel changes. */
#define ITER_READ_BUF (256u << 10)

#define NS_COUNTERS 10

struct ns_state {
	uint64_t ino;
	uint64_t c[NS_COUNTERS]; /* read right before the last walk */
	size_t off, len;	 /* its records in recs, as of the last scan */
	size_t new_off, new_len; /* ... in this scan */
	unsigned reused;	 /* scans served by those since that walk */
	bool valid;		 /* c and the slice describe one walk */
	bool seen, counters_ok, walked, bad;
};

struct poller {
	struct source base;
	struct procmap *pm;
	struct netns_set *ns;
	struct sock_record *recs;
	size_t n, cap, max;
	uint64_t overflow;
	struct poller_stats stats;
	/* BPF iterators; NULL: none loads (sock_diag, /proc fd walk). Which
	 * of its programs run picks the path: fd_walk (the one-shot walk of
	 * every fd table), sock_iters (iter/tcp + iter/udp per netns); the
	 * owners program serves procmap (set in poller_new()). */
	struct ebpf_iter *iter;
	bool fd_walk, sock_iters;
	unsigned char *iter_buf;
	int *iter_fds; /* 2 per netns (TCP, UDP), -1 when not created */
	size_t iter_fds_cap;
	/* The fd walk (scan_fdwalk()): per netns index, true when its
	 * sockets came from it; NULL outside of it. */
	bool *fd_ok;
	char why[192];
	const char *bpf_deny; /* see struct poller_options */
	bool bpf_verbose;
	/* Reuse of unchanged netns, see plan_netns(); skip_max 0: off. */
	unsigned skip_max;
	bool force_walk;
	bool walk_incomplete;
	struct ns_state *st;
	size_t nst, stcap;
	size_t *cur;   /* per netns index of this scan: index into st */
	bool *reuse;   /* per netns index: its last records reused */
	size_t curcap;
	/* struct source watch: called every POLLER_WATCH_EVERY records. */
	source_progress_fn watch_fn;
	void *watch_ud;
};

#define POLLER_WATCH_EVERY 2048

/* Appends rec to p's records (counted as overflow past p->max). */
int poller_push(const struct sock_record *rec, void *ud);

/* poller.c: netns h by sock_diag (/proc/<pid>/net where unavailable). */
int poller_dump_netns(struct poller *p, struct netns_handle *h);
bool poller_netns_may_have_sockets(struct poller *p,
				   const struct netns_handle *h);
/* Reads <proc>/<h's pid>/net/<name> into buf; its length or -errno. */
int poller_read_proc_file(struct poller *p, const struct netns_handle *h,
			  const char *name, char *buf, size_t cap);

/* poller_plan.c: see there. */
void poller_forget_netns(struct poller *p);
int poller_plan_netns(struct poller *p);
int poller_begin_netns(struct poller *p, size_t i, bool *ret_reused);
void poller_end_netns(struct poller *p, size_t i);
int poller_commit_netns(struct poller *p);
/*
 * The decisions of one netns, pure (unit-tested). plan: c holds its
 * counters read now (NULL: unreadable); returns true when its previous
 * records are reused (counters unchanged since a committed walk, reused
 * fewer than skip_max - 1 scans in a row, no forced walk). commit: after
 * a complete scan (st->walked set by begin), records what it did.
 */
bool poller_plan_one(struct ns_state *st, const uint64_t *c, bool force_walk,
		     unsigned skip_max);
void poller_commit_one(struct ns_state *st, bool overflow);
/* Moves the slices of the netns reused in this scan (p->reuse over the
 * scan's count netns) to the front of p->recs, in place, and sets their
 * new_off/new_len and p->n. 0 or -ENOMEM. */
int poller_compact_reused(struct poller *p, size_t count);

/* poller_iter.c: see there. */
int poller_load_iters(struct poller *p);
int poller_scan_iter(struct poller *p);
int poller_scan_fdwalk(struct poller *p);

#endif
