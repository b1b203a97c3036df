// SPDX-License-Identifier: MIT
#include "agent/metrics.h"

#include "agent/agent.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "metrics/prom.h"
#include "version.h" /* generated: SHAWK_VERSION */

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"

/* Seconds; a scan takes a few ms, a CMDB flush tens of ms. */
static const double scan_bounds[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025,  0.05,  0.1,    0.25,  0.5,
				      1,      2.5,   5,	     10 };
static const double flush_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
				       0.05,  0.1,    0.25,  0.5,  1,
				       2.5,   5,      10,    30,   60 };

/* ---- the object ---------------------------------------------------------- */

struct agent_metrics {
	const struct probe_config *cfg;
	const struct agent *agent;
	struct pod_watch *pods;
	struct http_server *http;
	const char *mode; /* the source's name, for build_info */

	/* The loop's thread only. */
	struct prom_histogram scan_hist, flush_hist;
	uint64_t scans, scan_failures, flushes, flush_failures;
	uint64_t nsockets, nflows;
	uint64_t loopback_skipped;
	struct prom_series conns;
	struct workload_index *wl;
	int64_t flush_started_us;

	/* Shared with the HTTP thread, under lock. */
	pthread_mutex_t lock;
	char *head;	/* formatted after each scan */
	size_t head_len;
	char *series;	/* formatted at each flush */
	size_t series_len;
	struct agent_health_state health;
	uint64_t scrapes;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Appends s to name[*len] with what metric names cannot hold as '_'. */
static void put_name(char *name, size_t size, size_t *len, const char *s)
{
	for (; *s && *len + 1 < size; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_';
		name[(*len)++] = ok ? c : '_';
	}
	name[*len] = '\0';
}

/* One part's counter as shawk_<object>_<name>[_total]. */
static void put_stat(const char *object, const char *name,
		     enum stat_kind kind, uint64_t value, const char *help,
		     void *ud)
{
	FILE *out = ud;
	char full[160];
	size_t len = 0;
	put_name(full, sizeof(full), &len, "shawk_");
	put_name(full, sizeof(full), &len, object);
	put_name(full, sizeof(full), &len, "_");
	put_name(full, sizeof(full), &len, name);
	if (kind == STAT_COUNTER)
		put_name(full, sizeof(full), &len, "_total");
	prom_family(out, full, kind == STAT_COUNTER ? "counter" : "gauge",
		    help);
	prom_sample(out, full, NULL, NULL, 0, value);
}

static uint64_t rss_bytes(void)
{
	/* The agent's own memory: /proc/self, not --host-proc. */
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size, rss;
	int n = f ? fscanf(f, "%llu %llu", &size, &rss) : 0;
	if (f)
		fclose(f);
	return n == 2 ? rss * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void counter(FILE *out, const char *name, const char *help,
		    uint64_t v)
{
	prom_family(out, name, "counter", help);
	prom_sample(out, name, NULL, NULL, 0, v);
}

static void gauge(FILE *out, const char *name, const char *help, uint64_t v)
{
	prom_family(out, name, "gauge", help);
	prom_sample(out, name, NULL, NULL, 0, v);
}

/* Swaps *slot for a new text under the lock; frees the old one. */
static void publish(struct agent_metrics *m, char **slot, size_t *slot_len,
		    char *text, size_t len)
{
	pthread_mutex_lock(&m->lock);
	char *old = *slot;
	*slot = text;
	*slot_len = len;
	pthread_mutex_unlock(&m->lock);
	free(old);
}

/* Everything but the connection series: after each scan and flush. */
static void format_head(struct agent_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return; /* OOM: the last text stays */
	static const char *const bkeys[] = { "version", "mode" };
	const char *bvals[] = { SHAWK_VERSION, m->mode };
	prom_family(out, "shawk_build_info", "gauge",
		    "always 1: the agent's version and source");
	prom_sample(out, "shawk_build_info", bkeys, bvals, 2, 1);
	counter(out, "shawk_scans_total", "socket scans done", m->scans);
	counter(out, "shawk_scan_failures_total", "socket scans that failed",
		m->scan_failures);
	prom_histogram_write(out, "shawk_scan_duration_seconds",
			     "time one scan took (source, stages, flow table)",
			     &m->scan_hist);
	gauge(out, "shawk_scan_sockets", "socket records of the last scan",
	      m->nsockets);
	gauge(out, "shawk_scan_flows",
	      "flows of the current interval after the last scan", m->nflows);
	counter(out, "shawk_flushes_total", "writes of an interval to a sink",
		m->flushes);
	counter(out, "shawk_flush_failures_total",
		"writes of an interval that failed (the flows are lost)",
		m->flush_failures);
	prom_histogram_write(out, "shawk_flush_duration_seconds",
			     "time one sink's write of an interval took",
			     &m->flush_hist);
	gauge(out, "shawk_memory_rss_bytes", "resident memory of the agent",
	      rss_bytes());
	if (m->agent)
		agent_stats(m->agent, put_stat, out);
	if (fclose(out) != 0 || !buf) {
		free(buf);
		return;
	}
	publish(m, &m->head, &m->head_len, buf, len);
}

static void format_series(struct agent_metrics *m)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	if (!out)
		return;
	prom_series_write(out, "shawk_connections_total",
			  "connections opened, by client and server workload "
			  "(each counted once)",
			  &m->conns);
	gauge(out, "shawk_connection_series",
	      "series of shawk_connections_total", m->conns.n);
	gauge(out, "shawk_connection_series_max",
	      "bound on them (--metrics-max-series)", m->conns.max_series);
	counter(out, "shawk_connections_dropped_total",
		"connections of series refused by the bound",
		m->conns.dropped);
	counter(out, "shawk_connection_series_dropped_total",
		"flows refused by the bound, one per flow and flush",
		m->conns.dropped_events);
	counter(out, "shawk_connections_loopback_skipped_total",
		"connections over loopback not counted (--include-loopback)",
		m->loopback_skipped);
	if (fclose(out) != 0 || !buf) {
		free(buf);
		return;
	}
	publish(m, &m->series, &m->series_len, buf, len);
}

void agent_metrics_scanned(struct agent_metrics *m, int64_t dur_us, int r,
			   size_t nsockets, size_t nflows)
{
	if (!m)
		return;
	m->scans++;
	if (r < 0)
		m->scan_failures++;
	prom_histogram_observe(&m->scan_hist, (double)dur_us / 1e6);
	m->nsockets = nsockets;
	m->nflows = nflows;
	int64_t now = now_monotonic_ms();
	pthread_mutex_lock(&m->lock);
	if (r >= 0) {
		m->health.last_scan_ok_ms = now;
		m->health.last_scan_err = 0;
	} else {
		m->health.last_scan_err = r;
	}
	pthread_mutex_unlock(&m->lock);
	format_head(m);
}

void agent_metrics_flush_begin(struct agent_metrics *m, const char *sink)
{
	if (!m)
		return;
	m->flush_started_us = now_us();
	pthread_mutex_lock(&m->lock);
	m->health.flush_since_ms = now_monotonic_ms();
	m->health.flush_sink = sink; /* a sink's static name */
	pthread_mutex_unlock(&m->lock);
}

void agent_metrics_flush_backlog(struct agent_metrics *m, const char *sink,
				 int64_t since_ms)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	if (since_ms) {
		m->health.flush_since_ms = since_ms;
		m->health.flush_sink = sink;
	} else if (m->health.flush_sink == sink) {
		m->health.flush_since_ms = 0;
	}
	pthread_mutex_unlock(&m->lock);
}

