/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_DEPMAP_H
#define SHAWK_CORE_DEPMAP_H

#include "core/hindex.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The dependency map of `shawk serve`: the CMDB's edges folded to a level
 * a person can read. At workload level a pod is drawn as its workload
 * (namespace + Deployment/StatefulSet/DaemonSet/... name) and a pod
 * without a controller as itself; at pod level every pod is its own node.
 * Outside pods a node is a process at an address (addr + comm) at both
 * levels. Pure memory, no I/O; strings are owned copies and untrusted.
 */
enum depmap_level { DEPMAP_WORKLOAD = 0, DEPMAP_POD };
enum depmap_kind { DEPMAP_KIND_WORKLOAD, DEPMAP_KIND_POD, DEPMAP_KIND_PROCESS };

/* One end of a CMDB edge, as a row gives it (NULL: unknown / none). */
struct depmap_end {
	const char *addr; /* text form */
	const char *comm; /* "" when the process is unknown */
	const char *pod_namespace, *pod_name;
	const char *workload_kind, *workload_name;
};

struct depmap_node {
	enum depmap_kind kind;
	/* workload: ns, kind, name; pod: ns, name; process: addr, comm. */
	char *ns, *wkind, *name, *addr, *comm;
	char *key; /* unique per node, "\x1f"-separated parts */
	bool used, root;
};

struct depmap_edge {
	uint32_t client, server; /* node indexes */
	uint8_t proto;		 /* IPPROTO_TCP / IPPROTO_UDP */
	uint16_t port;		 /* server port */
	uint64_t connections;	 /* sum of connections_total */
	int64_t last_seen_ms;
	char *service; /* "ns/name" of a Service the calls went through;
			  the first named one wins; NULL: none */
	bool used;
};

struct depmap {
	enum depmap_level level;
	struct depmap_node *n;
	size_t nn, cap_n;
	struct depmap_edge *e;
	size_t ne, cap_e;
	struct hindex nidx, eidx; /* nodes by key, edges by their ends */
	size_t max_nodes; /* bound: adds fail with -E2BIG beyond it */
};

/* max_nodes 0: 100000 (edges: four times that). */
void depmap_init(struct depmap *m, enum depmap_level level, size_t max_nodes);
void depmap_clear(struct depmap *m);

/*
 * Folds one CMDB edge client -> server:port into the map at its level
 * (counts add, last_seen widens). Returns 0, -ENOMEM or -E2BIG.
 */
int depmap_add(struct depmap *m, const struct depmap_end *client,
	       const struct depmap_end *server, uint8_t proto, uint16_t port,
	       uint64_t connections, int64_t last_seen_ms);

/* The same for calls through the Service svc_ns/svc_name (NULL: none or
 * unnamed), which the edge then names. */
int depmap_add_via(struct depmap *m, const struct depmap_end *client,
		   const struct depmap_end *server, uint8_t proto,
		   uint16_t port, uint64_t connections, int64_t last_seen_ms,
		   const char *svc_ns, const char *svc_name);

/*
 * Marks as roots the nodes a page is about: a workload (ns, kind, name),
 * a pod (ns, name; at workload level the pod's workload cannot be told
 * from here, so pod pages use the pod level), or the processes at an
 * address (addr). Returns the number of roots.
 */
size_t depmap_root_workload(struct depmap *m, const char *ns,
			    const char *kind, const char *name);
size_t depmap_root_pod(struct depmap *m, const char *ns, const char *name);
size_t depmap_root_addr(struct depmap *m, const char *addr);

/*
 * Marks what is drawn. With roots: their callers, callers of callers ...
 * and callees, callees of callees ..., depth levels each way (as `look`).
 * Without roots: every edge. ns (NULL: any) keeps only edges with an end
 * in that namespace. Returns the number of edges marked.
 */
size_t depmap_select(struct depmap *m, const char *ns, int depth);

#endif
