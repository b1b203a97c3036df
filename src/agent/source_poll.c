// SPDX-License-Identifier: MIT
/* The polling source in the agent: probe/poller.c plus its log lines. */
#include "agent/source.h"

#include "core/log.h"
#include "core/util.h"
#include "probe/poller.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A netns whose counters did not move is walked at least every 10th scan
 * and in the first scan of every flush interval (see polling_flushed()). */
#define POLL_SKIP_MAX_REUSE 10

struct source_poll {
	struct agent_source base;
	struct procmap *pm;
	bool skipping; /* skips unchanged netns: walk all after a flush */
	bool warned_denied, warned_setns;
};

/* Which /proc files were refused, and what that means for whom. */
static void polling_warn_denied(const struct procmap_stats *ms)
{
	char what[160] = "";
	if (ms->ns_denied)
		snprintf(what, sizeof(what), "/proc/<pid>/ns/net of %llu "
			 "process%s", (unsigned long long)ms->ns_denied,
			 ms->ns_denied == 1 ? "" : "es");
	if (ms->fd_denied)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 "%s/proc/<pid>/fd of %llu process%s",
			 *what ? " and " : "", (unsigned long long)ms->fd_denied,
			 ms->fd_denied == 1 ? "" : "es");
	if (geteuid() == 0)
		/* Root refused: a sandbox or a container that does not
		 * own these processes (another pid or user namespace), not
		 * a missing capability. */
		log_warn("not allowed to read %s (e.g. pid %u) although root: "
			 "a sandbox or a container without the host's pid %s; "
			 "their sockets may lack a process",
			 what, ms->denied_example,
			 ms->denied_example == 1 ? "1" : "namespace");
	else
		/* Typical: not root, or a target holding capabilities we
		 * lack (ptrace access needs a superset of them). */
		log_warn("not allowed to read %s (e.g. pid %u; needs root or "
			 "CAP_SYS_PTRACE): their sockets may lack a process",
			 what, ms->denied_example);
}

static void polling_report(struct agent_source *as, bool final)
{
	struct source_poll *p = (struct source_poll *)as;
	struct poller_stats ps;
	struct procmap_stats ms;

	if (final)
		return;
	poller_get_stats(as->src, &ps);
	procmap_get_stats(p->pm, &ms);
	if (ps.enter_error && !p->warned_setns) {
		log_warn("cannot enter other network namespaces (setns: %s; "
			 "needs CAP_SYS_ADMIN): reading them through "
			 "/proc/<pid>/net instead",
			 strerror(-ps.enter_error));
		p->warned_setns = true;
	}
	if ((ms.ns_denied || ms.fd_denied) && !p->warned_denied) {
		polling_warn_denied(&ms);
		p->warned_denied = true;
	}
}

#define S(field, kind, help) STAT_DESC(struct poller_stats, field, kind, help)
static const struct stat_desc polling_stat_desc[] = {
	S(scans, STAT_COUNTER, "socket table scans"),
	S(netns, STAT_GAUGE, "network namespaces, last scan"),
	S(sockets, STAT_GAUGE, "socket records, last scan"),
	S(procfs_fallbacks, STAT_GAUGE,
	  "netns read through /proc/<pid>/net, last scan"),
	S(iter_fallbacks, STAT_COUNTER,
	  "netns read by sock_diag on the BPF iterator path"),
	S(skipped_empty, STAT_GAUGE, "netns without sockets, last scan"),
	S(skipped_unchanged, STAT_GAUGE,
	  "netns served from the previous scan, last scan"),
	S(fd_walk_netns, STAT_GAUGE, "netns served by the fd walk, last scan"),
};
#undef S

static void polling_stats(const struct agent_source *as, stat_fn fn, void *ud)
{
	struct poller_stats ps;
	poller_get_stats(as->src, &ps);
	stats_emit(polling_stat_desc, ARRAY_SIZE(polling_stat_desc), &ps, fn,
		   ud);
}

static void polling_flushed(struct agent_source *as)
{
	if (((struct source_poll *)as)->skipping)
		poller_force_walk(as->src);
}

static void polling_free(struct agent_source *as)
{
	source_free(as->src);
	free(as);
}

/* One line on how polling reads sockets; a forced backend must work. */
static int check_poll_backend(const struct probe_config *cfg,
			      const struct source *poller)
{
	const char *why;
	enum poll_backend b = poller_backend(poller, &why);
	if (b == POLL_BACKEND_BPF_ITER) {
		log_info("polling via BPF iterators");
		return 0;
	}
	if (cfg->poll_backend == POLL_BACKEND_BPF_ITER) {
		log_error("SHAWK_POLL_BACKEND=bpf-iter: %s", why);
		return -EOPNOTSUPP;
	}
	if (cfg->poll_backend == POLL_BACKEND_SOCKDIAG)
		log_info("polling via sock_diag (SHAWK_POLL_BACKEND=sockdiag)");
	else
		log_info("polling via sock_diag (BPF iterators: %s)", why);
	return 0;
}

int source_poll_open(const struct probe_config *cfg, struct procmap *pm,
		     struct agent_source **ret)
{
	struct source_poll *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	_cleanup_(agent_source_freep) struct agent_source *guard = &p->base;
	p->base.report = polling_report;
	p->base.stats = polling_stats;
	p->base.flushed = polling_flushed;
	p->base.free = polling_free;
	p->pm = pm;
	p->base.src = poller_new(pm, &(struct poller_options){
						 .run_netns_dir = cfg->run_netns_dir,
						 .backend = cfg->poll_backend,
						 .bpf_deny = cfg->bpf_deny,
						 .bpf_verbose = cfg->bpf_verbose,
					 });
	if (!p->base.src)
		return -ENOMEM;
	if (cfg->poll_skip_unchanged && !cfg->once) {
		poller_set_skip_unchanged(p->base.src, POLL_SKIP_MAX_REUSE);
		p->skipping = true;
	}
	int r = check_poll_backend(cfg, p->base.src);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(guard);
	return 0;
}
