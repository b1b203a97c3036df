// SPDX-License-Identifier: MIT
#include "render/graph.h"

#include "core/addr.h"
#include "core/util.h"
#include "render/common.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static void add_opt_string(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static cJSON *vertex_json(const struct graph_vertex *v, size_t id)
{
	char a[ADDR_STRLEN];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	addr_format(v->family, v->addr, a);
	cJSON_AddNumberToObject(o, "id", (double)id);
	cJSON_AddStringToObject(o, "addr", a);
	/* Always a number: a client's ephemeral ports ("many") are 0. */
	cJSON_AddNumberToObject(o, "port", v->port);
	if (!v->port)
		cJSON_AddTrueToObject(o, "ephemeral");
	cJSON_AddStringToObject(o, "role", v->service ? "service"
					   : v->port  ? "server"
						      : "client");
	cJSON *p = cJSON_AddObjectToObject(o, "process");
	if (p) {
		/* cJSON escapes quotes and control characters. */
		cJSON_AddStringToObject(p, "name", v->comm);
		cJSON_AddNumberToObject(p, "pgid", v->pgid);
	}
	if (v->container)
		cJSON_AddStringToObject(o, "container", v->container);
	else
		cJSON_AddNullToObject(o, "container");
	if (v->pod_name) {
		cJSON *pd = cJSON_AddObjectToObject(o, "pod");
		if (pd) {
			cJSON_AddStringToObject(pd, "namespace",
						v->pod_namespace
							? v->pod_namespace
							: "");
			cJSON_AddStringToObject(pd, "name", v->pod_name);
		}
	} else {
		cJSON_AddNullToObject(o, "pod");
	}
	/* Only a Service's own vertex (`look --host <ClusterIP>`). */
	if (v->service) {
		cJSON *sv = cJSON_AddObjectToObject(o, "service");
		if (sv) {
			add_opt_string(sv, "namespace", v->service_namespace);
			add_opt_string(sv, "name", v->service_name);
		}
	}
	return o;
}

/* "service": {"addr", "port", "namespace", "name"} | null, and
 * "nat_peer": {"addr" (the real client), "seen_as"} | null. */
static void edge_via_json(cJSON *o, const struct graph *g,
			  const struct graph_edge *e)
{
	const struct graph_vertex *c = &g->v[e->client];
	char a[ADDR_STRLEN];
	if (e->service) {
		cJSON *sv = cJSON_AddObjectToObject(o, "service");
		if (sv) {
			addr_format(c->family, e->svc_addr, a);
			cJSON_AddStringToObject(sv, "addr", a);
			cJSON_AddNumberToObject(sv, "port", e->svc_port);
			add_opt_string(sv, "namespace", e->svc_namespace);
			add_opt_string(sv, "name", e->svc_name);
		}
	} else {
		cJSON_AddNullToObject(o, "service");
	}
	if (e->nat) {
		cJSON *np = cJSON_AddObjectToObject(o, "nat_peer");
		if (np) {
			addr_format(c->family, c->addr, a);
			cJSON_AddStringToObject(np, "addr", a);
			addr_format(c->family, e->nat_seen, a);
			cJSON_AddStringToObject(np, "seen_as", a);
		}
	} else {
		cJSON_AddNullToObject(o, "nat_peer");
	}
}

static cJSON *edge_json(const struct graph *g, const struct graph_edge *e,
			const uint32_t *ids)
{
	char t[32];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "client",
				ids[graph_vertex_display(g, e->client)]);
	cJSON_AddNumberToObject(o, "server",
				ids[graph_vertex_display(g, e->server)]);
	cJSON_AddStringToObject(o, "proto", render_proto_name(e->proto));
	cJSON_AddNumberToObject(o, "connections", (double)e->connections);
	cJSON_AddNumberToObject(o, "connections_total",
				(double)e->connections_total);
	render_time_ms(t, sizeof(t), e->first_seen_ms);
	cJSON_AddStringToObject(o, "first_seen", t);
	render_time_ms(t, sizeof(t), e->last_seen_ms);
	cJSON_AddStringToObject(o, "last_seen", t);
	edge_via_json(o, g, e);
	if (g->diff) {
		cJSON_AddStringToObject(o, "change", render_change_name(e));
		cJSON_AddNumberToObject(o, "connections_before",
					(double)e->base_connections);
		cJSON_AddNumberToObject(o, "connections_change",
					(double)e->connections -
						(double)e->base_connections);
	}
	return o;
}

int render_json(FILE *out, struct graph *g, int depth)
{
	int r = graph_walk(g, depth, 0, NULL, NULL);
	if (r < 0)
		return r;
	_cleanup_(freep) uint32_t *ids = calloc(g->nv ? g->nv : 1,
						sizeof(*ids));
	cJSON *root = cJSON_CreateObject();
	if (!ids || !root) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	cJSON *roots = cJSON_AddArrayToObject(root, "roots");
	cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
	cJSON *edges = cJSON_AddArrayToObject(root, "edges");
	bool oom = !roots || !nodes || !edges;
	size_t next = 0;
	/* Ids are dense over the vertices the walk reached. */
	for (size_t i = 0; i < g->nv && !oom; i++) {
		if (!g->v[i].used)
			continue;
		ids[i] = (uint32_t)next;
		cJSON *o = vertex_json(&g->v[i], next++);
		oom = !o || !cJSON_AddItemToArray(nodes, o);
	}
	for (size_t i = 0; i < g->nroots && !oom; i++)
		oom = !cJSON_AddItemToArray(
			roots, cJSON_CreateNumber(ids[g->roots[i]]));
	for (size_t i = 0; i < g->ne && !oom; i++) {
		if (!g->e[i].used || render_edge_hidden(g, &g->e[i]))
			continue;
		cJSON *o = edge_json(g, &g->e[i], ids);
		oom = !o || !cJSON_AddItemToArray(edges, o);
	}
	if (oom) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	return render_json_print(out, root);
}
