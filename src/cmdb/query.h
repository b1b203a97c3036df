/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_QUERY_H
#define SHAWK_CMDB_QUERY_H

#include "cmdb/pg.h"
#include "core/graph.h"

#include <stdint.h>

enum look_selector {
	LOOK_SEL_HOST = 1, /* --ipv4, --ipv6, --host */
	LOOK_SEL_POD,	   /* --pod [NS/]NAME */
	LOOK_SEL_NAMESPACE, /* --namespace NS */
	LOOK_SEL_ALL	    /* no selector: every server endpoint is a root */
};

#define LOOK_MAX_DEPTH 10

struct look_query {
	enum look_selector sel;
	int family; /* LOOK_SEL_HOST */
	uint8_t addr[16];
	const char *pod_namespace; /* LOOK_SEL_POD (NULL: any), _NAMESPACE */
	const char *pod_name;	   /* LOOK_SEL_POD */
	int depth;		   /* 1..LOOK_MAX_DEPTH */
	/* Edges seen within [since, until]; INT64_MIN / INT64_MAX: open. */
	int64_t since_ms, until_ms;
};

/*
 * Fills g with the neighbourhood of the selected addresses: the edges into
 * and out of them, then level by level (one query per direction and level,
 * all frontier addresses as one array parameter) down to q->depth, never
 * querying an address twice, so cycles end. Roots are the endpoints at the
 * selected addresses (for a pod selector: only those labelled with the
 * pod). Each end is labelled with its pod: from the process's cgroup when
 * an agent saw it, else by IP within the pod's lifetime (never a
 * hostNetwork pod by IP).
 * Returns the number of roots (0: nothing known), -ENOENT (no such pod or
 * namespace), -ENOMEM, -E2BIG (graph bound) or -EIO/-ENOTCONN (see
 * cmdb_last_error).
 */
int cmdb_look(struct cmdb *db, const struct look_query *q, struct graph *g);

/*
 * The namespaces holding a pod named q->pod_name within q's time window
 * (from the pods table and the agents' process records), at most 20, as
 * "a, b" in buf (bufsz bytes, cut to fit). Returns their number, or
 * -EIO/-ENOTCONN.
 */
int cmdb_pod_namespaces(struct cmdb *db, const struct look_query *q,
			char *buf, size_t bufsz);

#endif
