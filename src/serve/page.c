// SPDX-License-Identifier: MIT
#include "serve/page.h"

#include "core/util.h"
#include "render/html.h"
#include "render/graph.h"
#include "render/common.h"
#include "render/svg.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

static const char page_style[] =
	"body{font-family:sans-serif;margin:1em 2em;color:#222}"
	"nav a{margin-right:1em}"
	"form{margin:1em 0}form label{margin-right:1em}"
	"input{width:10em}input[type=number]{width:4em}"
	".map{overflow:auto;border:1px solid #ccc;padding:.5em;margin:1em 0}"
	".map svg{max-width:none}"
	"table{border-collapse:collapse;margin-bottom:1em}"
	"td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}"
	"td.n{text-align:right}"
	".error{color:#a00}";

/*
 * A name that cannot be one path segment has no page: "." and ".." are
 * path steps whatever their escaping, and an escaped '/' arrives decoded
 * (Kubernetes names never hold one; the CMDB is not trusted to agree).
 */
static bool segment_ok(const char *s)
{
	return s && *s && strcmp(s, ".") && strcmp(s, "..") && !strchr(s, '/');
}

static void query_param(FILE *f, bool *first, const char *key,
			const char *value)
{
	if (!value || !*value)
		return;
	fputc(*first ? '?' : '&', f);
	*first = false;
	fputs(key, f);
	fputc('=', f);
	url_escape(f, value);
}

/* The query string carried by links: window, namespace filter, depth and
 * level where they differ from the defaults (level only on the map). */
static void view_query(FILE *f, const struct serve_view *v, bool with_level,
		       bool with_depth, bool *first)
{
	char depth[16];
	if (with_level && v->level == DEPMAP_POD)
		query_param(f, first, "level", "pod");
	query_param(f, first, "ns", v->filter_ns);
	query_param(f, first, "since", v->since);
	query_param(f, first, "until", v->until);
	if (with_depth && v->depth > 1) {
		snprintf(depth, sizeof(depth), "%d", v->depth);
		query_param(f, first, "depth", depth);
	}
}

