/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_GRAPH_H
#define SHAWK_CORE_GRAPH_H

#include "core/hindex.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The dependency graph `shawk look` prints: vertices are endpoints with
 * their process (a server addr:port, or a client addr:many), edges go from
 * client to server. The query layer fills it, the renderers read it. Pure
 * memory, no I/O. Strings are owned and untrusted (escape when printing).
 * core/graph.c builds it (the adds and marks below), core/graph_walk.c
 * reads it (graph_roots_finish, graph_walk, graph_vertex_display).
 */
struct graph_vertex {
	int family;
	uint8_t addr[16];
	uint16_t port; /* 0: the client side ("many") */
	uint32_t pgid; /* 0 with comm "" when the process is unknown */
	char *comm;
	char *container;
	char *pod_namespace;
	char *pod_name;
	uint32_t proc; /* index of (family, addr, pgid, comm) */
	bool used;     /* reached by graph_walk() */
	/* A Kubernetes Service's address (the root of `look --host
	 * <ClusterIP>`): its callers dialed it, its callees are the backends
	 * that answered. Name NULL when unknown. */
	bool service;
	char *service_namespace, *service_name;
};

/*
 * How an edge's client reached its server, when not directly: through a
 * Service (the address it dialed, DNATed to this server), and/or from
 * behind a source NAT (nat: the server saw the client as nat_seen). Same
 * family as the client. Strings are borrowed by graph_edge_add_via.
 */
struct graph_via {
	bool service;
	uint8_t svc_addr[16];
	uint16_t svc_port;
	const char *svc_namespace, *svc_name; /* NULL: unnamed */
	bool nat;
	uint8_t nat_seen[16];
};

struct graph_edge {
	uint32_t client, server; /* vertex indexes */
	uint8_t proto;		 /* IPPROTO_TCP / IPPROTO_UDP */
	uint64_t connections;	 /* last interval */
	uint64_t connections_total;
	int64_t first_seen_ms, last_seen_ms;
	bool used;
	/* Through a Service / from behind a NAT (struct graph_via); the
	 * strings are owned. */
	bool service, nat;
	uint16_t svc_port;
	uint8_t svc_addr[16];
	uint8_t nat_seen[16];
	char *svc_namespace, *svc_name;
	/* look --diff-since: active in the window and/or in the baseline,
	 * and the baseline's connections (connections: the window's). */
	bool in_window, in_base;
	uint64_t base_connections;
};

/* Of an edge in a diff (graph.diff). */
enum graph_change {
	GRAPH_UNCHANGED = 0,
	GRAPH_ADDED,
	GRAPH_REMOVED,
};

struct graph {
	struct graph_vertex *v;
	size_t nv, cap_v;
	struct graph_edge *e;
	size_t ne, cap_e;
	uint32_t *roots;
	size_t nroots, cap_roots;
	size_t nprocs;
	/* Vertex and edge dedup, processes. */
	struct hindex vidx, eidx, pidx;
	uint32_t *proc_vertex; /* a vertex of each process, for the proc key */
	size_t cap_procs;
	/* Adjacency built by graph_walk: edges sorted by client / server
	 * process. */
	uint32_t *by_client, *by_server;
	uint32_t *proc_display; /* per process: its first listening vertex */
	size_t max_vertices; /* bound: adds fail with -E2BIG beyond it */
	/* Counts are over a time window (connections started in it), not
	 * the last interval's; diff: edges compare two windows, and
	 * hide_unchanged leaves the unchanged ones out of the output. */
	bool windowed, diff, hide_unchanged;
	/* For the renderers: the time ages are counted from (0: print no
	 * ages), and the age past which an edge is marked stale. */
	int64_t now_ms, stale_ms;
};

/* max_vertices 0: a default of one million (edges: four times that). */
void graph_init(struct graph *g, size_t max_vertices);
void graph_clear(struct graph *g);