void agent_metrics_flush_end(struct agent_metrics *m, int64_t dur_us, int r)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	m->health.flush_since_ms = 0;
	pthread_mutex_unlock(&m->lock);
	m->flushes++;
	if (r < 0)
		m->flush_failures++;
	prom_histogram_observe(&m->flush_hist, (double)dur_us / 1e6);
	format_head(m);
}

struct wl_fill {
	struct workload_index *x;
	int r;
};

static void wl_fill_one(const struct pod *p, void *ud)
{
	struct wl_fill *c = ud;
	if (c->r == 0)
		c->r = workload_index_add(c->x, p);
}

int agent_metrics_flows(struct agent_metrics *m, const struct flow *flows,
			size_t n)
{
	if (!m)
		return 0;
	if (!n)
		return 0;
	struct wl_fill fill = { .x = m->wl };
	workload_index_clear(m->wl);
	if (m->pods)
		pod_watch_foreach(m->pods, wl_fill_one, &fill);
	/* Without the index (OOM) pods fall back to their names. */
	const struct workload_index *x = fill.r == 0 ? m->wl : NULL;
	int ret = 0;
	bool changed = false;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		if (!f->new_connections)
			continue;
		changed = true;
		if (!m->cfg->include_loopback && flow_is_loopback(f)) {
			m->loopback_skipped += f->new_connections;
			continue;
		}
		const char *v[CONN_L_N];
		char buf[512];
		agent_metrics_flow_labels(f, x, v, buf, sizeof(buf));
		int r = prom_series_add(&m->conns, v, f->new_connections);
		if (r < 0)
			ret = r;
	}
	/* 10k series are ~2 MB of text: only when a count moved. */
	if (changed)
		format_series(m);
	return ret;
}

/* ---- the HTTP side --------------------------------------------------------- */

static int no_args(void *ud, const char *key, const char *value)
{
	(void)value;
	strscpy(ud, key, 64);
	return 1;
}

