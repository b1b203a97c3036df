// SPDX-License-Identifier: MIT
/* The agent put together from a config: its source, stages, sinks and
 * metrics endpoint (agent.c runs it). */
#include "agent/agent_int.h"

#include "agent/metrics.h"
#include "agent/sink_async.h"
#include "agent/sink_cmdb.h"
#include "agent/sink_stdout.h"
#include "agent/source.h"
#include "agent/stage_conntrack.h"
#include "agent/stage_k8s.h"
#include "agent/stage_process.h"
#include "core/flow.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/sink.h"
#include "core/stage.h"
#include "core/util.h"
#include "probe/ebpf_ctlookup.h"
#include "probe/procmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- building it -------------------------------------------------------- */

static int add_sink(struct agent *a, struct sink *s)
{
	if (!s)
		return -ENOMEM;
	if (a->nsinks == AGENT_SINKS_MAX) {
		sink_free(s);
		return -E2BIG;
	}
	a->sinks[a->nsinks++] = s;
	return 0;
}

/*
 * The stages, in the order they run for each record. A conntrack stage
 * goes first (before process): its enrich() then sees records whose owner
 * is gone, and its scan() every record of the scan.
 */
static int add_stages(struct agent *a, struct stage **ret_k8s)
{
	const struct probe_config *cfg = a->cfg;
	int r;
	if (cfg->conntrack) {
		/* A one-shot scan looks its connections up (probe's BPF
		 * lookup) instead of dumping conntrack; a daemon follows the
		 * table by events and needs none. */
		struct ct_lookup_ops lk, *lkp = NULL;
		struct ebpf_ctlookup *l = NULL;
		if (cfg->once && (l = ebpf_ctlookup_new(cfg->bpf_deny))) {
			ebpf_ctlookup_ops(l, &lk);
			lkp = &lk;
		}
		if ((r = stage_list_add(&a->stages,
					stage_conntrack_new(cfg, a->pm, 0,
							    lkp))) < 0)
			return r;
	}
	if ((r = stage_list_add(&a->stages,
				stage_process_new(a->pm, cfg->node_name))) < 0)
		return r;
	struct stage *k8s = stage_k8s_new(cfg, cfg->once);
	if ((r = stage_list_add(&a->stages, k8s)) < 0)
		return r;
	*ret_k8s = k8s;
	return 0;
}

static int add_sinks(struct agent *a, struct stage *k8s)
{
	const struct probe_config *cfg = a->cfg;
	if (cfg->output != OUTPUT_UNSET)
		return add_sink(a, sink_stdout_new(cfg));
	struct sink *s = sink_cmdb_new(cfg);
	if (s)
		sink_cmdb_set_pods(s, stage_k8s_pods(k8s));
	/* On its own thread: the scans keep their interval whatever the
	 * CMDB does. */
	return add_sink(a, sink_async_new(s, cfg->max_pending_flows));
}

/* The endpoints: the daemon only (a --once run is over before a scrape). */
static int start_metrics(struct agent *a, struct stage *k8s)
{
	const struct probe_config *cfg = a->cfg;
	char err[256];
	if (!cfg->metrics_listen || cfg->once)
		return 0;
	int r = agent_metrics_new(cfg, a, stage_k8s_pods(k8s), &a->metrics,
				  err, sizeof(err));
	if (r < 0) {
		log_error("metrics endpoint: %s", err);
		return r;
	}
	log_info("serving /metrics and /healthz on %s (port %u)",
		 cfg->metrics_listen,
		 (unsigned)agent_metrics_port(a->metrics));
	return 0;
}

int agent_new(const struct probe_config *cfg, struct agent **ret)
{
	_cleanup_(agent_freep) struct agent *a = calloc(1, sizeof(*a));
	struct stage *k8s = NULL;
	int r;

	if (!a) {
		log_error("out of memory");
		return -ENOMEM;
	}
	a->cfg = cfg;
	if ((r = procmap_new(cfg->host_proc, 0, 0, &a->pm)) < 0) {
		log_error("cannot open --host-proc %s: %s", cfg->host_proc,
			  strerror(-r));
		return r;
	}
	/* Stages before sinks: the CMDB sink records the k8s stage's pods. */
	a->flows = flow_table_new(cfg->max_flows, 0);
	if (!a->flows || (r = add_stages(a, &k8s)) < 0 ||
	    (r = add_sinks(a, k8s)) < 0) {
		log_error("out of memory");
		return -ENOMEM;
	}
	if (stage_list_translates(&a->stages))
		flow_table_set_translate(a->flows, stage_list_translate,
					 &a->stages);
	/* The source logs its own failure. */
	if ((r = agent_source_open(cfg, a->pm, &a->src)) < 0)
		return r;
	/* Stages may start on the records while the source reads them. */
	if (a->src->src->watch && stage_list_partials(&a->stages))
		a->src->src->watch(a->src->src, stage_list_partial, &a->stages);
	if ((r = start_metrics(a, k8s)) < 0)
		return r;
	*ret = TAKE_PTR(a);
	return 0;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	/* It reads every part (and the pod watch): it goes first. */
	agent_metrics_free(a->metrics);
	/* The source and the stages borrow pm: free them first. */
	agent_source_free(a->src);
	for (size_t i = 0; i < a->nsinks; i++)
		sink_free(a->sinks[i]);
	stage_list_clear(&a->stages);
	flow_table_free(a->flows);
	procmap_free(a->pm);
	free(a->recs);
	free(a);
}

void agent_freep(struct agent **a)
{
	agent_free(*a);
}

int agent_run(const struct probe_config *cfg)
{
	/* One scan, then exit: fresh memory is touched once, see mem.h. */
	if (cfg->once)
		mem_prefer_huge_heap(64u << 20);
	_cleanup_(agent_freep) struct agent *a = NULL;
	int r = agent_new(cfg, &a);
	if (r < 0)
		return r;
	return agent_loop(a);
}

const char *agent_source_name(const struct agent *a)
{
	return a->src->src->name;
}

