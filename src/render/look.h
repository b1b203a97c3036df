/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_LOOK_H
#define SHAWK_RENDER_LOOK_H

#include "core/graph.h"

#include <stdio.h>

/* Lines of tree output at most; past it the tree says it was cut. */
#define RENDER_TREE_MAX_LINES 100000

/*
 * Renderers of `shawk look`. Each walks g from its roots down to depth
 * levels (marking what it reaches) and prints it. Untrusted strings are
 * made safe for the format. Return 0, -ENOMEM or -EIO.
 */

/* The upstream tree: "addr:port ('comm', pgid=N)" then "└<-- " callers and
 * "└--> " callees, deeper levels indented under their parent. */
int render_tree(FILE *out, struct graph *g, int depth);

/* {"roots":[ids],"nodes":[...],"edges":[...]} on one line. */
int render_json(FILE *out, struct graph *g, int depth);

/* A Graphviz digraph, clients -> servers. */
int render_dot(FILE *out, struct graph *g, int depth);

/* "default/nginx-7c5d8 nginx 'nginx', pgid=1" without control characters
 * (the part inside the parentheses), into buf. */
void render_vertex_process(char *buf, size_t bufsz,
			   const struct graph_vertex *v);

/* RFC 3339 UTC with milliseconds, into buf (at least 32 bytes). */
void render_time_ms(char *buf, size_t bufsz, int64_t ms);

#endif
