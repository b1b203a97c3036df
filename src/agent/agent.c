// SPDX-License-Identifier: MIT
#include "agent/agent.h"

#include "agent/sink_async.h"
#include "agent/metrics.h"
#include "agent/sink_cmdb.h"
#include "agent/sink_stdout.h"
#include "agent/source.h"
#include "agent/stage_conntrack.h"
#include "probe/ebpf_ctlookup.h"
#include "agent/stage_k8s.h"
#include "agent/stage_process.h"
#include "agent/stages.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/flow.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/sink.h"
#include "core/stage.h"
#include "core/util.h"
#include "probe/procmap.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#define AGENT_SINKS_MAX 4
/* The sinks' last delivery attempt: an unreachable CMDB must not block
 * shutdown (or a --once run) for long. */
#define AGENT_DRAIN_MS 5000
/* From SIGTERM, what the final scan, flush and drain may take together:
 * leaves room for the rest of the exit within 5 s (the pod watch's thread
 * lets go within a second). */
#define AGENT_SHUTDOWN_MS 3000

struct agent {
	const struct probe_config *cfg;
	struct procmap *pm;
	struct agent_source *src;
	struct stage_list stages;
	struct flow_table *flows;
	struct sink *sinks[AGENT_SINKS_MAX];
	size_t nsinks;
	/* The last scan's records when the source has no array of its own. */
	struct sock_record *recs;
	size_t n, cap;
	uint64_t dropped_records; /* over SOCK_RECORDS_MAX in one scan */
	bool warned_drops;
	struct agent_metrics *metrics; /* --metrics-listen; NULL: off */
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- one scan: source -> stages -> flow table ------------------------- */

static int collect(const struct sock_record *rec, void *ud)
{
	struct agent *a = ud;
	int r = sock_records_append(&a->recs, &a->n, &a->cap,
				    SOCK_RECORDS_MAX, rec);
	if (r == -ENOSPC) {
		a->dropped_records++;
		return 0;
	}
	return r;
}

/* Reads the source; the records stay in the source's array or a->recs. */
static int read_source(struct agent *a, const struct sock_record **ret)
{
	struct source *src = a->src->src;
	int r;

	a->n = 0;
	if (src->records) {
		/* The source keeps the array: no copy. */
		r = src->scan(src, NULL, NULL);
		if (r < 0)
			return r;
		*ret = src->records(src, &a->n);
		return 0;
	}
	r = src->scan(src, collect, a);
	if (r < 0)
		return r;
	*ret = a->recs;
	return 0;
}

/* What the scan changed, once each: the parts' own lines, then ours. */
static void report_scan(struct agent *a)
{
	struct flow_table_stats fs;

	if (a->src->report)
		a->src->report(a->src, false);
	stage_list_report(&a->stages);
	flow_table_get_stats(a->flows, &fs);
	if (fs.dropped_flows && !a->warned_drops) {
		log_warn("flow table full (--max-flows %llu): dropping new "
			 "flows until the next flush",
			 (unsigned long long)a->cfg->max_flows);
		a->warned_drops = true;
	}
	if (a->dropped_records) {
		log_warn("%llu socket records over the per-scan bound (%u) "
			 "were dropped",
			 (unsigned long long)a->dropped_records,
			 SOCK_RECORDS_MAX);
		a->dropped_records = 0;
	}
}

/*
 * What the stages learned that lets the source count more connections
 * without their tuple (probe/source.h plain_peer, nat_sources): the peers
 * of this scan's connections that nothing translated, the NAT source
 * addresses. Only event scans: a full poll's records (every held
 * connection) tell nothing new and would cost a lookup each.
 */
static void tell_source(struct agent *a, const struct sock_record *recs)
{
	struct source *src = a->src->src;
	if (src->nat_sources) {
		const struct net_addr *v = NULL;
		ssize_t k = stage_list_nat_sources(&a->stages, &v);
		src->nat_sources(src, k < 0 ? NULL : v, k < 0 ? 0 : (size_t)k);
	}
	if (!src->plain_peer || src->snapshot)
		return;
	for (size_t i = 0; i < a->n; i++) {
		const struct sock_record *r = &recs[i];
		if (r->proto != IPPROTO_TCP || r->dir != SOCK_DIR_ACTIVE ||
		    r->conns || !r->lport || !r->rport)
			continue;
		if (stage_list_plain_peer(&a->stages, r))
			src->plain_peer(src, r);
	}
}

static int agent_scan_once(struct agent *a)
{
	const struct sock_record *recs = NULL;
	stage_list_prepare(&a->stages);
	int r = read_source(a, &recs);
	if (r < 0)
		return r;
	if ((r = stage_list_scan(&a->stages, recs, a->n)) < 0)
		return r;
	r = flow_table_ingest(a->flows, recs, a->n, a->src->src->snapshot,
			      now_realtime_ms(), stage_list_enrich, &a->stages);
	if (r < 0)
		return r;
	tell_source(a, recs);
	report_scan(a);
	log_debug("scan: %zu sockets, %zu flows", a->n,
		  flow_table_count(a->flows));
	return r;
}

/* One scan, timed for the metrics. */
static int agent_scan(struct agent *a)
{
	int64_t t0 = a->metrics ? mono_us() : 0;
	int r = agent_scan_once(a);
	if (a->metrics)
		agent_metrics_scanned(a->metrics, mono_us() - t0, r, a->n,
				      flow_table_count(a->flows));
	return r;
}

/* ---- flush: flow table -> sinks --------------------------------------- */

/* /healthz: a write in course on a sink's own thread (bounded by its
 * deadline: only a --health-stall below --cmdb-timeout ever sees one). */
static void publish_backlogs(struct agent *a)
{
	if (!a->metrics)
		return;
	for (size_t i = 0; i < a->nsinks; i++) {
		struct sink *s = a->sinks[i];
		if (s->busy_since)
			agent_metrics_flush_backlog(a->metrics, s->name,
						    s->busy_since(s));
	}
}

static int write_sink(struct agent *a, struct sink *s)
{
	if (!a->metrics)
		return s->write(s, flow_table_flows(a->flows),
				flow_table_count(a->flows), now_realtime_ms());
	/* /healthz sees a write that does not come back. */
	agent_metrics_flush_begin(a->metrics, s->name);
	int64_t t0 = mono_us();
	int r = s->write(s, flow_table_flows(a->flows),
			 flow_table_count(a->flows), now_realtime_ms());
	agent_metrics_flush_end(a->metrics, mono_us() - t0, r);
	publish_backlogs(a);
	return r;
}

/* Ends the interval (after every sink had its flows). */
static void end_interval(struct agent *a)
{
	flow_table_reset_interval(a->flows);
	if (a->src->flushed)
		a->src->flushed(a->src);
}

/* final: the flush at exit (its own log line). */
static void flush(struct agent *a, bool final)
{
	flow_table_forget_closed_ids(a->flows);
	/* The connection series first: a sink that hangs delays nothing. */
	if (agent_metrics_flows(a->metrics, flow_table_flows(a->flows),
				flow_table_count(a->flows)) < 0)
		log_warn("metrics: out of memory: connections of this "
			 "interval are missing from shawk_connections_total");
	for (size_t i = 0; i < a->nsinks; i++) {
		int r = write_sink(a, a->sinks[i]);
		if (r < 0)
			log_warn("%sflush to %s failed: %s",
				 final ? "final " : "", a->sinks[i]->name,
				 strerror(-r));
	}
	end_interval(a);
}

/* Liveness: `shawk health` compares the file's mtime with now. */
static void heartbeat(const char *path)
{
	static bool warned;
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0 || futimens(fd, NULL) < 0) {
		if (!warned)
			log_warn("cannot update heartbeat file %s: %s", path,
				 strerror(errno));
		warned = true;
	}
	if (fd >= 0)
		close(fd);
}