static void serve_metrics(struct agent_metrics *m,
			  struct http_response *resp)
{
	pthread_mutex_lock(&m->lock);
	uint64_t scrapes = ++m->scrapes;
	size_t len = m->head_len + m->series_len;
	char *body = malloc(len + 256);
	if (body) {
		if (m->head_len)
			memcpy(body, m->head, m->head_len);
		if (m->series_len)
			memcpy(body + m->head_len, m->series, m->series_len);
	}
	pthread_mutex_unlock(&m->lock);
	if (!body) {
		resp->status = 500;
		return;
	}
	len += (size_t)snprintf(body + len, 256,
				"# HELP shawk_metrics_scrapes_total requests "
				"of /metrics served\n"
				"# TYPE shawk_metrics_scrapes_total counter\n"
				"shawk_metrics_scrapes_total %" PRIu64 "\n",
				scrapes);
	resp->status = 200;
	resp->content_type = PROM_TYPE;
	resp->body = body;
	resp->len = len;
}

static void serve_health(struct agent_metrics *m, struct http_response *resp)
{
	char why[256];
	pthread_mutex_lock(&m->lock);
	struct agent_health_state st = m->health;
	pthread_mutex_unlock(&m->lock);
	int64_t now = now_monotonic_ms();
	if (!agent_health_check(&st, now, why, sizeof(why))) {
		http_response_printf(resp, 503, TEXT_TYPE, "%s\n", why);
		return;
	}
	if (st.last_scan_ok_ms)
		http_response_printf(resp, 200, TEXT_TYPE,
				     "ok: last scan %.1fs ago\n",
				     (double)(now - st.last_scan_ok_ms) / 1000);
	else
		http_response_printf(resp, 200, TEXT_TYPE,
				     "ok: starting, no scan yet\n");
}

static void on_request(void *ud, const struct http_request *req,
		       struct http_response *resp)
{
	struct agent_metrics *m = ud;
	const char *path = http_request_path(req);
	char arg[64] = "";
	bool known = !strcmp(path, "/metrics") || !strcmp(path, "/healthz") ||
		     !strcmp(path, "/");
	if (!known) {
		http_response_printf(resp, 404, TEXT_TYPE,
				     "not found: this agent serves /metrics "
				     "and /healthz\n");
		return;
	}
	if (http_request_args_each(req, no_args, arg)) {
		http_response_printf(resp, 400, TEXT_TYPE,
				     "%s takes no query parameter (got "
				     "'%s')\n",
				     path, arg);
		return;
	}
	if (!strcmp(path, "/metrics"))
		serve_metrics(m, resp);
	else if (!strcmp(path, "/healthz"))
		serve_health(m, resp);
	else
		http_response_printf(resp, 200, TEXT_TYPE,
				     "shawk probe: /metrics (Prometheus), "
				     "/healthz\n");
}

int agent_metrics_new(const struct probe_config *cfg, const struct agent *a,
		      struct pod_watch *pods, struct agent_metrics **ret,
		      char *err, size_t errsz)
{
	_cleanup_(agent_metrics_freep) struct agent_metrics *m =
		calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	if (!(m->wl = workload_index_new())) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	m->cfg = cfg;
	m->agent = a;
	m->pods = pods;
	m->mode = a ? agent_source_name(a) : "none";
	prom_histogram_init(&m->scan_hist, scan_bounds,
			    ARRAY_SIZE(scan_bounds));
	prom_histogram_init(&m->flush_hist, flush_bounds,
			    ARRAY_SIZE(flush_bounds));
	prom_series_init(&m->conns, agent_metrics_conn_keys, CONN_L_N,
			 cfg->metrics_max_series);
	m->health = (struct agent_health_state){
		.started_ms = now_monotonic_ms(),
		.interval_ms = cfg->interval_ms,
		.stall_ms = cfg->health_stall_ms,
	};
	/* Served from the first request on, before the first scan. */
	format_head(m);
	format_series(m);
	struct http_config hc = {
		.listen = cfg->metrics_listen,
		/* Prometheus and a kubelet probe: a few clients at most. */
		.max_connections = 16,
		.timeout_s = 10,
		.max_request = 4096,
	};
	int r = http_server_start(&hc, on_request, m, &m->http, err, errsz);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

uint16_t agent_metrics_port(const struct agent_metrics *m)
{
	return http_server_port(m->http);
}

void agent_metrics_free(struct agent_metrics *m)
{
	if (!m)
		return;
	/* The server first: no request reads what follows once it stopped. */
	http_server_free(m->http);
	prom_series_clear(&m->conns);
	workload_index_free(m->wl);
	free(m->head);
	free(m->series);
	pthread_mutex_destroy(&m->lock);
	free(m);
}
