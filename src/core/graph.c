// SPDX-License-Identifier: MIT
/*
 * Building the graph: vertices, edges and processes, each deduplicated
 * through a hash index; Services, pods and the diff marks set on them.
 * Walking it is graph_walk.c's.
 */
#include "core/graph.h"

#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_MAX_VERTICES (1u << 20)

void graph_init(struct graph *g, size_t max_vertices)
{
	memset(g, 0, sizeof(*g));
	g->max_vertices = max_vertices ? max_vertices : DEFAULT_MAX_VERTICES;
}

void graph_clear(struct graph *g)
{
	for (size_t i = 0; i < g->nv; i++) {
		free(g->v[i].comm);
		free(g->v[i].container);
		free(g->v[i].pod_namespace);
		free(g->v[i].pod_name);
		free(g->v[i].service_namespace);
		free(g->v[i].service_name);
	}
	for (size_t i = 0; i < g->ne; i++) {
		free(g->e[i].svc_namespace);
		free(g->e[i].svc_name);
	}
	free(g->v);
	free(g->e);
	free(g->roots);
	hindex_free(&g->vidx);
	hindex_free(&g->eidx);
	hindex_free(&g->pidx);
	free(g->proc_vertex);
	free(g->by_client);
	free(g->by_server);
	free(g->proc_display);
	graph_init(g, g->max_vertices);
}

