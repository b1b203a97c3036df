/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_METRICS_H
#define SHAWK_AGENT_METRICS_H

#include "core/config.h"
#include "core/flow.h"
#include "core/util.h"
#include "k8s/podwatch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The agent's endpoints (--metrics-listen): /metrics in the Prometheus
 * text format and /healthz. Everything /metrics shows is formatted on the
 * loop's thread (the parts are not locked): after each scan (the parts'
 * counters, scan and flush histograms) and at each flush (the
 * shawk_connections_total series, from the interval's flows), then
 * published as prepared text under a mutex. The HTTP thread only copies
 * that text and reads a few timestamps, so a slow or hostile client never
 * holds the loop, and a stuck loop never holds /healthz.
 */

struct agent;
struct agent_metrics;

/*
 * Starts the HTTP server on cfg->metrics_listen. pods (may be NULL) names
 * the workloads of pods; a, when not NULL, is read by
 * agent_metrics_scanned() through agent_stats(). cfg, a and pods must
 * outlive the object. Returns 0 and *ret, or -errno with err set to one
 * line (-EADDRINUSE, -EACCES, -EINVAL, -ENOMEM).
 */
int agent_metrics_new(const struct probe_config *cfg, const struct agent *a,
		      struct pod_watch *pods, struct agent_metrics **ret,
		      char *err, size_t errsz);
void agent_metrics_free(struct agent_metrics *m);
DEFINE_FREEP(struct agent_metrics, agent_metrics_free)

/* The bound port (after listening on port 0). */
uint16_t agent_metrics_port(const struct agent_metrics *m);

/*
 * The loop's hooks (each accepts m NULL). scanned: one scan took dur_us
 * and returned r (< 0: failed), leaving nsockets socket records and
 * nflows flows in the table. flush_begin/flush_end: around one sink's
 * write(). flows: the interval's flows, before the sinks get them;
 * returns 0 or -ENOMEM.
 */
void agent_metrics_scanned(struct agent_metrics *m, int64_t dur_us, int r,
			   size_t nsockets, size_t nflows);
void agent_metrics_flush_begin(struct agent_metrics *m, const char *sink);
void agent_metrics_flush_end(struct agent_metrics *m, int64_t dur_us, int r);
int agent_metrics_flows(struct agent_metrics *m, const struct flow *flows,
			size_t n);

/* ---- pure parts, exposed for the tests ------------------------------- */

/* What /healthz judges, as the loop last published it. */
struct agent_health_state {
	int64_t started_ms;	 /* monotonic */
	int64_t last_scan_ok_ms; /* 0: none yet */
	int64_t flush_since_ms;	 /* a sink's write() runs since; 0: none */
	const char *flush_sink;	 /* its name */
	int last_scan_err;	 /* -errno of the last failed scan, 0 */
	int64_t interval_ms, stall_ms;
};

/*
 * True when healthy. Otherwise writes one line (no newline) saying why to
 * why: a flush running for stall_ms or more, or no successful scan for
 * interval_ms + stall_ms (counted from the start before the first).
 */
bool agent_health_check(const struct agent_health_state *s, int64_t now_ms,
			char *why, size_t whysz);

/* The labels of shawk_connections_total, in this order. */
enum {
	CONN_L_DIRECTION,
	CONN_L_CLIENT_NS,
	CONN_L_CLIENT_WORKLOAD,
	CONN_L_SERVER_NS,
	CONN_L_SERVER_WORKLOAD,
	CONN_L_SERVER_PORT,
	CONN_L_PROTO,
	CONN_L_N,
};
extern const char *const agent_metrics_conn_keys[CONN_L_N];

/* Pods by uid and by address: built from the pod watch at each flush. */
struct workload_index;
struct workload_index *workload_index_new(void);
void workload_index_free(struct workload_index *x);
DEFINE_FREEP(struct workload_index, workload_index_free)
/* Adds one pod (its uid and each address). Returns 0 or -ENOMEM. */
int workload_index_add(struct workload_index *x, const struct pod *p);
void workload_index_clear(struct workload_index *x);

/*
 * The label values of f (pointers into buf, of bufsz bytes, or into x):
 * the local side is the pod's workload ("Deployment/web", a bare pod as
 * "Pod/NAME") in its namespace, or "COMM@ADDR" with an empty namespace
 * outside pods; the peer is the workload of the pod of that address when
 * x knows it, else the address with an empty namespace. Passive flows:
 * the local side is the server. x may be NULL.
 */
void agent_metrics_flow_labels(const struct flow *f,
			       const struct workload_index *x,
			       const char *values[CONN_L_N], char *buf,
			       size_t bufsz);

#endif
