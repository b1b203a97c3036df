/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_SERVE_PAGE_H
#define SHAWK_SERVE_PAGE_H

#include "core/depmap.h"

#include <stdio.h>

/*
 * The HTML pages of `shawk serve`: plain HTML with the map drawn as inline
 * SVG, no script, nothing fetched from elsewhere. Pure output: the caller
 * queried the CMDB and selected what to draw (depmap_select).
 */
enum serve_page_kind {
	SERVE_PAGE_MAP,	     /* "/": the whole cluster */
	SERVE_PAGE_WORKLOAD, /* "/workload/NS/KIND/NAME" */
	SERVE_PAGE_POD,	     /* "/pod/NS/NAME" */
	SERVE_PAGE_HOST,     /* "/host/ADDR" */
};

struct serve_view {
	enum serve_page_kind kind;
	/* What the page is about (untrusted): ns, wkind, name; or addr. */
	const char *ns, *wkind, *name, *addr;
	/* Filters as the user gave them (NULL: absent), echoed in the form
	 * and carried by every link. */
	const char *filter_ns, *since, *until;
	int depth;
	enum depmap_level level;
};

/* The path of a node's page with the view's window and depth, as an
 * escaped URL; NULL when the node cannot have one (or on OOM). The
 * caller frees it. */
char *serve_node_href(const struct depmap_node *n, const struct serve_view *v);

/*
 * Writes the page for the marked part of m. Returns 0, -ENOMEM or -EIO
 * (drawing or writing failed).
 */
int serve_page_map(FILE *out, const struct depmap *m,
		   const struct serve_view *v);

/* A page holding one line: why the request failed (status: 400, 404,
 * 503...). */
void serve_page_error(FILE *out, int status, const char *reason);

#endif