static size_t addr_len(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

static uint64_t proc_hash(int family, const uint8_t *addr, uint32_t pgid,
			  const char *comm)
{
	uint64_t h = hash_bytes(addr, addr_len(family), (uint64_t)family);
	h = hash_bytes(&pgid, sizeof(pgid), h);
	return hash_bytes(comm, strlen(comm), h);
}

static bool same_proc(const struct graph_vertex *v, int family,
		      const uint8_t *addr, uint32_t pgid, const char *comm)
{
	return v->family == family && v->pgid == pgid &&
	       memcmp(v->addr, addr, addr_len(family)) == 0 &&
	       strcmp(v->comm, comm) == 0;
}

/* What the indexes compare an element with. */
struct vertex_key {
	const struct graph *g;
	int family;
	const uint8_t *addr;
	uint16_t port;
	uint32_t pgid;
	const char *comm;
};

struct edge_key {
	const struct graph *g;
	uint32_t client, server;
	uint8_t proto;
	bool service;
	uint16_t svc_port;
	const uint8_t *svc_addr;
};

static uint64_t vertex_hash(int family, const uint8_t *addr, uint16_t port,
			    uint32_t pgid, const char *comm)
{
	return hash_bytes(&port, sizeof(port),
			  proc_hash(family, addr, pgid, comm));
}

static uint64_t vertex_hash_of(uint32_t i, const void *ud)
{
	const struct graph_vertex *v = &((const struct graph *)ud)->v[i];
	return vertex_hash(v->family, v->addr, v->port, v->pgid, v->comm);
}

static bool vertex_eq(uint32_t i, const void *key)
{
	const struct vertex_key *k = key;
	const struct graph_vertex *v = &k->g->v[i];
	return v->port == k->port &&
	       same_proc(v, k->family, k->addr, k->pgid, k->comm);
}

static uint64_t proc_hash_of(uint32_t p, const void *ud)
{
	const struct graph *g = ud;
	const struct graph_vertex *v = &g->v[g->proc_vertex[p]];
	return proc_hash(v->family, v->addr, v->pgid, v->comm);
}

static bool proc_eq(uint32_t p, const void *key)
{
	const struct vertex_key *k = key;
	return same_proc(&k->g->v[k->g->proc_vertex[p]], k->family, k->addr,
			 k->pgid, k->comm);
}

/* The Service is part of an edge's identity; its name is not (one
 * address and port name one Service in the query's window). */
static uint64_t edge_hash(uint32_t c, uint32_t s, uint8_t proto,
			  uint16_t svc_port)
{
	return hash_u64(((uint64_t)c << 32 | s) ^ ((uint64_t)proto << 56) ^
			((uint64_t)svc_port << 40));
}

static uint64_t edge_hash_of(uint32_t i, const void *ud)
{
	const struct graph_edge *e = &((const struct graph *)ud)->e[i];
	return edge_hash(e->client, e->server, e->proto,
			 e->service ? e->svc_port : 0);
}

static bool edge_eq(uint32_t i, const void *key)
{
	const struct edge_key *k = key;
	const struct graph_edge *e = &k->g->e[i];
	return e->client == k->client && e->server == k->server &&
	       e->proto == k->proto && e->service == k->service &&
	       (!k->service || (e->svc_port == k->svc_port &&
				memcmp(e->svc_addr, k->svc_addr, 16) == 0));
}

static int grow_array(void **arr, size_t *cap, size_t count, size_t elem)
{
	if (count < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *n = realloc(*arr, ncap * elem);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

static int dup_opt(char **dst, const char *s)
{
	if (!s || *dst)
		return 0;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

/* A namespaced name (ns NULL: "") copied into *ret_ns and *ret_name, both
 * or neither. Returns 0 or -ENOMEM. */
static int dup_name(const char *ns, const char *name, char **ret_ns,
		    char **ret_name)
{
	char *n1 = strdup(ns ? ns : ""), *n2 = strdup(name);
	if (!n1 || !n2) {
		free(n1);
		free(n2);
		return -ENOMEM;
	}
	*ret_ns = n1;
	*ret_name = n2;
	return 0;
}

static int proc_find_or_add(struct graph *g, uint32_t vi)
{
	const struct graph_vertex *v = &g->v[vi];
	struct vertex_key k = { g, v->family, v->addr, 0, v->pgid, v->comm };
	uint64_t h = proc_hash(v->family, v->addr, v->pgid, v->comm);
	uint32_t p = hindex_find(&g->pidx, h, proc_eq, &k);
	int r;
	if (p != HINDEX_NONE)
		return (int)p;
	if ((r = hindex_reserve(&g->pidx, g->nprocs + 1, proc_hash_of, g)) < 0 ||
	    (r = grow_array((void **)&g->proc_vertex, &g->cap_procs,
			    g->nprocs, sizeof(uint32_t))) < 0)
		return r;
	g->proc_vertex[g->nprocs] = vi;
	hindex_add(&g->pidx, h, (uint32_t)g->nprocs);
	return (int)g->nprocs++;
}

int graph_vertex_add(struct graph *g, int family, const uint8_t addr[16],
		     uint16_t port, uint32_t pgid, const char *comm,
		     const char *container, uint32_t *ret_idx)
{
	struct vertex_key k = { g, family, addr, port, pgid, comm };
	uint64_t h = vertex_hash(family, addr, port, pgid, comm);
	uint32_t found = hindex_find(&g->vidx, h, vertex_eq, &k);
	int r;

	if (found != HINDEX_NONE) {
		if (dup_opt(&g->v[found].container, container) < 0)
			return -ENOMEM;
		*ret_idx = found;
		return 0;
	}
	if (g->nv >= g->max_vertices)
		return -E2BIG;
	if ((r = grow_array((void **)&g->v, &g->cap_v, g->nv, sizeof(*g->v))) <
		    0 ||
	    (r = hindex_reserve(&g->vidx, g->nv + 1, vertex_hash_of, g)) < 0)
		return r;
	struct graph_vertex *v = &g->v[g->nv];
	memset(v, 0, sizeof(*v));
	v->family = family;
	memcpy(v->addr, addr, addr_len(family));
	v->port = port;
	v->pgid = pgid;
	v->comm = strdup(comm);
	if (!v->comm || dup_opt(&v->container, container) < 0) {
		free(v->comm);
		return -ENOMEM;
	}
	uint32_t vi = (uint32_t)g->nv++;
	int p = proc_find_or_add(g, vi);
	if (p < 0) {
		g->nv--;
		free(v->comm);
		free(v->container);
		return p;
	}
	v->proc = (uint32_t)p;
	hindex_add(&g->vidx, h, vi);
	*ret_idx = vi;
	return 0;
}

int graph_set_pod(struct graph *g, int family, const uint8_t addr[16],
		  const char *ns, const char *name)
{
	for (size_t i = 0; i < g->nv; i++) {
		struct graph_vertex *v = &g->v[i];
		if (v->family != family ||
		    memcmp(v->addr, addr, addr_len(family)) != 0)
			continue;
		char *n1 = strdup(ns), *n2 = strdup(name);
		if (!n1 || !n2) {
			free(n1);
			free(n2);
			return -ENOMEM;
		}
		free(v->pod_namespace);
		free(v->pod_name);
		v->pod_namespace = n1;
		v->pod_name = n2;
	}
	return 0;
}

int graph_vertex_set_pod(struct graph *g, uint32_t idx, const char *ns,
			 const char *name)
{
	struct graph_vertex *v = &g->v[idx];
	if (v->pod_name || !name)
		return 0;
	return dup_name(ns, name, &v->pod_namespace, &v->pod_name);
}

int graph_edge_add(struct graph *g, uint32_t client, uint32_t server,
		   uint8_t proto, uint64_t connections, uint64_t total,
		   int64_t first_ms, int64_t last_ms)
{
	return graph_edge_add_via(g, client, server, proto, connections, total,
				  first_ms, last_ms, NULL);
}

int graph_edge_add_via(struct graph *g, uint32_t client, uint32_t server,
		       uint8_t proto, uint64_t connections, uint64_t total,
		       int64_t first_ms, int64_t last_ms,
		       const struct graph_via *via)
{
	static const uint8_t none[16];
	bool svc = via && via->service;
	struct edge_key k = { g, client, server, proto, svc,
			      svc ? via->svc_port : 0,
			      svc ? via->svc_addr : none };
	uint64_t h = edge_hash(client, server, proto, k.svc_port);
	uint32_t found = hindex_find(&g->eidx, h, edge_eq, &k);
	int r;
	if (found != HINDEX_NONE) {
		struct graph_edge *e = &g->e[found];
		e->connections += connections;
		e->connections_total += total;
		if (first_ms < e->first_seen_ms)
			e->first_seen_ms = first_ms;
		if (last_ms > e->last_seen_ms)
			e->last_seen_ms = last_ms;
		if (svc && !e->svc_name && via->svc_name &&
		    ((r = dup_opt(&e->svc_namespace, via->svc_namespace
							? via->svc_namespace
							: "")) < 0 ||
		     (r = dup_opt(&e->svc_name, via->svc_name)) < 0))
			return r;
		if (via && via->nat && !e->nat) {
			e->nat = true;
			memcpy(e->nat_seen, via->nat_seen, 16);
		}
		return 0;
	}
	if (g->ne >= 4 * g->max_vertices)
		return -E2BIG;
	if ((r = grow_array((void **)&g->e, &g->cap_e, g->ne, sizeof(*g->e))) <
		    0 ||
	    (r = hindex_reserve(&g->eidx, g->ne + 1, edge_hash_of, g)) < 0)
		return r;
	struct graph_edge e = {
		.client = client,
		.server = server,
		.proto = proto,
		.connections = connections,
		.connections_total = total,
		.first_seen_ms = first_ms,
		.last_seen_ms = last_ms,
	};
	if (svc) {
		e.service = true;
		e.svc_port = via->svc_port;
		memcpy(e.svc_addr, via->svc_addr, 16);
		if (via->svc_name &&
		    ((r = dup_opt(&e.svc_namespace, via->svc_namespace
							? via->svc_namespace
							: "")) < 0 ||
		     (r = dup_opt(&e.svc_name, via->svc_name)) < 0)) {
			free(e.svc_namespace);
			return r;
		}
	}
	if (via && via->nat) {
		e.nat = true;
		memcpy(e.nat_seen, via->nat_seen, 16);
	}
	g->e[g->ne] = e;
	hindex_add(&g->eidx, h, (uint32_t)g->ne++);
	return 0;
}

int graph_edge_mark(struct graph *g, uint32_t client, uint32_t server,
		    uint8_t proto, const struct graph_via *via, bool in_window,
		    bool in_base, uint64_t base_connections)
{
	static const uint8_t none[16];
	bool svc = via && via->service;
	struct edge_key k = { g, client, server, proto, svc,
			      svc ? via->svc_port : 0,
			      svc ? via->svc_addr : none };
	uint32_t found = hindex_find(&g->eidx,
				     edge_hash(client, server, proto, k.svc_port),
				     edge_eq, &k);
	if (found == HINDEX_NONE)
		return -ENOENT;
	struct graph_edge *e = &g->e[found];
	e->in_window |= in_window;
	e->in_base |= in_base;
	e->base_connections += base_connections;
	return 0;
}

enum graph_change graph_edge_change(const struct graph_edge *e)
{
	if (e->in_window && !e->in_base)
		return GRAPH_ADDED;
	if (e->in_base && !e->in_window)
		return GRAPH_REMOVED;
	return GRAPH_UNCHANGED;
}

int graph_vertex_set_service(struct graph *g, uint32_t idx, const char *ns,
			     const char *name)
{
	struct graph_vertex *v = &g->v[idx];
	v->service = true;
	if (v->service_name || !name)
		return 0;
	return dup_name(ns, name, &v->service_namespace, &v->service_name);
}

int graph_root_add(struct graph *g, uint32_t vertex)
{
	for (size_t i = 0; i < g->nroots; i++)
		if (g->roots[i] == vertex)
			return 0;
	int r = grow_array((void **)&g->roots, &g->cap_roots, g->nroots,
			   sizeof(*g->roots));
	if (r < 0)
		return r;
	g->roots[g->nroots++] = vertex;
	return 0;
}
