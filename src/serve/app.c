// SPDX-License-Identifier: MIT
#include "serve/app.h"

#include "cmdb/map.h"
#include "cmdb/pg.h"
#include "cmdb/query.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/graph.h"
#include "core/log.h"
#include "core/util.h"
#include "k8s/podref.h"
#include "render/graph.h"
#include "render/common.h"
#include "serve/page.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#define HTML_TYPE "text/html; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"
#define JSON_TYPE "application/json"
/* Kubernetes names are at most 253 bytes; more is not a name. */
#define NAME_MAX_LEN 253

/* What a request asks for, after validation. */
struct params {
	enum depmap_level level;
	const char *ns, *since, *until;
	int64_t since_ms, until_ms;
	int depth;
	bool has_depth;
	/* /api/look */
	const char *host, *pod, *namespace;
	bool api;
	char reason[256]; /* why the request is refused (400) */
};

static bool blank(const char *s)
{
	return !s || !*s;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	return n && n <= NAME_MAX_LEN && !strchr(s, '/');
}

static int take_param(void *ud, const char *key, const char *value)
{
	struct params *p = ud;
	const char *v = value ? value : "";
	int64_t now = now_realtime_ms();
	if (!strcmp(key, "level") && !p->api) {
		if (blank(value) || !strcmp(v, "workload"))
			p->level = DEPMAP_WORKLOAD;
		else if (!strcmp(v, "pod"))
			p->level = DEPMAP_POD;
		else
			goto bad;
		return 0;
	}
	if (!strcmp(key, "ns") && !p->api) {
		if (blank(value))
			return 0;
		if (!name_ok(v))
			goto bad;
		p->ns = v;
		return 0;
	}
	if (!strcmp(key, "since") || !strcmp(key, "until")) {
		bool since = key[0] == 's';
		if (blank(value))
			return 0;
		if (duration_time_point_parse_ms(v, now, since ? &p->since_ms
						      : &p->until_ms) < 0) {
			snprintf(p->reason, sizeof(p->reason),
				 "invalid %s: expected a duration ago (10m, "
				 "2h, 1d) or an RFC 3339 time",
				 key);
			return -EINVAL;
		}
		*(since ? &p->since : &p->until) = v;
		return 0;
	}
	if (!strcmp(key, "depth")) {
		char *end;
		long d;
		if (blank(value))
			return 0;
		errno = 0;
		d = strtol(v, &end, 10);
		if (errno || *end || d < 1 || d > LOOK_MAX_DEPTH) {
			snprintf(p->reason, sizeof(p->reason),
				 "invalid depth: expected 1 to %d",
				 LOOK_MAX_DEPTH);
			return -EINVAL;
		}
		p->depth = (int)d;
		p->has_depth = true;
		return 0;
	}
	if (p->api && (!strcmp(key, "host") || !strcmp(key, "pod") ||
		       !strcmp(key, "namespace"))) {
		if (blank(value))
			goto bad;
		*(key[0] == 'h'	  ? &p->host
		  : key[0] == 'p' ? &p->pod
				  : &p->namespace) = v;
		return 0;
	}
	snprintf(p->reason, sizeof(p->reason), "unknown parameter '%.64s'",
		 key);
	return -EINVAL;
bad:
	snprintf(p->reason, sizeof(p->reason), "invalid %s", key);
	return -EINVAL;
}

static void respond_error(struct http_response *resp, int status,
			  const char *reason, bool api)
{
	if (api) {
		http_response_printf(resp, status, TEXT_TYPE, "%s\n", reason);
		return;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		http_response_printf(resp, 500, TEXT_TYPE, "out of memory\n");
		return;
	}
	serve_page_error(f, status, reason);
	if (fclose(f) != 0) {
		free(buf);
		http_response_printf(resp, 500, TEXT_TYPE, "out of memory\n");
		return;
	}
	free(resp->body);
	resp->status = status;
	resp->content_type = HTML_TYPE;
	resp->body = buf;
	resp->len = len;
}

static void app_disconnect(struct serve_app *app)
{
	cmdb_freep(&app->db);
}

/* Maps a CMDB failure to a response; reconnects on the next request. */
static void respond_cmdb_error(struct serve_app *app,
			       struct http_response *resp, int r, bool api)
{
	char reason[320];
	if (r == -ENOMEM) {
		respond_error(resp, 500, "out of memory", api);
		return;
	}
	if (r == -E2BIG) {
		respond_error(resp, 413,
			      "the graph is too large: choose a namespace, a "
			      "node or a shorter time window",
			      api);
		return;
	}
	snprintf(reason, sizeof(reason), "the CMDB is unavailable: %s",
		 app->db ? cmdb_last_error(app->db) : "not connected");
	log_warn("serve: %s", reason);
	app_disconnect(app);
	respond_error(resp, r == -ENOTCONN ? 503 : 500, reason, api);
}