/* ---- the two ways to run ----------------------------------------------- */

/* A one-off scan has no SIGTERM budget: room for a write that takes its
 * whole --cmdb-timeout and one retry. */
static int64_t once_drain_ms(const struct agent *a)
{
	int64_t ms = 2 * a->cfg->cmdb_timeout_ms + 1000;
	return ms > AGENT_DRAIN_MS ? ms : AGENT_DRAIN_MS;
}

static int run_once(struct agent *a)
{
	int ret = 0;
	int r = agent_scan(a);
	if (r < 0) {
		log_error("scan failed: %s", strerror(-r));
		return r;
	}
	if (a->n == 0 && geteuid() != 0) {
		log_error("no socket visible at all: run as root (or "
			  "with CAP_SYS_ADMIN and CAP_SYS_PTRACE)");
		return -EPERM;
	}
	if (a->n == 0)
		log_info("no TCP or UDP socket on this host");
	for (size_t i = 0; i < a->nsinks; i++) {
		struct sink *s = a->sinks[i];
		r = write_sink(a, s);
		/* The CMDB sink may have queued them: one bounded retry. */
		if (r >= 0 && s->drain)
			r = s->drain(s, now_monotonic_ms() + once_drain_ms(a));
		if (r < 0) {
			log_error("could not write the flows to %s: %s",
				  s->name, strerror(-r));
			ret = r;
		}
	}
	end_interval(a);
	return ret;
}

static void log_start(const struct agent *a)
{
	char names[128] = "";
	size_t len = 0;
	for (size_t i = 0; i < a->nsinks && len < sizeof(names); i++)
		len += (size_t)snprintf(names + len, sizeof(names) - len,
					"%s%s", i ? ", " : "",
					a->sinks[i]->name);
	log_info("probing every %lldms, flushing every %lldms to %s",
		 (long long)a->cfg->interval_ms,
		 (long long)a->cfg->flush_interval_ms, names);
}

