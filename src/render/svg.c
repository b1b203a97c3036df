// SPDX-License-Identifier: MIT
#include "render/svg.h"

#include "core/utf8.h"
#include "core/util.h"
#include "render/flows.h"
#include "render/graph.h"
#include "render/common.h"

#include <dlfcn.h>
#include <errno.h>
#include <gvc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

/* The two plugins used, linked in rather than found through Graphviz's
 * plugin configuration at run time: the binary draws the same wherever it
 * runs, including the image that holds nothing but shawk and its
 * libraries. */
extern gvplugin_library_t gvplugin_dot_layout_LTX_library;
extern gvplugin_library_t gvplugin_core_LTX_library;
static const lt_symlist_t svg_builtins[] = {
	{ "gvplugin_dot_layout_LTX_library", &gvplugin_dot_layout_LTX_library },
	{ "gvplugin_core_LTX_library", &gvplugin_core_LTX_library },
	{ NULL, NULL },
};

/* Graphviz keeps global state: one context for the process, and one
 * drawing at a time. */
static GVC_t *svg_gvc;
static pthread_mutex_t svg_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * dot's layered layout grows much faster than linearly: a map of 1000
 * workloads and 5000 edges takes it minutes. Past these sizes the drawing
 * uses sfdp (multilevel force-directed, seconds), from the neato plugin,
 * loaded on first need only: it pulls GTS, GLib and libstdc++, which no
 * other command should pay for at start. Without it, dot draws anyway.
 */
#define SVG_DOT_MAX_NODES 300
#define SVG_DOT_MAX_EDGES 1200
static int sfdp_state; /* 0 unknown, 1 loaded, -1 unavailable */

static bool sfdp_load(void)
{
	if (sfdp_state == 0) {
		/* Found through the binary's run path (Graphviz's plugin
		 * directory, like the two plugins linked in). */
		void *h = dlopen("libgvplugin_neato_layout.so.6",
				 RTLD_NOW | RTLD_LOCAL);
		gvplugin_library_t *lib =
			h ? dlsym(h, "gvplugin_neato_layout_LTX_library") : NULL;
		if (lib)
			gvAddLibrary(svg_gvc, lib);
		sfdp_state = lib ? 1 : -1;
	}
	return sfdp_state > 0;
}