static int ensure_db(struct serve_app *app, struct http_response *resp,
		     bool api)
{
	char err[256] = "", reason[320];
	if (app->db && cmdb_is_connected(app->db))
		return 0;
	app_disconnect(app);
	int r = cmdb_connect(app->cmdb_url, &app->db, err, sizeof(err));
	if (r == 0)
		return 0;
	snprintf(reason, sizeof(reason), "the CMDB is unreachable: %s",
		 r == -ENOMEM ? "out of memory" : err);
	log_warn("serve: %s", reason);
	respond_error(resp, 503, reason, api);
	return r;
}

static void set_body(struct http_response *resp, char *buf, size_t len,
		     const char *type)
{
	free(resp->body);
	resp->status = 200;
	resp->content_type = type;
	resp->body = buf;
	resp->len = len;
}

/* /api/look: the JSON of `shawk look --format json`. */
static void api_look(struct serve_app *app, struct params *p,
		     struct http_response *resp)
{
	struct look_query q = { .depth = p->has_depth ? p->depth : 1,
				.since_ms = p->since_ms,
				.until_ms = p->until_ms };
	char ns[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 1];
	int given = !!p->host + !!p->pod + !!p->namespace;
	if (given != 1)
		return respond_error(resp, 400,
				     "give exactly one of host, pod or "
				     "namespace",
				     true);
	if (p->host) {
		q.sel = LOOK_SEL_HOST;
		if (addr_parse(p->host, AF_UNSPEC, &q.family, q.addr) < 0)
			return respond_error(resp, 400,
					     "invalid host: expected an "
					     "address",
					     true);
	} else if (p->pod) {
		q.sel = LOOK_SEL_POD;
		if (pod_ref_parse(p->pod, ns, sizeof(ns), name,
				   sizeof(name)) < 0)
			return respond_error(resp, 400,
					     "invalid pod: expected "
					     "[NAMESPACE/]NAME",
					     true);
		q.pod_namespace = ns;
		q.pod_name = name;
	} else {
		q.sel = LOOK_SEL_NAMESPACE;
		if (!name_ok(p->namespace))
			return respond_error(resp, 400, "invalid namespace",
					     true);
		q.pod_namespace = p->namespace;
	}
	if (ensure_db(app, resp, true) < 0)
		return;
	int r;
	if (q.sel == LOOK_SEL_POD && !*q.pod_namespace) {
		char list[512], reason[640];
		r = cmdb_pod_namespaces(app->db, &q, list, sizeof(list));
		if (r < 0)
			return respond_cmdb_error(app, resp, r, true);
		if (r > 1) {
			snprintf(reason, sizeof(reason),
				 "pod %s is in several namespaces (%s): give "
				 "pod=NS/%s",
				 q.pod_name, list, q.pod_name);
			return respond_error(resp, 400, reason, true);
		}
	}
	_cleanup_(graph_clear) struct graph g;
	graph_init(&g, app->max_nodes);
	r = cmdb_look(app->db, &q, &g);
	if (r == -ENOENT)
		return respond_error(resp, 404,
				     q.sel == LOOK_SEL_POD
					     ? "no such pod in the CMDB"
					     : "no such namespace in the CMDB",
				     true);
	if (r < 0)
		return respond_cmdb_error(app, resp, r, true);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return respond_error(resp, 500, "out of memory", true);
	r = render_json(f, &g, q.depth);
	if (fclose(f) != 0 || r < 0) {
		free(buf);
		return respond_error(resp, 500, "cannot render", true);
	}
	set_body(resp, buf, len, JSON_TYPE);
}

/* Splits path (after the leading '/') into at most max segments. Returns
 * their number, or -1 for more, or an empty one. */
static int split_path(char *path, char **seg, int max)
{
	int n = 0;
	if (!*path)
		return 0;
	for (char *s = path;; n++) {
		char *slash = strchr(s, '/');
		if (n == max || !*s || (slash && slash == s))
			return -1;
		seg[n] = s;
		if (!slash)
			return n + 1;
		*slash = '\0';
		s = slash + 1;
	}
}

/*
 * The page a path names, into *v (segments point into buf, of bufsz
 * bytes, norm holds a /host/ADDR address). Returns 0, or the HTTP status
 * with *reason.
 */
