// SPDX-License-Identifier: MIT
#include "cli/cli.h"
#include "cli/cmdb_sink.h"
#include "cli/probe_k8s.h"

#include "core/clock.h"
#include "core/config.h"
#include "core/flow.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/sink.h"
#include "core/util.h"
#include "probe/ebpf.h"
#include "probe/poller.h"
#include "probe/procmap.h"
#include "render/flows.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

/* ---- stdout sink ------------------------------------------------------ */

struct stdout_sink {
	struct sink base;
	enum output_format fmt;
};

static int stdout_write(struct sink *s, const struct flow *flows, size_t n,
			int64_t now_ms)
{
	struct stdout_sink *o = (struct stdout_sink *)s;
	int r = 0;
	(void)now_ms;
	if (o->fmt == OUTPUT_JSON)
		r = render_flows_json(stdout, flows, n);
	else if (o->fmt == OUTPUT_TEXT)
		r = render_flows_text(stdout, flows, n);
	fflush(stdout);
	return r;
}

static void stdout_free(struct sink *s)
{
	free(s);
}

static struct sink *stdout_sink_new(enum output_format fmt)
{
	struct stdout_sink *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->base.name = "stdout";
	o->base.write = stdout_write;
	o->base.free = stdout_free;
	o->fmt = fmt;
	return &o->base;
}

/* ---- pipeline: source -> enrich -> aggregate -------------------------- */

struct pipeline {
	const struct probe_config *cfg;
	struct procmap *pm;
	struct probe_k8s *k8s;
	struct source *src;
	struct source *skipping; /* the poller when it skips unchanged netns */
	struct flow_table *flows;
	struct sock_record *recs;
	size_t n, cap;
	uint64_t dropped_records; /* over SOCK_RECORDS_MAX in one scan */
	bool warned_agg_full;
	bool warned_denied, warned_setns, warned_drops;
};

static int collect(const struct sock_record *rec, void *ud)
{
	struct pipeline *p = ud;
	int r = sock_records_append(&p->recs, &p->n, &p->cap,
				    SOCK_RECORDS_MAX, rec);
	if (r == -ENOSPC) {
		p->dropped_records++;
		return 0;
	}
	return r;
}

static int enrich(uint32_t pid, const struct sock_record *rec,
		  struct flow_owner *ret, void *ud)
{
	struct pipeline *p = ud;
	const struct proc_info *pi = procmap_get(p->pm, pid);
	if (!pi)
		return -ESRCH;
	ret->pid = pi->pid;
	ret->pgid = pi->pgid;
	memcpy(ret->comm, pi->comm, sizeof(ret->comm));
	ret->cmdline = pi->cmdline;
	ret->cgroup = pi->cgroup;
	ret->node = p->cfg->node_name;
	probe_k8s_enrich(p->k8s, rec, ret);
	return 0;
}

/* The streaming source's running totals, at lvl. */
static void log_stream_totals(const struct ebpf_stats *es, enum log_level lvl)
{
	log_msg(lvl,
		"streaming: %llu events decoded, %llu connections counted in "
		"the kernel (%llu aggregate records), %llu polls, %llu ring "
		"buffer overflows",
		(unsigned long long)es->stream.events,
		(unsigned long long)es->stream.aggregated,
		(unsigned long long)es->stream.agg_records,
		(unsigned long long)es->stream.resyncs,
		(unsigned long long)es->stream.lost_events);
}

static void report_visibility(struct pipeline *p)
{
	struct poller_stats ps;
	struct procmap_stats ms;

	if (strcmp(p->src->name, "streaming") == 0) {
		struct ebpf_stats es;
		ebpf_get_stats(p->src, &es);
		if (es.lost_since_last)
			log_warn("streaming: %llu events lost (ring buffer "
				 "full; %llu in total): counts of this "
				 "interval are low",
				 (unsigned long long)es.lost_since_last,
				 (unsigned long long)es.stream.lost_events);
		if (es.agg_full && !p->warned_agg_full) {
			log_warn("streaming: in-kernel aggregate full (too "
				 "many distinct flows in one scan): %llu "
				 "connections passed as events instead",
				 (unsigned long long)es.agg_full);
			p->warned_agg_full = true;
		}
		if (log_get_level() >= LOG_DEBUG)
			log_stream_totals(&es, LOG_DEBUG);
		return;
	}
	if (strcmp(p->src->name, "polling") != 0)
		return;
	poller_get_stats(p->src, &ps);
	procmap_get_stats(p->pm, &ms);
	if (ps.enter_error && !p->warned_setns) {
		log_warn("cannot enter other network namespaces (setns: %s; "
			 "needs CAP_SYS_ADMIN): reading them through "
			 "/proc/<pid>/net instead",
			 strerror(-ps.enter_error));
		p->warned_setns = true;
	}
	if ((ms.ns_denied || ms.fd_denied) && !p->warned_denied) {
		/* Typical: not root, or a target holding capabilities we
		 * lack (ptrace access needs a superset of them). */
		log_warn("not allowed to read /proc/<pid>/ns/net of %llu and "
			 "/proc/<pid>/fd of %llu processes (e.g. pid %u; needs "
			 "root with CAP_SYS_PTRACE): their sockets may lack a "
			 "process",
			 (unsigned long long)ms.ns_denied,
			 (unsigned long long)ms.fd_denied, ms.denied_example);
		p->warned_denied = true;
	}
}

