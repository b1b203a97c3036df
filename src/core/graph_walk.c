// SPDX-License-Identifier: MIT
/*
 * Reading the graph: the roots in a stable order, the walk from them (edges
 * sorted by client and server process, a binary search per expansion) and
 * the fold of a middle tier's client endpoint into its listening one.
 * Building it is graph.c's.
 */
#include "core/graph.h"

#include "core/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Orders a vertex for stable output: address, port, process. */
static int vertex_cmp(const struct graph_vertex *a,
		      const struct graph_vertex *b)
{
	if (a->family != b->family)
		return a->family - b->family;
	int c = memcmp(a->addr, b->addr, a->family == AF_INET6 ? 16 : 4);
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