/*
 * Adds (or finds) the vertex; container/pod may be NULL. A known container
 * fills in a vertex first added without one. Returns 0 and its index,
 * -ENOMEM or -E2BIG.
 */
int graph_vertex_add(struct graph *g, int family, const uint8_t addr[16],
		     uint16_t port, uint32_t pgid, const char *comm,
		     const char *container, uint32_t *ret_idx);

/* Sets the pod of every vertex at this address. Returns 0 or -ENOMEM. */
int graph_set_pod(struct graph *g, int family, const uint8_t addr[16],
		  const char *ns, const char *name);

/*
 * Sets the pod of vertex idx unless it has one already (the first answer
 * wins: callers give the most specific first). ns may be NULL. Returns 0 or
 * -ENOMEM.
 */
int graph_vertex_set_pod(struct graph *g, uint32_t idx, const char *ns,
			 const char *name);

/*
 * Adds the edge client -> server, or merges it into the existing one of the
 * same proto (counts add, times widen). Returns 0, -ENOMEM or -E2BIG.
 */
int graph_edge_add(struct graph *g, uint32_t client, uint32_t server,
		   uint8_t proto, uint64_t connections, uint64_t total,
		   int64_t first_ms, int64_t last_ms);

/*
 * The same through via (NULL: directly). A different Service makes a
 * different edge; a NAT seen-as address is taken from the first record.
 * Returns 0, -ENOMEM or -E2BIG.
 */
int graph_edge_add_via(struct graph *g, uint32_t client, uint32_t server,
		       uint8_t proto, uint64_t connections, uint64_t total,
		       int64_t first_ms, int64_t last_ms,
		       const struct graph_via *via);

/* Marks vertex idx as a Service, named ns/name when name is not NULL
 * (the first name wins). Returns 0 or -ENOMEM. */
int graph_vertex_set_service(struct graph *g, uint32_t idx, const char *ns,
			     const char *name);

/*
 * Diff: records that the edge client -> server through via (added before
 * with graph_edge_add_via) was active in the window and/or the baseline,
 * adding base_connections to its baseline count. Returns 0 or -ENOENT.
 */
int graph_edge_mark(struct graph *g, uint32_t client, uint32_t server,
		    uint8_t proto, const struct graph_via *via, bool in_window,
		    bool in_base, uint64_t base_connections);

/* An edge's change between the baseline and the window. */
enum graph_change graph_edge_change(const struct graph_edge *e);

/* Marks a vertex as a root of the tree (once). Returns 0 or -ENOMEM. */
int graph_root_add(struct graph *g, uint32_t vertex);

/* ---- reading: core/graph_walk.c ---- */

/*
 * Sorts the roots and drops a client root whose process is also a root as
 * a server (its calls show under the listening endpoint). Quadratic in the
 * number of roots, which is small (the endpoints at a few addresses).
 */
void graph_roots_finish(struct graph *g);

/*
 * Walks the tree from each root: its callers (arrow "<--") and callees
 * ("-->"), then callers of callers and callees of callees, down to
 * max_depth levels. A process already on the path is shown but not
 * expanded again, so cycles end. Calls fn for each line of the tree in
 * order (edge is UINT32_MAX for a root) and marks what it reaches as used.
 * Stops after max_lines lines (0: no bound) and returns 1 then, else 0;
 * -ENOMEM.
 */
typedef void (*graph_visit_fn)(const struct graph *g, uint32_t vertex,
			       uint32_t edge, int depth, bool caller,
			       void *userdata);
int graph_walk(struct graph *g, int max_depth, size_t max_lines,
	       graph_visit_fn fn, void *userdata);

/*
 * After graph_walk: the vertex that stands for v in a graph drawing. A
 * client endpoint whose process also listens (a middle tier) is drawn as
 * that listening endpoint, which is then the one marked used.
 */
uint32_t graph_vertex_display(const struct graph *g, uint32_t v);

#endif