char *serve_node_href(const struct depmap_node *n, const struct serve_view *v)
{
	char *buf = NULL;
	size_t len = 0;
	bool first = true;
	if (n->kind == DEPMAP_KIND_WORKLOAD
		    ? !segment_ok(n->ns) || !segment_ok(n->wkind) ||
			      !segment_ok(n->name)
	    : n->kind == DEPMAP_KIND_POD
		    ? !segment_ok(n->ns) || !segment_ok(n->name)
		    : !segment_ok(n->addr))
		return NULL;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	switch (n->kind) {
	case DEPMAP_KIND_WORKLOAD:
		fputs("/workload/", f);
		url_escape(f, n->ns);
		fputc('/', f);
		url_escape(f, n->wkind);
		fputc('/', f);
		url_escape(f, n->name);
		break;
	case DEPMAP_KIND_POD:
		fputs("/pod/", f);
		url_escape(f, n->ns);
		fputc('/', f);
		url_escape(f, n->name);
		break;
	case DEPMAP_KIND_PROCESS:
		fputs("/host/", f);
		url_escape(f, n->addr);
		break;
	}
	view_query(f, v, false, true, &first);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A node as one line of text (tables, titles). */
static void node_text(FILE *f, const struct depmap_node *n)
{
	switch (n->kind) {
	case DEPMAP_KIND_WORKLOAD:
		html_escape(f, n->ns);
		fputc('/', f);
		html_escape(f, n->name);
		fputs(" (", f);
		html_escape(f, n->wkind);
		fputc(')', f);
		break;
	case DEPMAP_KIND_POD:
		html_escape(f, n->ns);
		fputc('/', f);
		html_escape(f, n->name);
		fputs(" (pod)", f);
		break;
	case DEPMAP_KIND_PROCESS:
		html_escape(f, n->addr);
		if (*n->comm) {
			fputs(" &#39;", f);
			html_escape(f, n->comm);
			fputs("&#39;", f);
		}
		break;
	}
}

/* The box label in the drawing: raw text, escaped by the renderer. */
static char *node_label(const struct depmap_node *n)
{
	char *s = NULL;
	int r;
	switch (n->kind) {
	case DEPMAP_KIND_WORKLOAD:
		r = asprintf(&s, "%s/%s\n%s", n->ns, n->name, n->wkind);
		break;
	case DEPMAP_KIND_POD:
		r = asprintf(&s, "%s/%s\npod", n->ns, n->name);
		break;
	default:
		r = *n->comm ? asprintf(&s, "%s\n'%s'", n->addr, n->comm)
			     : asprintf(&s, "%s\n(process unknown)", n->addr);
	}
	return r < 0 ? NULL : s;
}

static void node_link(FILE *f, const struct depmap_node *n,
		      const struct serve_view *v)
{
	_cleanup_(freep) char *href = serve_node_href(n, v);
	if (href) {
		fputs("<a href=\"", f);
		/* Escaped already: only & needs its entity in HTML. */
		html_escape(f, href);
		fputs("\">", f);
	}
	node_text(f, n);
	if (href)
		fputs("</a>", f);
}

static void edge_proto(FILE *f, const struct depmap_edge *e)
{
	fprintf(f, "%s:%u", e->proto == IPPROTO_UDP ? "udp" : "tcp", e->port);
}

/* One table of edges: those for which pick() is true. */
static void edge_table(FILE *f, const struct depmap *m,
		       const struct serve_view *v, const char *title,
		       const char *cls, int pick)
{
	size_t rows = 0;
	for (size_t i = 0; i < m->ne; i++) {
		const struct depmap_edge *e = &m->e[i];
		bool caller = m->n[e->server].root, callee = m->n[e->client].root;
		if (!e->used || (pick == 1 && !caller) ||
		    (pick == 2 && !callee) ||
		    (pick == 3 && (caller || callee)))
			continue;
		if (!rows++)
			fprintf(f,
				"<h2>%s</h2>\n<table class=\"%s\">\n"
				"<tr><th>client</th><th>server</th>"
				"<th>proto:port</th><th>connections</th>"
				"<th>last seen</th></tr>\n",
				title, cls);
		char t[40];
		render_time_ms(t, sizeof(t), e->last_seen_ms);
		fputs("<tr><td>", f);
		node_link(f, &m->n[e->client], v);
		fputs("</td><td>", f);
		node_link(f, &m->n[e->server], v);
		fputs("</td><td>", f);
		edge_proto(f, e);
		fprintf(f, "</td><td class=\"n\">%llu</td><td>%s</td></tr>\n",
			(unsigned long long)e->connections, t);
	}
	if (rows)
		fputs("</table>\n", f);
}

static void page_head(FILE *f, const char *title_html_escaped_prefix,
		      const struct serve_view *v)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n<title>shawk: ",
	      f);
	fputs(title_html_escaped_prefix, f);
	if (v && v->kind == SERVE_PAGE_WORKLOAD) {
		html_escape(f, v->ns);
		fputc('/', f);
		html_escape(f, v->name);
	} else if (v && v->kind == SERVE_PAGE_POD) {
		html_escape(f, v->ns);
		fputc('/', f);
		html_escape(f, v->name);
	} else if (v && v->kind == SERVE_PAGE_HOST) {
		html_escape(f, v->addr);
	}
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", page_style);
}

static void page_nav(FILE *f, const struct serve_view *v)
{
	bool first = true;
	struct serve_view w = *v;
	fputs("<nav><a href=\"/", f);
	w.level = DEPMAP_WORKLOAD;
	view_query(f, &w, true, false, &first);
	fputs("\">workloads</a><a href=\"/", f);
	first = true;
	w.level = DEPMAP_POD;
	view_query(f, &w, true, false, &first);
	fputs("\">pods/processes</a></nav>\n", f);
}

static void form_input(FILE *f, const char *label, const char *name,
		       const char *value, const char *hint)
{
	fprintf(f, "<label>%s <input name=\"%s\" value=\"", label, name);
	html_escape(f, value ? value : "");
	fprintf(f, "\" placeholder=\"%s\"></label>\n", hint);
}

static void page_form(FILE *f, const struct serve_view *v)
{
	fputs("<form method=\"get\">\n", f);
	if (v->kind == SERVE_PAGE_MAP)
		fprintf(f,
			"<label>level <select name=\"level\">"
			"<option value=\"workload\"%s>workloads</option>"
			"<option value=\"pod\"%s>pods/processes</option>"
			"</select></label>\n",
			v->level == DEPMAP_WORKLOAD ? " selected" : "",
			v->level == DEPMAP_POD ? " selected" : "");
	form_input(f, "namespace", "ns", v->filter_ns, "any");
	form_input(f, "since", "since", v->since, "10m or RFC 3339");
	form_input(f, "until", "until", v->until, "now");
	if (v->kind != SERVE_PAGE_MAP)
		fprintf(f,
			"<label>depth <input name=\"depth\" type=\"number\" "
			"min=\"1\" max=\"10\" value=\"%d\"></label>\n",
			v->depth);
	fputs("<button type=\"submit\">show</button>\n</form>\n", f);
}

