/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_SVG_H
#define SHAWK_RENDER_SVG_H

#include "core/graph.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * SVG drawings laid out by Graphviz's library (dot layout, in process):
 * the only module that includes libgvc/cgraph. A drawing is described as
 * a plain list of boxes and arrows whose strings are untrusted text
 * (labels: lines separated by '\n'); the renderer makes them safe for
 * Graphviz (no escape sequences) and for SVG (Graphviz writes text as XML
 * character data). Links must be URLs escaped by the caller.
 */
struct svg_node {
	char *label;
	char *href; /* NULL: no link */
	bool bold;  /* a root */
};

struct svg_edge {
	uint32_t from, to;
	char *label;
	/* Graphviz attributes (static strings), NULL: the default. */
	const char *color, *style;
};

struct svg_graph {
	struct svg_node *n;
	size_t nn, cap_n;
	struct svg_edge *e;
	size_t ne, cap_e;
};

/* Adds a box; href may be NULL. Returns 0 and its index, or -ENOMEM. */
int svg_graph_node_add(struct svg_graph *g, const char *label,
		       const char *href, bool bold, uint32_t *ret_idx);

/* Adds an arrow from -> to. Returns 0, -EINVAL (no such box) or -ENOMEM. */
int svg_graph_edge_add(struct svg_graph *g, uint32_t from, uint32_t to,
		       const char *label);

void svg_graph_clear(struct svg_graph *g);

/*
 * Lays out g left to right and writes it as SVG: a standalone document,
 * or (inline) just the <svg> element, for an HTML page. Returns 0,
 * -ENOMEM or -EIO (layout or write failed).
 */
int render_svg_graph(FILE *out, const struct svg_graph *g, bool inline_svg);

/* `shawk look --format svg`: the drawing of render_dot, laid out. */
int render_svg(FILE *out, struct graph *g, int depth);

#endif
