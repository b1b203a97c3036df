// SPDX-License-Identifier: MIT
#include "render/graph.h"

#include "render/common.h"

#include <errno.h>

static void dot_label(FILE *out, const struct graph_vertex *v)
{
	char ep[96];
	render_vertex_endpoint(ep, sizeof(ep), v);
	fputs(ep, out);
	fputs("\\n", out);
	if (v->service) {
		fputs("service", out);
		if (v->service_name) {
			fputc(' ', out);
			escape_dot(out, v->service_namespace
						? v->service_namespace
						: "");
			fputc('/', out);
			escape_dot(out, v->service_name);
		}
		return;
	}
	if (v->pod_name) {
		escape_dot(out, v->pod_namespace ? v->pod_namespace : "");
		fputc('/', out);
		escape_dot(out, v->pod_name);
		if (v->container) {
			fputc(' ', out);
			escape_dot(out, v->container);
		}
		fputs("\\n", out);
	}
	if (!v->pgid && !*v->comm) {
		fputs("(not seen by an agent)", out);
		return;
	}
	fputc('\'', out);
	escape_dot(out, v->comm);
	fprintf(out, "', pgid=%u", v->pgid);
}

int render_dot(FILE *out, struct graph *g, int depth)
{
	int r = graph_walk(g, depth, 0, NULL, NULL);
	if (r < 0)
		return r;
	fputs("digraph shawk {\n"
	      "\trankdir=LR;\n"
	      "\tnode [shape=box, fontname=\"monospace\"];\n",
	      out);
	for (size_t i = 0; i < g->nv; i++) {
		if (!g->v[i].used)
			continue;
		fprintf(out, "\tn%zu [label=\"", i);
		dot_label(out, &g->v[i]);
		fputc('"', out);
		for (size_t k = 0; k < g->nroots; k++)
			if (g->roots[k] == i)
				fputs(", style=bold", out);
		fputs("];\n", out);
	}
	for (size_t i = 0; i < g->ne; i++) {
		const struct graph_edge *e = &g->e[i];
		if (!e->used)
			continue;
		char label[48], svc[512], nat[64];
		render_edge_count(label, sizeof(label), e);
		render_edge_via(svc, sizeof(svc), nat, sizeof(nat), g, e);
		fprintf(out, "\tn%u -> n%u [label=\"%s",
			graph_vertex_display(g, e->client),
			graph_vertex_display(g, e->server), label);
		/* The Service on a line of its own under the count. */
		if (*svc) {
			fputs("\\nvia ", out);
			escape_dot(out, svc);
		}
		if (*nat)
			fprintf(out, "\\nseen as %s", nat);
		fputs("\"];\n", out);
	}
	fputs("}\n", out);
	return ferror(out) ? -EIO : 0;
}
