// SPDX-License-Identifier: MIT
#include "agent/stage_process.h"

#include "core/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct stage_process {
	struct stage base;
	struct procmap *pm;
	const char *node_name;
};

static int process_enrich(struct stage *st, uint32_t pid,
			  const struct sock_record *rec, struct flow_owner *o)
{
	struct stage_process *p = (struct stage_process *)st;
	const struct proc_info *pi = procmap_get(p->pm, pid);
	(void)rec;
	if (!pi)
		return -ESRCH;
	o->pid = pi->pid;
	o->pgid = pi->pgid;
	memcpy(o->comm, pi->comm, sizeof(o->comm));
	o->cmdline = pi->cmdline;
	o->cgroup = pi->cgroup;
	o->node = p->node_name;
	return 0;
}

#define S(field, kind, help) STAT_DESC(struct procmap_stats, field, kind, help)
static const struct stat_desc process_stat_desc[] = {
	S(fd_links_read, STAT_COUNTER, "/proc/<pid>/fd links read"),
	S(fd_dirs_walked, STAT_COUNTER, "/proc/<pid>/fd directories walked"),
	S(walks, STAT_COUNTER, "walks of /proc"),
	/* "netns", not "ns": Prometheus' lint reads "_ns_" as nanoseconds. */
	{ "netns_denied", STAT_COUNTER,
	  offsetof(struct procmap_stats, ns_denied),
	  "processes whose netns link may not be read" },
	S(fd_denied, STAT_COUNTER, "processes whose fd table may not be read"),
	S(unowned, STAT_COUNTER, "sockets with an inode but no owner found"),
	S(owner_lookups, STAT_COUNTER, "owner searches by socket"),
	S(owner_lookup_errors, STAT_COUNTER,
	  "owner searches that failed (fd walk instead)"),
};
#undef S

static void process_stats(const struct stage *st, stat_fn fn, void *ud)
{
	const struct stage_process *p = (const struct stage_process *)st;
	struct procmap_stats ms;
	procmap_get_stats(p->pm, &ms);
	stats_emit(process_stat_desc, ARRAY_SIZE(process_stat_desc), &ms, fn,
		   ud);
}

static void process_free(struct stage *st)
{
	free(st);
}

struct stage *stage_process_new(struct procmap *pm, const char *node_name)
{
	struct stage_process *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base.name = "process";
	p->base.enrich = process_enrich;
	p->base.stats = process_stats;
	p->base.free = process_free;
	p->pm = pm;
	p->node_name = node_name;
	return &p->base;
}