int svg_graph_node_add(struct svg_graph *g, const char *label,
		       const char *href, bool bold, uint32_t *ret_idx)
{
	if (g->nn == g->cap_n) {
		size_t cap = g->cap_n ? g->cap_n * 2 : 64;
		struct svg_node *n = realloc(g->n, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		g->n = n;
		g->cap_n = cap;
	}
	struct svg_node *n = &g->n[g->nn];
	*n = (struct svg_node){ .label = strdup(label ? label : ""),
				.href = href ? strdup(href) : NULL,
				.bold = bold };
	if (!n->label || (href && !n->href)) {
		free(n->label);
		free(n->href);
		return -ENOMEM;
	}
	*ret_idx = (uint32_t)g->nn++;
	return 0;
}

int svg_graph_edge_add(struct svg_graph *g, uint32_t from, uint32_t to,
		       const char *label)
{
	if (from >= g->nn || to >= g->nn)
		return -EINVAL;
	if (g->ne == g->cap_e) {
		size_t cap = g->cap_e ? g->cap_e * 2 : 64;
		struct svg_edge *e = realloc(g->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		g->e = e;
		g->cap_e = cap;
	}
	struct svg_edge *e = &g->e[g->ne];
	*e = (struct svg_edge){ .from = from, .to = to,
				.label = strdup(label ? label : "") };
	if (!e->label)
		return -ENOMEM;
	g->ne++;
	return 0;
}

void svg_graph_clear(struct svg_graph *g)
{
	for (size_t i = 0; i < g->nn; i++) {
		free(g->n[i].label);
		free(g->n[i].href);
	}
	for (size_t i = 0; i < g->ne; i++)
		free(g->e[i].label);
	free(g->n);
	free(g->e);
	*g = (struct svg_graph){ 0 };
}

/*
 * Graphviz reads label strings as "escString": a backslash starts an
 * escape (\N is the node's name, \l a line break) and the charset is
 * UTF-8. Doubles backslashes, turns '\n' into the centred line break,
 * replaces control characters and invalid UTF-8 with '?'. Returns a
 * malloc'd string or NULL (OOM).
 */
static char *gv_label(const char *s)
{
	size_t n = strlen(s);
	_cleanup_(freep) char *copy = strdup(s);
	char *out = malloc(2 * n + 1), *o = out;
	if (!copy || !out) {
		free(out);
		return NULL;
	}
	utf8_sanitize(copy);
	for (const unsigned char *p = (const unsigned char *)copy; *p; p++) {
		if (*p == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*p == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (*p < 0x20 || *p == 0x7f ||
			   (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)) {
			if (*p == 0xc2)
				p++;
			*o++ = '?';
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

/*
 * Graphviz copies a link into the SVG attribute as it is: '&' must come
 * as its entity, and whatever could end the attribute or is not plain
 * ASCII is percent-encoded (a caller's URL has none of them). Returns a
 * malloc'd string or NULL (OOM).
 */
static char *svg_href(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(5 * strlen(s) + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '&') {
			memcpy(o, "&amp;", 5);
			o += 5;
		} else if (*p <= 0x20 || *p >= 0x7f || *p == '<' ||
			   *p == '>' || *p == '"' || *p == '\'' ||
			   *p == '\\') {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		} else {
			*o++ = (char)*p;
		}
	}
	*o = '\0';
	return out;
}

static int set_attr(void *obj, const char *name, const char *raw)
{
	_cleanup_(freep) char *v = gv_label(raw);
	if (!v)
		return -ENOMEM;
	agsafeset(obj, (char *)name, v, "");
	return 0;
}

/* Builds the cgraph graph; returns it or NULL on OOM. */
static Agraph_t *build(const struct svg_graph *g)
{
	Agraph_t *G = agopen((char *)"shawk", Agdirected, NULL);
	char name[32];
	if (!G)
		return NULL;
	agattr(G, AGRAPH, (char *)"rankdir", (char *)"LR");
	agattr(G, AGNODE, (char *)"shape", (char *)"box");
	/* Without a text layout plugin Graphviz sizes boxes from its own
	 * font metrics, which it has for Courier: a browser's monospace
	 * font is as wide (0.6 em), so labels fit their boxes. */
	agattr(G, AGNODE, (char *)"fontname", (char *)"Courier,monospace");
	agattr(G, AGNODE, (char *)"fontsize", (char *)"10");
	agattr(G, AGEDGE, (char *)"fontname", (char *)"Courier,monospace");
	agattr(G, AGEDGE, (char *)"fontsize", (char *)"9");
	Agnode_t **nodes = calloc(g->nn ? g->nn : 1, sizeof(*nodes));
	if (!nodes)
		goto fail;
	for (size_t i = 0; i < g->nn; i++) {
		snprintf(name, sizeof(name), "n%zu", i);
		nodes[i] = agnode(G, name, 1);
		if (!nodes[i] || set_attr(nodes[i], "label", g->n[i].label) < 0)
			goto fail;
		if (g->n[i].href) {
			char *href = svg_href(g->n[i].href);
			if (!href)
				goto fail;
			agsafeset(nodes[i], (char *)"href", href, "");
			free(href);
		}
		if (g->n[i].href && set_attr(nodes[i], "tooltip",
					     g->n[i].label) < 0)
			goto fail;
		if (g->n[i].bold)
			agsafeset(nodes[i], (char *)"style", (char *)"bold", "");
	}
	for (size_t i = 0; i < g->ne; i++) {
		Agedge_t *e = agedge(G, nodes[g->e[i].from], nodes[g->e[i].to],
				     NULL, 1);
		if (!e || set_attr(e, "label", g->e[i].label) < 0)
			goto fail;
	}
	free(nodes);
	return G;
fail:
	free(nodes);
	agclose(G);
	return NULL;
}

int render_svg_graph(FILE *out, const struct svg_graph *g, bool inline_svg)
{
	char *data = NULL;
	unsigned int len = 0;
	int r = 0;

	pthread_mutex_lock(&svg_lock);
	if (!svg_gvc)
		svg_gvc = gvContextPlugins(svg_builtins, 0);
	if (!svg_gvc) {
		pthread_mutex_unlock(&svg_lock);
		return -ENOMEM;
	}
	Agraph_t *G = build(g);
	if (!G) {
		pthread_mutex_unlock(&svg_lock);
		return -ENOMEM;
	}
	const char *engine = "dot";
	if ((g->nn > SVG_DOT_MAX_NODES || g->ne > SVG_DOT_MAX_EDGES) &&
	    sfdp_load()) {
		engine = "sfdp";
		agsafeset(G, (char *)"overlap", (char *)"prism", "");
	}
	if (gvLayout(svg_gvc, G, engine) != 0) {
		r = -EIO;
	} else {
		if (gvRenderData(svg_gvc, G, "svg", &data, &len) != 0)
			r = -EIO;
		gvFreeLayout(svg_gvc, G);
	}
	agclose(G);
	pthread_mutex_unlock(&svg_lock);
	if (r < 0)
		return r;

	const char *start = data;
	if (inline_svg) {
		/* Inside HTML: no XML declaration or DOCTYPE. */
		const char *svg = data ? strstr(data, "<svg") : NULL;
		if (svg)
			start = svg;
	}
	if (start && fwrite(start, 1, len - (unsigned)(start - data), out) !=
			     len - (size_t)(start - data))
		r = -EIO;
	gvFreeRenderData(data);
	return r < 0 ? r : ferror(out) ? -EIO : 0;
}

/* The label render_dot draws, as plain lines. */
static int look_label(char **ret, const struct graph_vertex *v)
{
	char ep[96], who[600];
	render_endpoint(ep, sizeof(ep), v->family, v->addr, v->port);
	if (!v->pgid && !*v->comm)
		snprintf(who, sizeof(who), "(not seen by an agent)");
	else
		snprintf(who, sizeof(who), "'%s', pgid=%u", v->comm, v->pgid);
	int n;
	if (v->service)
		n = asprintf(ret, "%s\nservice%s%s%s%s", ep,
			     v->service_name ? " " : "",
			     v->service_namespace ? v->service_namespace : "",
			     v->service_name ? "/" : "",
			     v->service_name ? v->service_name : "");
	else if (v->pod_name)
		n = asprintf(ret, "%s\n%s/%s%s%s\n%s", ep,
			     v->pod_namespace ? v->pod_namespace : "",
			     v->pod_name, v->container ? " " : "",
			     v->container ? v->container : "", who);
	else
		n = asprintf(ret, "%s\n%s", ep, who);
	return n < 0 ? -ENOMEM : 0;
}

int render_svg(FILE *out, struct graph *g, int depth)
{
	_cleanup_(svg_graph_clear) struct svg_graph sg = { 0 };
	_cleanup_(freep) uint32_t *map = NULL;
	int r = graph_walk(g, depth, 0, NULL, NULL);
	if (r < 0)
		return r;
	map = malloc((g->nv ? g->nv : 1) * sizeof(*map));
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < g->nv; i++) {
		_cleanup_(freep) char *label = NULL;
		bool root = false;
		if (!g->v[i].used)
			continue;
		if ((r = look_label(&label, &g->v[i])) < 0)
			return r;
		for (size_t k = 0; k < g->nroots; k++)
			root |= g->roots[k] == i;
		if ((r = svg_graph_node_add(&sg, label, NULL, root, &map[i])) < 0)
			return r;
	}
	for (size_t i = 0; i < g->ne; i++) {
		const struct graph_edge *e = &g->e[i];
		char label[128];
		if (!e->used)
			continue;
		render_edge_count(label, sizeof(label), e);
		/* A Service by its name only: the drawing stays small. */
		if (e->service && e->svc_name) {
			size_t l = strlen(label);
			snprintf(label + l, sizeof(label) - l, "\nvia %s",
				 e->svc_name);
		}
		r = svg_graph_edge_add(&sg, map[graph_vertex_display(g, e->client)],
				       map[graph_vertex_display(g, e->server)],
				       label);
		if (r < 0)
			return r;
	}
	return render_svg_graph(out, &sg, false);
}
