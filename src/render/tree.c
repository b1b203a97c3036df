// SPDX-License-Identifier: MIT
#include "render/look.h"

#include "core/util.h"
#include "render/escape.h"
#include "render/flows.h"

#include <string.h>
#include <time.h>

void render_time_ms(char *buf, size_t bufsz, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char date[24];
	gmtime_r(&s, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, bufsz, "%s.%03dZ", date, (int)(ms % 1000));
}

void render_vertex_process(char *buf, size_t bufsz,
			   const struct graph_vertex *v)
{
	char tmp[1024];
	if (v->pod_name)
		snprintf(tmp, sizeof(tmp), "%s/%s %s%s'%s', pgid=%u",
			 v->pod_namespace ? v->pod_namespace : "",
			 v->pod_name, v->container ? v->container : "",
			 v->container ? " " : "", v->comm, v->pgid);
	else
		snprintf(tmp, sizeof(tmp), "'%s', pgid=%u", v->comm, v->pgid);
	escape_terminal_buf(buf, bufsz, tmp);
}

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
	render_endpoint(ep, sizeof(ep), v->family, v->addr, v->port);
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
