/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_QUERY_H
#define SHAWK_CMDB_QUERY_H

#include "cmdb/pg.h"
#include "core/graph.h"

#include <stdint.h>

enum look_selector {
	LOOK_SEL_HOST = 1, /* --ipv4, --ipv6, --host */
	LOOK_SEL_POD,	   /* --pod [NS/]NAME */
	LOOK_SEL_NAMESPACE /* --namespace NS */
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
 * selected addresses. Pods are joined by IP within their lifetime window.
 * Returns the number of roots (0: nothing known), -ENOENT (no such pod or
 * namespace), -ENOMEM, -E2BIG (graph bound) or -EIO/-ENOTCONN (see
 * cmdb_last_error).
 */
int cmdb_look(struct cmdb *db, const struct look_query *q, struct graph *g);

/*
 * Splits "[NS/]NAME" (Kubernetes names: no '/' in either part, not
 * empty) into buffers of nssz/namesz bytes; *ns is "" when absent.
 * Returns 0 or -EINVAL.
 */
int look_pod_parse(const char *s, char *ns, size_t nssz, char *name,
		   size_t namesz);

#endif
