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
	(void)edge;
	render_vertex_endpoint(ep, sizeof(ep), v);
	render_vertex_process(proc, sizeof(proc), v);
	/* Each level sits under the text of its parent's arrow. */
	for (int i = 1; i < depth; i++)
		fputs("     ", t->out);
	if (depth > 0)
		fputs(caller ? "└<-- " : "└--> ", t->out);
	fprintf(t->out, "%s (%s)\n", ep, proc);
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