#define POLL_SKIP_MAX_REUSE 10

static int pipeline_scan(struct pipeline *p)
{
	const struct sock_record *recs = p->recs;
	int r;

	p->n = 0;
	if (p->src->records) {
		/* The source keeps the array: no copy. */
		r = p->src->scan(p->src, NULL, NULL);
		if (r < 0)
			return r;
		recs = p->src->records(p->src, &p->n);
	} else {
		r = p->src->scan(p->src, collect, p);
		if (r < 0)
			return r;
		recs = p->recs;
	}
	r = flow_table_ingest(p->flows, recs, p->n, p->src->snapshot,
			      now_realtime_ms(), enrich, p);
	if (r < 0)
		return r;
	report_visibility(p);
	probe_k8s_report(p->k8s);

	struct flow_table_stats fs;
	flow_table_get_stats(p->flows, &fs);
	if (fs.dropped_flows && !p->warned_drops) {
		log_warn("flow table full (--max-flows %llu): dropping new "
			 "flows until the next flush",
			 (unsigned long long)p->cfg->max_flows);
		p->warned_drops = true;
	}
	if (p->dropped_records) {
		log_warn("%llu socket records over the per-scan bound (%u) "
			 "were dropped",
			 (unsigned long long)p->dropped_records,
			 SOCK_RECORDS_MAX);
		p->dropped_records = 0;
	}
	log_debug("scan: %zu sockets, %zu flows", p->n,
		  flow_table_count(p->flows));
	return r;
}

static void log_note(const char *msg, void *ud)
{
	(void)ud;
	log_info("streaming: %s", msg);
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

static int make_source(struct pipeline *p)
{
	const struct probe_config *cfg = p->cfg;
	/* One scan needs no event stream: --once always polls. */
	if (cfg->mode == PROBE_MODE_STREAMING ||
	    (cfg->mode == PROBE_MODE_AUTO && !cfg->once)) {
		/* One poll per flush interval, in the scan the flush follows
		 * (run_loop() requests it), so a long-lived connection is in
		 * every interval's flows as in polling. */
		struct ebpf_options eo = {
			.run_netns_dir = cfg->run_netns_dir,
			.poll_backend = cfg->poll_backend,
			.resync_ms = 0,
			.note = log_note,
		};
		char why[256] = "";
		int r = ebpf_source_new(p->pm, &eo, &p->src, why, sizeof(why));
		if (r == 0) {
			log_info("mode %s: streaming from eBPF",
				 probe_mode_name(cfg->mode));
			return 0;
		}
		if (r == -ENOMEM || cfg->mode == PROBE_MODE_STREAMING) {
			log_error("streaming mode cannot start: %s",
				  r == -ENOMEM ? strerror(ENOMEM) : why);
			return r;
		}
		log_info("mode auto: using polling (streaming cannot start: "
			 "%s)", why);
	}
	p->src = poller_new(p->pm, cfg->run_netns_dir, 0, cfg->poll_backend);
	if (!p->src)
		return -ENOMEM;
	if (cfg->poll_skip_unchanged && !cfg->once) {
		/* A netns whose counters did not move is walked at least
		 * every 10th scan and in the first scan of every flush
		 * interval (see flush()). */
		poller_set_skip_unchanged(p->src, POLL_SKIP_MAX_REUSE);
		p->skipping = p->src;
	}
	return check_poll_backend(cfg, p->src);
}

static int flush(struct pipeline *p, struct sink *sink)
{
	int r = sink->write(sink, flow_table_flows(p->flows),
			    flow_table_count(p->flows), now_realtime_ms());
	flow_table_reset_interval(p->flows);
	if (p->skipping)
		poller_force_walk(p->skipping);
	return r;
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

static int run_loop(struct pipeline *p, struct sink *sink)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	_cleanup_(closep) int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;

	int64_t next_scan = now_monotonic_ms();
	int64_t next_flush = next_scan + p->cfg->flush_interval_ms;
	log_info("probing every %lldms, flushing every %lldms to %s",
		 (long long)p->cfg->interval_ms,
		 (long long)p->cfg->flush_interval_ms, sink->name);
	for (;;) {
		int64_t now = now_monotonic_ms();
		/* A source that polls on request (streaming) polls in the
		 * scan each flush follows, on the flush tick. */
		bool poll_now = now >= next_flush && p->src->request_poll;
		if (now >= next_scan || poll_now) {
			if (poll_now)
				p->src->request_poll(p->src);
			int r = pipeline_scan(p);
			if (r == -ENOMEM)
				return r;
			if (r < 0)
				log_warn("scan failed: %s", strerror(-r));
			else
				heartbeat(p->cfg->heartbeat_file);
			/* Skip missed ticks instead of bursting. */
			while (next_scan <= now)
				next_scan += p->cfg->interval_ms;
		}
		if (now >= next_flush) {
			int r = flush(p, sink);
			if (r < 0)
				log_warn("flush to %s failed: %s", sink->name,
					 strerror(-r));
			while (next_flush <= now)
				next_flush += p->cfg->flush_interval_ms;
		}
		int64_t wake = next_scan < next_flush ? next_scan : next_flush;
		int timeout = (int)(wake - now_monotonic_ms());
		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		int pr = poll(&pfd, 1, timeout > 0 ? timeout : 0);
		if (pr > 0) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				log_info("received %s: final flush",
					 strsignal((int)si.ssi_signo));
				break;
			}
		}
	}
	int r;
	if (p->src->request_poll) {
		/* What the kernel counted since the last scan. */
		r = pipeline_scan(p);
		if (r < 0)
			log_warn("final scan failed: %s", strerror(-r));
	}
	if (strcmp(p->src->name, "streaming") == 0) {
		struct ebpf_stats es;
		ebpf_get_stats(p->src, &es);
		log_stream_totals(&es, LOG_INFO);
	}
	r = flush(p, sink);
	if (r < 0)
		log_warn("final flush to %s failed: %s", sink->name,
			 strerror(-r));
	if (sink->drain) {
		/* Bounded: an unreachable CMDB must not block shutdown. */
		r = sink->drain(sink, now_monotonic_ms() + 5000);
		if (r < 0)
			log_warn("could not deliver everything before exit: %s",
				 strerror(-r));
	}
	return 0;
}

