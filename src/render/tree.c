// SPDX-License-Identifier: MIT
#include "render/graph.h"

#include "core/util.h"
#include "render/common.h"

struct tree_ctx {
	FILE *out;
};

static void tree_line(const struct graph *g, uint32_t vertex, uint32_t edge,
		      int depth, bool caller, void *ud)
{
	struct tree_ctx *t = ud;
	const struct graph_vertex *v = &g->v[vertex];
	char ep[96], proc[1024], svc[512] = "", nat[64] = "";
	render_vertex_endpoint(ep, sizeof(ep), v);
	if (edge != UINT32_MAX)
		render_edge_via(svc, sizeof(svc), nat, sizeof(nat), g,
				&g->e[edge]);
	render_vertex_process(proc, sizeof(proc), v);
	/* Each level sits under the text of its parent's arrow. */
	for (int i = 1; i < depth; i++)
		fputs("     ", t->out);
	if (depth > 0)
		fputs(caller ? "└<-- " : "└--> ", t->out);
	/* One line per edge: the Service it went through, the address a
	 * source NAT showed the server, after the peer. */
	fprintf(t->out, "%s (%s)%s%s%s%s\n", ep, proc, *svc ? " via " : "",
		svc, *nat ? " seen as " : "", nat);
}

int render_tree(FILE *out, struct graph *g, int depth)
{
	struct tree_ctx t = { .out = out };
	int r = graph_walk(g, depth, RENDER_TREE_MAX_LINES, tree_line, &t);
	if (r < 0)
		return r;
	if (r == 1)
		fprintf(out, "... (cut at %d lines)\n", RENDER_TREE_MAX_LINES);
	return ferror(out) ? -EIO : 0;
}