static int route_page(const char *path, struct params *p,
		      struct serve_view *v, char *buf, size_t bufsz,
		      char norm[ADDR_STRLEN], const char **reason)
{
	char *seg[4];
	*reason = "no such page";
	if (strlen(path) >= bufsz || path[0] != '/')
		return 404;
	strscpy(buf, path + 1, bufsz);
	int nseg = split_path(buf, seg, 4);
	if (nseg == 0) {
		v->kind = SERVE_PAGE_MAP;
		*reason = "depth applies to a node's page";
		return p->has_depth ? 400 : 0;
	}
	if (nseg == 4 && !strcmp(seg[0], "workload")) {
		v->kind = SERVE_PAGE_WORKLOAD;
		v->ns = seg[1];
		v->wkind = seg[2];
		v->name = seg[3];
		p->level = DEPMAP_WORKLOAD;
	} else if (nseg == 3 && !strcmp(seg[0], "pod")) {
		v->kind = SERVE_PAGE_POD;
		v->ns = seg[1];
		v->name = seg[2];
		p->level = DEPMAP_POD;
	} else if (nseg == 2 && !strcmp(seg[0], "host")) {
		int fam;
		uint8_t a[16];
		v->kind = SERVE_PAGE_HOST;
		*reason = "invalid address in /host/ADDR";
		if (addr_parse(seg[1], AF_UNSPEC, &fam, a) < 0)
			return 400;
		/* The CMDB's text form (host()), whatever was typed. */
		addr_format(fam, a, norm);
		v->addr = norm;
		p->level = DEPMAP_POD;
	} else {
		return 404;
	}
	return 0;
}

/* The map page of v from the CMDB. */
static void map_page(struct serve_app *app, const struct params *p,
		     const struct serve_view *v, struct http_response *resp)
{
	if (ensure_db(app, resp, false) < 0)
		return;
	_cleanup_(depmap_clear) struct depmap m;
	depmap_init(&m, p->level, app->max_nodes);
	int r = cmdb_depmap(app->db, p->since_ms, p->until_ms, &m);
	if (r < 0)
		return respond_cmdb_error(app, resp, r, false);
	size_t roots = 0;
	if (v->kind == SERVE_PAGE_WORKLOAD)
		roots = depmap_root_workload(&m, v->ns, v->wkind, v->name);
	else if (v->kind == SERVE_PAGE_POD)
		roots = depmap_root_pod(&m, v->ns, v->name);
	else if (v->kind == SERVE_PAGE_HOST)
		roots = depmap_root_addr(&m, v->addr);
	if (v->kind != SERVE_PAGE_MAP && !roots)
		return respond_error(resp, 404,
				     "not in the CMDB for this time window",
				     false);
	depmap_select(&m, p->ns, p->depth);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return respond_error(resp, 500, "out of memory", false);
	r = serve_page_map(f, &m, v);
	if (fclose(f) != 0 || r < 0) {
		free(buf);
		return respond_error(resp, 500,
				     r == -ENOMEM ? "out of memory"
						  : "cannot draw the map",
				     false);
	}
	set_body(resp, buf, len, HTML_TYPE);
}

void serve_app_handle(void *userdata, const struct http_request *req,
		      struct http_response *resp)
{
	struct serve_app *app = userdata;
	const char *path = http_request_path(req);
	struct params p = { .since_ms = INT64_MIN,
			    .until_ms = INT64_MAX,
			    .depth = 1 };
	struct serve_view v = { .kind = SERVE_PAGE_MAP };
	char buf_path[1024], norm[ADDR_STRLEN];
	const char *reason;

	if (!strcmp(path, "/healthz"))
		return http_response_printf(resp, 200, TEXT_TYPE, "ok\n");
	p.api = !strcmp(path, "/api/look");
	if (http_request_args_each(req, take_param, &p) != 0)
		return respond_error(resp, 400, p.reason, p.api);
	if (p.since_ms != INT64_MIN && p.until_ms != INT64_MAX &&
	    p.since_ms > p.until_ms)
		return respond_error(resp, 400, "since is later than until",
				     p.api);
	if (p.api)
		return api_look(app, &p, resp);

	int status = route_page(path, &p, &v, buf_path, sizeof(buf_path),
				norm, &reason);
	if (status)
		return respond_error(resp, status, reason, false);
	v.filter_ns = p.ns;
	v.since = p.since;
	v.until = p.until;
	v.depth = p.depth;
	v.level = p.level;
	map_page(app, &p, &v, resp);
}

void serve_app_clear(struct serve_app *app)
{
	app_disconnect(app);
}
