/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_GRAPH_H
#define SHAWK_RENDER_GRAPH_H

#include "core/graph.h"

#include <stdio.h>

/* Lines of tree output at most; past it the tree says it was cut. */
#define RENDER_TREE_MAX_LINES 100000

/*
 * The renderers of a dependency graph (`shawk look`), one per output
 * format. Each walks g from its roots down to depth levels (marking what it
 * reaches) and prints it. Untrusted strings are made safe for the format.
 * Their shared helpers (labels, escaping) are in render/common.h. Return 0,
 * -ENOMEM or -EIO.
 */

/* The upstream tree: "addr:port ('comm', pgid=N)" then "└<-- " callers and
 * "└--> " callees, deeper levels indented under their parent. */
int render_tree(FILE *out, struct graph *g, int depth);

/* {"roots":[ids],"nodes":[...],"edges":[...]} on one line. */
int render_json(FILE *out, struct graph *g, int depth);

/* A Graphviz digraph, clients -> servers. */
int render_dot(FILE *out, struct graph *g, int depth);

#endif