static int draw(FILE *f, const struct depmap *m, const struct serve_view *v)
{
	_cleanup_(svg_graph_clear) struct svg_graph g = { 0 };
	_cleanup_(freep) uint32_t *idx =
		malloc((m->nn ? m->nn : 1) * sizeof(*idx));
	int r;
	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < m->nn; i++) {
		const struct depmap_node *n = &m->n[i];
		if (!n->used)
			continue;
		_cleanup_(freep) char *label = node_label(n);
		_cleanup_(freep) char *href = serve_node_href(n, v);
		if (!label)
			return -ENOMEM;
		if ((r = svg_graph_node_add(&g, label, href, n->root,
					    &idx[i])) < 0)
			return r;
	}
	for (size_t i = 0; i < m->ne; i++) {
		const struct depmap_edge *e = &m->e[i];
		char label[160];
		if (!e->used)
			continue;
		/* The Service by its name only: the drawing stays small. */
		const char *svc = e->service ? strchr(e->service, '/') : NULL;
		snprintf(label, sizeof(label), "%s:%u (%llu)%s%s",
			 e->proto == IPPROTO_UDP ? "udp" : "tcp", e->port,
			 (unsigned long long)e->connections, svc ? "\nvia " : "",
			 svc ? svc + 1 : "");
		if ((r = svg_graph_edge_add(&g, idx[e->client], idx[e->server],
					    label)) < 0)
			return r;
	}
	if (!g.nn) {
		fputs("<p>No dependency known for this selection.</p>\n", f);
		return 0;
	}
	fputs("<div class=\"map\">\n", f);
	r = render_svg_graph(f, &g, true);
	fputs("</div>\n", f);
	return r;
}

int serve_page_map(FILE *out, const struct depmap *m,
		   const struct serve_view *v)
{
	size_t nodes = 0, edges = 0;
	int r;
	for (size_t i = 0; i < m->nn; i++)
		nodes += m->n[i].used;
	for (size_t i = 0; i < m->ne; i++)
		edges += m->e[i].used;
	static const char *const what[] = {
		[SERVE_PAGE_MAP] = "",
		[SERVE_PAGE_WORKLOAD] = "workload ",
		[SERVE_PAGE_POD] = "pod ",
		[SERVE_PAGE_HOST] = "host ",
	};
	page_head(out, v->kind == SERVE_PAGE_MAP
			       ? (v->level == DEPMAP_POD ? "pods and processes"
							 : "workloads")
			       : what[v->kind],
		  v);
	page_nav(out, v);
	fputs("<h1>", out);
	if (v->kind == SERVE_PAGE_MAP) {
		fputs(v->level == DEPMAP_POD ? "Pods and processes"
					     : "Workloads",
		      out);
	} else if (v->kind == SERVE_PAGE_WORKLOAD) {
		fputs("Workload ", out);
		html_escape(out, v->ns);
		fputc('/', out);
		html_escape(out, v->name);
		fputs(" (", out);
		html_escape(out, v->wkind);
		fputc(')', out);
	} else if (v->kind == SERVE_PAGE_POD) {
		fputs("Pod ", out);
		html_escape(out, v->ns);
		fputc('/', out);
		html_escape(out, v->name);
	} else {
		fputs("Host ", out);
		html_escape(out, v->addr);
	}
	fputs("</h1>\n", out);
	page_form(out, v);
	fprintf(out, "<p class=\"summary\">%zu nodes, %zu edges</p>\n", nodes,
		edges);
	if ((r = draw(out, m, v)) < 0)
		return r;
	if (v->kind == SERVE_PAGE_MAP) {
		edge_table(out, m, v, "Edges", "edges", 0);
	} else {
		edge_table(out, m, v, "Callers", "callers", 1);
		edge_table(out, m, v, "Callees", "callees", 2);
		edge_table(out, m, v, "Further edges", "further", 3);
	}
	fputs("</body>\n</html>\n", out);
	return ferror(out) ? -EIO : 0;
}

void serve_page_error(FILE *out, int status, const char *reason)
{
	char title[16];
	snprintf(title, sizeof(title), "error %d", status);
	page_head(out, title, NULL);
	fputs("<nav><a href=\"/\">workloads</a>"
	      "<a href=\"/?level=pod\">pods/processes</a></nav>\n"
	      "<p class=\"error\">",
	      out);
	html_escape(out, reason);
	fputs("</p>\n</body>\n</html>\n", out);
}
