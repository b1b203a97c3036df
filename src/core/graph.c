// SPDX-License-Identifier: MIT
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
	char *n1 = strdup(ns ? ns : ""), *n2 = strdup(name);
	if (!n1 || !n2) {
		free(n1);
		free(n2);
		return -ENOMEM;
	}
	v->pod_namespace = n1;
	v->pod_name = n2;
	return 0;
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

int graph_vertex_set_service(struct graph *g, uint32_t idx, const char *ns,
			     const char *name)
{
	struct graph_vertex *v = &g->v[idx];
	v->service = true;
	if (v->service_name || !name)
		return 0;
	char *n1 = strdup(ns ? ns : ""), *n2 = strdup(name);
	if (!n1 || !n2) {
		free(n1);
		free(n2);
		return -ENOMEM;
	}
	v->service_namespace = n1;
	v->service_name = n2;
	return 0;
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

/* ---- walk ------------------------------------------------------------- */

/* Orders a vertex for stable output: address, port, process. */
static int vertex_cmp(const struct graph_vertex *a,
		      const struct graph_vertex *b)
{
	if (a->family != b->family)
		return a->family - b->family;
	int c = memcmp(a->addr, b->addr, addr_len(a->family));
	if (c)
		return c;
	if (a->port != b->port)
		return (int)a->port - (int)b->port;
	if (a->pgid != b->pgid)
		return a->pgid < b->pgid ? -1 : 1;
	return strcmp(a->comm, b->comm);
}

/* Edges between the same ends: direct first, then by Service. */
static int edge_via_cmp(const struct graph_edge *a,
			const struct graph_edge *b)
{
	if (a->proto != b->proto)
		return (int)a->proto - (int)b->proto;
	if (a->service != b->service)
		return a->service ? 1 : -1;
	if (!a->service)
		return 0;
	int c = memcmp(a->svc_addr, b->svc_addr, 16);
	return c ? c : (int)a->svc_port - (int)b->svc_port;
}

static int by_client_cmp(const void *pa, const void *pb, void *ud)
{
	const struct graph *g = ud;
	const struct graph_edge *a = &g->e[*(const uint32_t *)pa];
	const struct graph_edge *b = &g->e[*(const uint32_t *)pb];
	uint32_t ca = g->v[a->client].proc, cb = g->v[b->client].proc;
	if (ca != cb)
		return ca < cb ? -1 : 1;
	int c = vertex_cmp(&g->v[a->server], &g->v[b->server]);
	return c ? c : edge_via_cmp(a, b);
}

static int by_server_cmp(const void *pa, const void *pb, void *ud)
{
	const struct graph *g = ud;
	const struct graph_edge *a = &g->e[*(const uint32_t *)pa];
	const struct graph_edge *b = &g->e[*(const uint32_t *)pb];
	uint32_t sa = g->v[a->server].proc, sb = g->v[b->server].proc;
	if (sa != sb)
		return sa < sb ? -1 : 1;
	int c = vertex_cmp(&g->v[a->client], &g->v[b->client]);
	return c ? c : edge_via_cmp(a, b);
}

struct walk {
	struct graph *g;
	int max_depth;
	size_t max_lines, lines;
	bool truncated;
	graph_visit_fn fn;
	void *ud;
	uint32_t path[16];
};

/* First index in sorted (by proc of the end given) with that proc. */
static size_t lower_bound(const struct graph *g, const uint32_t *sorted,
			  bool client_end, uint32_t proc)
{
	size_t lo = 0, hi = g->ne;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct graph_edge *e = &g->e[sorted[mid]];
		uint32_t p = g->v[client_end ? e->client : e->server].proc;
		if (p < proc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool emit(struct walk *w, uint32_t vertex, uint32_t edge, int depth,
		 bool caller)
{
	if (w->max_lines && w->lines >= w->max_lines) {
		w->truncated = true;
		return false;
	}
	w->lines++;
	w->g->v[vertex].used = true;
	if (edge != UINT32_MAX)
		w->g->e[edge].used = true;
	if (w->fn)
		w->fn(w->g, vertex, edge, depth, caller, w->ud);
	return true;
}

static void expand(struct walk *w, uint32_t vertex, int depth, bool callers,
		   bool callees);

static void expand_one(struct walk *w, uint32_t vertex, int depth,
		       bool caller_dir)
{
	const struct graph *g = w->g;
	const struct graph_vertex *v = &g->v[vertex];
	const uint32_t *sorted = caller_dir ? g->by_server : g->by_client;
	for (size_t i = lower_bound(g, sorted, !caller_dir, v->proc);
	     i < g->ne && !w->truncated; i++) {
		const struct graph_edge *e = &g->e[sorted[i]];
		uint32_t self = caller_dir ? e->server : e->client;
		uint32_t peer = caller_dir ? e->client : e->server;
		if (g->v[self].proc != v->proc)
			break;
		/* A listening endpoint's callers are those of its port. */
		if (caller_dir && v->port && g->v[self].port != v->port)
			continue;
		if (!emit(w, peer, sorted[i], depth + 1, caller_dir))
			return;
		bool on_path = false;
		for (int d = 0; d <= depth; d++)
			on_path |= w->path[d] == g->v[peer].proc;
		if (!on_path)
			expand(w, peer, depth + 1, caller_dir, !caller_dir);
	}
}

static void expand(struct walk *w, uint32_t vertex, int depth, bool callers,
		   bool callees)
{
	if (depth >= w->max_depth || depth >= (int)ARRAY_SIZE(w->path))
		return;
	w->path[depth] = w->g->v[vertex].proc;
	if (callers)
		expand_one(w, vertex, depth, true);
	if (callees)
		expand_one(w, vertex, depth, false);
}

/*
 * Both ends of a reached edge are reached; then a process's client
 * endpoint folds into its listening endpoint, so a middle tier is one node
 * with edges in and out.
 */
static int fold(struct graph *g)
{
	free(g->proc_display);
	g->proc_display = malloc((g->nprocs ? g->nprocs : 1) *
				 sizeof(uint32_t));
	if (!g->proc_display)
		return -ENOMEM;
	for (size_t i = 0; i < g->ne; i++)
		if (g->e[i].used)
			g->v[g->e[i].client].used = g->v[g->e[i].server].used =
				true;
	for (size_t p = 0; p < g->nprocs; p++)
		g->proc_display[p] = UINT32_MAX;
	for (size_t i = 0; i < g->nv; i++)
		if (g->v[i].used && g->v[i].port &&
		    g->proc_display[g->v[i].proc] == UINT32_MAX)
			g->proc_display[g->v[i].proc] = (uint32_t)i;
	for (size_t i = 0; i < g->nv; i++)
		if (!g->v[i].port && graph_vertex_display(g, (uint32_t)i) != i)
			g->v[i].used = false;
	return 0;
}

int graph_walk(struct graph *g, int max_depth, size_t max_lines,
	       graph_visit_fn fn, void *userdata)
{
	struct walk w = {
		.g = g,
		.max_depth = max_depth,
		.max_lines = max_lines,
		.fn = fn,
		.ud = userdata,
	};
	free(g->by_client);
	free(g->by_server);
	g->by_client = malloc((g->ne ? g->ne : 1) * sizeof(uint32_t));
	g->by_server = malloc((g->ne ? g->ne : 1) * sizeof(uint32_t));
	if (!g->by_client || !g->by_server)
		return -ENOMEM;
	for (size_t i = 0; i < g->ne; i++) {
		g->by_client[i] = (uint32_t)i;
		g->by_server[i] = (uint32_t)i;
		g->e[i].used = false;
	}
	for (size_t i = 0; i < g->nv; i++)
		g->v[i].used = false;
	qsort_r(g->by_client, g->ne, sizeof(uint32_t), by_client_cmp, g);
	qsort_r(g->by_server, g->ne, sizeof(uint32_t), by_server_cmp, g);
	for (size_t i = 0; i < g->nroots && !w.truncated; i++) {
		if (!emit(&w, g->roots[i], UINT32_MAX, 0, false))
			break;
		expand(&w, g->roots[i], 0, true, true);
	}
	return fold(g) < 0 ? -ENOMEM : w.truncated ? 1 : 0;
}

uint32_t graph_vertex_display(const struct graph *g, uint32_t v)
{
	const struct graph_vertex *x = &g->v[v];
	if (x->port || !g->proc_display)
		return v;
	uint32_t d = g->proc_display[x->proc];
	return d == UINT32_MAX ? v : d;
}

static int root_cmp(const void *pa, const void *pb, void *ud)
{
	const struct graph *g = ud;
	return vertex_cmp(&g->v[*(const uint32_t *)pa],
			  &g->v[*(const uint32_t *)pb]);
}

void graph_roots_finish(struct graph *g)
{
	size_t o = 0;
	for (size_t i = 0; i < g->nroots; i++) {
		const struct graph_vertex *v = &g->v[g->roots[i]];
		bool shadowed = false;
		/* A client endpoint whose process also listens here is
		 * shown under its listening endpoints instead. */
		for (size_t k = 0; k < g->nroots && !v->port; k++)
			shadowed |= g->v[g->roots[k]].port &&
				    g->v[g->roots[k]].proc == v->proc;
		if (!shadowed)
			g->roots[o++] = g->roots[i];
	}
	g->nroots = o;
	/* An empty graph may have no roots array at all (NULL). */
	if (g->nroots > 1)
		qsort_r(g->roots, g->nroots, sizeof(*g->roots), root_cmp, g);
}