int cli_probe(int argc, char **argv)
{
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	if (probe_config_parse(argc, argv, &cfg, err) < 0) {
		fprintf(stderr, "shawk probe: %s\n", err);
		return EXIT_USAGE;
	}
	if (cfg.help) {
		fputs(probe_usage, stdout);
		return 0;
	}
	log_set_level((enum log_level)cfg.log_level);
	/* One scan, then exit: fresh memory is touched once, see mem.h. */
	if (cfg.once)
		mem_prefer_huge_heap(64u << 20);

	struct pipeline p = { .cfg = &cfg };
	int ret = 1;
	p.pm = procmap_new(cfg.host_proc, 0, 0);
	if (!p.pm) {
		log_error("cannot open --host-proc %s: %s", cfg.host_proc,
			  strerror(errno));
		return 1;
	}
	_cleanup_(sink_freep) struct sink *sink =
		cfg.output == OUTPUT_UNSET ? cmdb_sink_new(&cfg)
					   : stdout_sink_new(cfg.output);
	p.flows = flow_table_new(cfg.max_flows, 0);
	p.k8s = probe_k8s_new(&cfg, cfg.once);
	if (!sink || !p.flows || !p.k8s) {
		log_error("out of memory");
		goto out;
	}
	if (cfg.output == OUTPUT_UNSET)
		cmdb_sink_set_pods(sink, probe_k8s_pods(p.k8s));
	if (make_source(&p) < 0)
		goto out;

	if (cfg.once) {
		int r = pipeline_scan(&p);
		if (r < 0) {
			log_error("scan failed: %s", strerror(-r));
			goto out;
		}
		if (p.n == 0 && geteuid() != 0) {
			log_error("no socket visible at all: run as root (or "
				  "with CAP_SYS_ADMIN and CAP_SYS_PTRACE)");
			goto out;
		}
		if (p.n == 0)
			log_info("no TCP or UDP socket on this host");
		r = flush(&p, sink);
		/* The CMDB sink may have queued them: one bounded retry. */
		if (r >= 0 && sink->drain)
			r = sink->drain(sink, now_monotonic_ms() + 5000);
		if (r < 0)
			log_error("could not write the flows to %s: %s",
				  sink->name, strerror(-r));
		ret = r < 0 ? 1 : 0;
		goto out;
	}
	int r = run_loop(&p, sink);
	if (r < 0)
		log_error("probe stopped: %s", strerror(-r));
	ret = r < 0 ? 1 : 0;
out:
	source_free(p.src);
	flow_table_free(p.flows);
	probe_k8s_free(p.k8s);
	procmap_free(p.pm);
	free(p.recs);
	return ret;
}
