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
	char ep[96], proc[1024];
	const struct graph_edge *e = edge == UINT32_MAX ? NULL : &g->e[edge];
	if (e && render_edge_hidden(g, e))
		return;
	render_vertex_endpoint(ep, sizeof(ep), v);
	render_vertex_process(proc, sizeof(proc), v);
	/* A diff marks each edge line: + added, - removed, blank unchanged. */
	if (g->diff) {
		enum graph_change ch = e ? graph_edge_change(e) : GRAPH_UNCHANGED;
		fputs(ch == GRAPH_ADDED ? "+ " : ch == GRAPH_REMOVED ? "- " : "  ",
		      t->out);
	}
	/* Each level sits under the text of its parent's arrow. */
	for (int i = 1; i < depth; i++)
		fputs("     ", t->out);
	if (depth > 0)
		fputs(caller ? "└<-- " : "└--> ", t->out);
	fprintf(t->out, "%s (%s)", ep, proc);
	if (g->diff && e) {
		char count[64];
		render_edge_count(count, sizeof(count), g, e);
		fprintf(t->out, " [%s]", count);
	}
	fputc('\n', t->out);
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
