/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_NETNS_H
#define SHAWK_PROBE_NETNS_H

#include "core/util.h"

#include "probe/procmap.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The distinct network namespaces of the host, each with a sock_diag socket
 * created inside it. A netlink socket stays bound to the netns it was created
 * in, so after a short-lived thread has entered the netns with setns() and
 * opened the socket, dumps need no further namespace switching.
 */
struct netns_handle {
	uint64_t ino;
	int diag_fd;	  /* -1: use /proc/<pid_hint>/net/ instead */
	int ns_fd;	  /* the netns itself; -1 for our own or unopened */
	uint32_t pid_hint; /* a process in this netns (0 for named ones) */
	uint32_t seen_gen;
	bool own; /* the agent's own netns */
};

struct netns_set;

/* Returns NULL on OOM. run_netns_dir may be NULL (no named netns). */
struct netns_set *netns_set_new(const char *host_proc,
				const char *run_netns_dir, size_t max_netns);
void netns_set_free(struct netns_set *s);
DEFINE_FREEP(struct netns_set, netns_set_free)

/*
 * Brings the set in line with the processes in pm (and the named netns
 * directory): opens new namespaces, closes vanished ones. Returns the
 * number of namespaces, or -errno.
 */
int netns_set_sync(struct netns_set *s, struct procmap *pm);

size_t netns_set_count(const struct netns_set *s);
struct netns_handle *netns_set_at(struct netns_set *s, size_t i);

/*
 * The socket every handle opens inside its netns (diag_fd): sockdiag_open()
 * unless set before the first sync (the conntrack stage opens ctnetlink
 * sockets). opener returns an fd or -errno.
 */
void netns_set_set_opener(struct netns_set *s, int (*opener)(void));

/*
 * Runs fn(arg) inside h's netns (on a short-lived thread; directly for the
 * agent's own) and returns what it returns, or -errno when the netns
 * cannot be entered.
 */
int netns_run(const struct netns_handle *h, int (*fn)(void *), void *arg);

/* -errno of the first setns() refusal (0 if none): for one clear warning. */
int netns_set_enter_error(const struct netns_set *s);

#endif