/* Blocks until the next deadline; true when SIGINT/SIGTERM came. */
static bool wait_until(int sfd, int64_t wake)
{
	/* Clamped: a wait past INT_MAX ms wakes early and waits again. */
	int timeout = duration_poll_timeout(wake - now_monotonic_ms());
	struct pollfd pfd = { .fd = sfd, .events = POLLIN };
	struct signalfd_siginfo si;
	if (poll(&pfd, 1, timeout) <= 0 ||
	    read(sfd, &si, sizeof(si)) != sizeof(si))
		return false;
	log_info("received %s: final flush", strsignal((int)si.ssi_signo));
	return true;
}

static void shutdown_flush(struct agent *a)
{
	struct source *src = a->src->src;
	int64_t deadline = now_monotonic_ms() + AGENT_SHUTDOWN_MS;
	if (src->request_poll) {
		/* What the kernel counted since the last scan. */
		int r = agent_scan(a);
		if (r < 0)
			log_warn("final scan failed: %s", strerror(-r));
	}
	if (a->src->report)
		a->src->report(a->src, true);
	flush(a, true);
	for (size_t i = 0; i < a->nsinks; i++) {
		struct sink *s = a->sinks[i];
		if (!s->drain)
			continue;
		int r = s->drain(s, deadline);
		if (r < 0)
			log_warn("could not deliver everything before exit: %s",
				 strerror(-r));
	}
}

static int run_daemon(struct agent *a)
{
	struct source *src = a->src->src;
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	_cleanup_(closep) int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;

	int64_t next_scan = now_monotonic_ms();
	int64_t next_flush = next_scan + a->cfg->flush_interval_ms;
	log_start(a);
	do {
		int64_t now = now_monotonic_ms();
		/* A source that polls on request (streaming) polls in the
		 * scan each flush follows, on the flush tick. */
		bool poll_now = now >= next_flush && src->request_poll;
		if (now >= next_scan || poll_now) {
			if (poll_now)
				src->request_poll(src);
			int r = agent_scan(a);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				log_warn("scan failed: %s", strerror(-r));
			else
				heartbeat(a->cfg->heartbeat_file);
			publish_backlogs(a);
			/* Skip missed ticks instead of bursting. */
			while (next_scan <= now)
				next_scan += a->cfg->interval_ms;
		}
		if (now >= next_flush) {
			flush(a, false);
			while (next_flush <= now)
				next_flush += a->cfg->flush_interval_ms;
		}
	} while (!wait_until(sfd, next_scan < next_flush ? next_scan
							   : next_flush));
	shutdown_flush(a);
	return 0;
}

int agent_loop(struct agent *a)
{
	if (a->cfg->once)
		return run_once(a);
	int r = run_daemon(a);
	if (r < 0)
		log_error("probe stopped: %s", strerror(-r));
	return r;
}

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

/* ---- counters ------------------------------------------------------------ */

struct stat_ctx {
	const char *object;
	agent_stat_fn fn;
	void *ud;
};

static void stat_relay(const char *name, enum stat_kind kind, uint64_t value,
		       const char *help, void *ud)
{
	struct stat_ctx *x = ud;
	x->fn(x->object, name, kind, value, help, x->ud);
}

static void flow_table_stats(const struct agent *a, struct stat_ctx *x)
{
	struct flow_table_stats fs;
	flow_table_get_stats(a->flows, &fs);
	stat_relay("flows", STAT_GAUGE, flow_table_count(a->flows),
		   "flows of the current interval", x);
	stat_relay("dropped_flows", STAT_COUNTER, fs.dropped_flows,
		   "observations lost to --max-flows", x);
	stat_relay("untracked_conns", STAT_COUNTER, fs.untracked_conns,
		   "connections counted without dedup: tracker full", x);
	stat_relay("listeners", STAT_GAUGE, fs.listeners,
		   "listening sockets known", x);
	stat_relay("records", STAT_GAUGE, a->n,
		   "socket records of the last scan", x);
}

void agent_stats(const struct agent *a, agent_stat_fn fn, void *userdata)
{
	struct stat_ctx x = { .object = a->src->src->name, .fn = fn,
			      .ud = userdata };
	if (a->src->stats)
		a->src->stats(a->src, stat_relay, &x);
	for (size_t i = 0; i < a->stages.n; i++) {
		const struct stage *st = a->stages.v[i];
		x.object = st->name;
		if (st->stats)
			st->stats(st, stat_relay, &x);
	}
	x.object = "flow_table";
	flow_table_stats(a, &x);
	for (size_t i = 0; i < a->nsinks; i++) {
		const struct sink *s = a->sinks[i];
		x.object = s->name;
		if (s->stats)
			s->stats(s, stat_relay, &x);
	}
}
