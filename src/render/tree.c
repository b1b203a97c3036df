// SPDX-License-Identifier: MIT
#include "render/graph.h"

#include "core/util.h"
#include "render/common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The tree is drawn as tree(1) draws one: "├" for a child with a sibling
 * after it, "└" for the last, "│" down the levels still open. Which child
 * is last is only known once the walk is done, so the lines are kept
 * (depth, direction, text) and drawn at the end.
 */
/* graph_walk() goes at most this deep (its path). */
#define LOOK_TREE_MAX_DEPTH 16

struct tree_line {
	int depth;
	bool caller;
	char *text;
};

struct tree_ctx {
	struct tree_line *lines;
	size_t n, cap;
	bool oom;
};

static void edge_suffix(char *buf, size_t bufsz, const struct graph *g,
			const struct graph_edge *e)
{
	char count[48], age[32];
	render_edge_count(count, sizeof(count), e);
	if (!g->now_ms) {
		snprintf(buf, bufsz, "  [%s]", count);
		return;
	}
	render_age(age, sizeof(age), g->now_ms, e->last_seen_ms);
	if (g->stale_ms && g->now_ms - e->last_seen_ms > g->stale_ms)
		snprintf(buf, bufsz, "  [%s, last seen %s, stale]", count, age);
	else
		snprintf(buf, bufsz, "  [%s, %s]", count, age);
}

static void tree_collect(const struct graph *g, uint32_t vertex, uint32_t edge,
			 int depth, bool caller, void *ud)
{
	struct tree_ctx *t = ud;
	const struct graph_vertex *v = &g->v[vertex];
	char ep[96], proc[1024], suffix[128] = "", svc[512] = "", nat[64] = "";
	if (t->oom)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct tree_line *l = realloc(t->lines, cap * sizeof(*l));
		if (!l) {
			t->oom = true;
			return;
		}
		t->lines = l;
		t->cap = cap;
	}
	render_vertex_endpoint(ep, sizeof(ep), v);
	render_vertex_process(proc, sizeof(proc), v);
	if (edge != UINT32_MAX) {
		edge_suffix(suffix, sizeof(suffix), g, &g->e[edge]);
		render_edge_via(svc, sizeof(svc), nat, sizeof(nat), g,
				&g->e[edge]);
	}
	/* One line per edge: the Service it went through and the address a
	 * source NAT showed the server follow the peer. */
	size_t len = strlen(ep) + strlen(proc) + strlen(svc) + strlen(nat) +
		     strlen(suffix) + 24;
	char *text = malloc(len);
	if (!text) {
		t->oom = true;
		return;
	}
	snprintf(text, len, "%s (%s)%s%s%s%s%s", ep, proc, *svc ? " via " : "",
		 svc, *nat ? " seen as " : "", nat, suffix);
	t->lines[t->n++] = (struct tree_line){ depth, caller, text };
}

static void tree_draw(FILE *out, const struct tree_ctx *t)
{
	/* last[i]: no later sibling (same depth before a shallower line). */
	bool seen[LOOK_TREE_MAX_DEPTH + 2] = { false };
	bool open[LOOK_TREE_MAX_DEPTH + 2] = { false };
	_cleanup_(freep) bool *last = calloc(t->n ? t->n : 1, sizeof(bool));
	if (!last)
		return;
	for (size_t i = t->n; i-- > 0;) {
		int d = t->lines[i].depth;
		last[i] = !seen[d];
		seen[d] = true;
		for (int k = d + 1; k < (int)ARRAY_SIZE(seen); k++)
			seen[k] = false;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct tree_line *l = &t->lines[i];
		/* Several roots: a blank line between their trees. */
		if (l->depth == 0 && i > 0)
			fputc('\n', out);
		for (int k = 1; k < l->depth; k++)
			fputs(open[k] ? "│    " : "     ", out);
		if (l->depth > 0) {
			fputs(last[i] ? "└" : "├", out);
			fputs(l->caller ? "<-- " : "--> ", out);
		}
		fputs(l->text, out);
		fputc('\n', out);
		open[l->depth] = !last[i];
	}
}

int render_tree(FILE *out, struct graph *g, int depth)
{
	struct tree_ctx t = { 0 };
	int r = graph_walk(g, depth, RENDER_TREE_MAX_LINES, tree_collect, &t);
	if (r >= 0 && t.oom)
		r = -ENOMEM;
	if (r >= 0)
		tree_draw(out, &t);
	for (size_t i = 0; i < t.n; i++)
		free(t.lines[i].text);
	free(t.lines);
	if (r < 0)
		return r;
	if (r == 1)
		fprintf(out, "... (cut at %d lines)\n", RENDER_TREE_MAX_LINES);
	return ferror(out) ? -EIO : 0;
}
