// SPDX-License-Identifier: MIT
/*
 * `look`'s walk: from the selected addresses, level by level, the rows of
 * the edge queries (query_window.c) into the graph, each address queried
 * once.
 */
#include "cmdb/query_int.h"

#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/u64map.h"
#include "core/util.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* A list of addresses (text) to query, deduplicated against `seen`. */
struct frontier {
	struct sql_array arr;
};

static uint64_t addr_key(const char *a)
{
	return hash_bytes(a, strlen(a), 0x5348574b) | 1;
}

/* Adds a to f unless seen already. Returns 0 or -ENOMEM. */
static int frontier_add(struct frontier *f, struct u64map *seen,
			const char *a)
{
	int r = u64map_put(seen, addr_key(a), 1);
	if (r < 0)
		return r == -ENOSPC ? -E2BIG : r;
	if (r == 1)
		sql_array_add_str(&f->arr, a);
	return f->arr.oom ? -ENOMEM : 0;
}

static int parse_addr(const char *s, int *family, uint8_t addr[16])
{
	return addr_parse(s, AF_UNSPEC, family, addr);
}

struct level_out {
	struct frontier *next; /* peers to query at the next level */
	struct u64map *seen;
	/* Rows already added: an edge between two queried addresses comes
	 * back from both directions' queries and must count once. */
	struct u64map *rows;
	/* Roots: endpoints at these addresses (level 0 only). */
	bool roots;
	bool into;
	/* The rows are calls through a Service at the queried address:
	 * client -> Service -> backend, the Service the root; callers go to
	 * next_in, backends to next (the caller's "out" frontier). */
	bool via;
	struct frontier *next_in;
	struct u64map *seen_in;
};

static const char *pod_col(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static bool pod_selected(const struct look_query *q, const char *ns,
			 const char *name)
{
	if (!name || !ns)
		return false;
	if (q->pod_namespace && *q->pod_namespace &&
	    strcmp(q->pod_namespace, ns) != 0)
		return false;
	return q->sel != LOOK_SEL_POD || strcmp(q->pod_name, name) == 0;
}

/* 1 when row i came before (an edge between two queried addresses comes
 * back from both directions' queries), 0 (remembered now), or -ENOMEM. */
static int row_seen(const PGresult *res, int i, struct u64map *rows)
{
	uint64_t h = 0x5348574b;
	for (int col = 0; col < PQnfields(res); col++) {
		const char *v = PQgetvalue(res, i, col);
		h = hash_bytes(v, strlen(v) + 1, h);
	}
	int pr = u64map_put(rows, h | 1, 1);
	return pr == -ENOMEM ? pr : pr == 0;
}

/* The client (columns 1-4) and server (5-9) vertices of row i with their
 * pods; *ret_cf: the client's family. 0, -EINVAL for an address that does
 * not parse (nothing added), or -errno. */
static int row_ends(struct graph *g, const PGresult *res, int i,
		    int *ret_cf, uint32_t *ret_cv, uint32_t *ret_sv)
{
	int cf, sf;
	uint8_t ca[16] = { 0 }, sa[16] = { 0 };
	int r;
	if (parse_addr(PQgetvalue(res, i, 1), &cf, ca) < 0 ||
	    parse_addr(PQgetvalue(res, i, 5), &sf, sa) < 0)
		return -EINVAL;
	r = graph_vertex_add(g, cf, ca, 0,
			     (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10),
			     PQgetvalue(res, i, 3), pod_col(res, i, 4), ret_cv);
	if (r < 0)
		return r;
	r = graph_vertex_add(g, sf, sa, (uint16_t)atoi(PQgetvalue(res, i, 6)),
			     (uint32_t)strtoul(PQgetvalue(res, i, 7), NULL, 10),
			     PQgetvalue(res, i, 8), pod_col(res, i, 9), ret_sv);
	if (r < 0)
		return r;
	if ((r = graph_vertex_set_pod(g, *ret_cv, pod_col(res, i, 14),
				      pod_col(res, i, 15))) < 0 ||
	    (r = graph_vertex_set_pod(g, *ret_sv, pod_col(res, i, 16),
				      pod_col(res, i, 17))) < 0)
		return r;
	*ret_cf = cf;
	return 0;
}

/* The Service and NAT peer of row i (of the client's family cf). */
static void row_via(const PGresult *res, int i, int cf, struct graph_via *via)
{
	int vf;
	*via = (struct graph_via){ 0 };
	if (!PQgetisnull(res, i, COL_SVC_ADDR) &&
	    parse_addr(PQgetvalue(res, i, COL_SVC_ADDR), &vf, via->svc_addr) ==
		    0 &&
	    vf == cf) {
		via->service = true;
		via->svc_port =
			(uint16_t)atoi(PQgetvalue(res, i, COL_SVC_PORT));
		via->svc_namespace = pod_col(res, i, COL_SVC_NS);
		via->svc_name = pod_col(res, i, COL_SVC_NAME);
	}
	if (!PQgetisnull(res, i, COL_NAT_SEEN) &&
	    parse_addr(PQgetvalue(res, i, COL_NAT_SEEN), &vf, via->nat_seen) ==
		    0 &&
	    vf == cf)
		via->nat = true;
}

struct row_counts {
	uint8_t proto;
	uint64_t conns, total;
	int64_t first, last;
};

/* client -> Service -> backend, the Service a vertex of its own (the
 * tree's root); callers and backends go to the next level. */
static int add_through_service(struct graph *g, const struct level_out *o,
			       const PGresult *res, int i, int cf, uint32_t cv,
			       uint32_t sv, const struct graph_via *via,
			       const struct row_counts *c)
{
	uint32_t vv;
	int r;
	if ((r = graph_vertex_add(g, cf, via->svc_addr, via->svc_port, 0, "",
				  NULL, &vv)) < 0 ||
	    (r = graph_vertex_set_service(g, vv, via->svc_namespace,
					  via->svc_name)) < 0 ||
	    (r = graph_edge_add(g, cv, vv, c->proto, c->conns, c->total,
				c->first, c->last)) < 0 ||
	    (r = graph_edge_add(g, vv, sv, c->proto, c->conns, c->total,
				c->first, c->last)) < 0 ||
	    (r = graph_root_add(g, vv)) < 0 ||
	    (r = frontier_add(o->next_in, o->seen_in,
			      PQgetvalue(res, i, 1))) < 0)
		return r;
	return frontier_add(o->next, o->seen, PQgetvalue(res, i, 5));
}

/* Runs one edge query and adds its rows to g. */
static int fetch_edges(struct cmdb *db, const struct look_query *q,
		       const char *addrs, struct graph *g,
		       struct level_out *o)
{
	bool diff;
	_cleanup_(pqclearp) PGresult *res = look_edges_query(db, q, addrs, o->into,
							 o->via, &diff);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);

	int rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		int cf, r;
		uint32_t cv, sv;
		/* (Rows through a Service at the root are drawn through
		 * the Service's vertex: not the same edge as a row.) */
		if (o->rows && !o->via && (r = row_seen(res, i, o->rows)) != 0) {
			if (r < 0)
				return r;
			continue; /* the same row again */
		}
		/* A pod selector roots the tree at that pod's endpoints
		 * only: a hostNetwork pod's address is its node's. */
		if (o->roots && !o->via && q->sel != LOOK_SEL_HOST &&
		    q->sel != LOOK_SEL_ALL &&
		    !pod_selected(q, pod_col(res, i, o->into ? 16 : 14),
				  pod_col(res, i, o->into ? 17 : 15)))
			continue;
		if ((r = row_ends(g, res, i, &cf, &cv, &sv)) == -EINVAL)
			continue; /* not an address we can print */
		if (r < 0)
			return r;
		struct graph_via via;
		row_via(res, i, cf, &via);
		const struct graph_via *vp = via.service || via.nat ? &via : NULL;
		struct row_counts c = {
			.proto = strcmp(PQgetvalue(res, i, 0), "udp") == 0
					 ? IPPROTO_UDP
					 : IPPROTO_TCP,
			.conns = strtoull(PQgetvalue(res, i, 10), NULL, 10),
			.total = strtoull(PQgetvalue(res, i, 11), NULL, 10),
			.first = strtoll(PQgetvalue(res, i, 12), NULL, 10),
			.last = strtoll(PQgetvalue(res, i, 13), NULL, 10),
		};
		if (o->via && via.service) {
			if ((r = add_through_service(g, o, res, i, cf, cv, sv,
						     &via, &c)) < 0)
				return r;
			continue;
		}
		r = graph_edge_add_via(g, cv, sv, c.proto, c.conns, c.total,
				       c.first, c.last, vp);
		if (r < 0)
			return r;
		if (diff &&
		    (r = graph_edge_mark(
			     g, cv, sv, c.proto, vp,
			     PQgetvalue(res, i, COL_IN_WINDOW)[0] == 't',
			     PQgetvalue(res, i, COL_IN_WINDOW + 1)[0] == 't',
			     strtoull(PQgetvalue(res, i, COL_IN_WINDOW + 2),
				      NULL, 10))) < 0)
			return r;
		if (o->roots && (r = graph_root_add(g, o->into ? sv : cv)) < 0)
			return r;
		if ((r = frontier_add(o->next, o->seen,
				      PQgetvalue(res, i, o->into ? 1 : 5))) < 0)
			return r;
	}
	return 0;
}

/* Root addresses of a pod or namespace selector. */
static int pod_addrs(struct cmdb *db, const struct look_query *q,
		     struct frontier *f, struct u64map *seen_in,
		     struct u64map *seen_out, struct frontier *f_out)
{
	_cleanup_(pqclearp) PGresult *res = look_pod_addrs_query(db, q);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	if (PQntuples(res) == 0)
		return -ENOENT;
	for (int i = 0; i < PQntuples(res); i++) {
		int r;
		if ((r = frontier_add(f, seen_in, PQgetvalue(res, i, 0))) < 0 ||
		    (r = frontier_add(f_out, seen_out,
				      PQgetvalue(res, i, 0))) < 0)
			return r;
	}
	return 0;
}

static void frontier_reset(struct frontier *f)
{
	sql_array_clear(&f->arr);
}

int cmdb_look(struct cmdb *db, const struct look_query *q, struct graph *g)
{
	_cleanup_(frontier_reset) struct frontier in = { 0 }, out = { 0 };
	_cleanup_(u64map_free) struct u64map seen_in = { 0 }, seen_out = { 0 },
					     rows = { 0 };
	int r;

	g->windowed = look_query_windowed(q);
	g->diff = q->diff;
	if ((r = u64map_init(&seen_in, LOOK_MAX_ROWS)) < 0 ||
	    (r = u64map_init(&seen_out, LOOK_MAX_ROWS)) < 0 ||
	    (r = u64map_init(&rows, 4 * LOOK_MAX_ROWS)) < 0)
		return r;
	if (q->sel == LOOK_SEL_ALL) {
		/* One query: every edge, rooted at its server; the tree's
		 * walk (to q->depth) finds the rest in memory. */
		struct frontier next = { 0 };
		struct level_out lo = { .roots = true, .into = true,
					.next = &next, .seen = &seen_in };
		r = fetch_edges(db, q, NULL, g, &lo);
		frontier_reset(&next);
		if (r < 0)
			return r;
		graph_roots_finish(g);
		return (int)g->nroots;
	}
	if (q->sel == LOOK_SEL_HOST) {
		char a[ADDR_STRLEN];
		addr_format(q->family, q->addr, a);
		if ((r = frontier_add(&in, &seen_in, a)) < 0 ||
		    (r = frontier_add(&out, &seen_out, a)) < 0)
			return r;
	} else if ((r = pod_addrs(db, q, &in, &seen_in, &seen_out, &out)) < 0) {
		return r;
	}

	for (int level = 0; level < q->depth; level++) {
		struct frontier next_in = { 0 }, next_out = { 0 };
		struct level_out lo = { .roots = level == 0, .rows = &rows };
		const char *lit;
		if (in.arr.n) {
			if (!(lit = sql_array_finish(&in.arr)))
				return -ENOMEM;
			lo.next = &next_in;
			lo.seen = &seen_in;
			lo.into = true;
			r = fetch_edges(db, q, lit, g, &lo);
		}
		if (r >= 0 && out.arr.n) {
			if (!(lit = sql_array_finish(&out.arr)))
				r = -ENOMEM;
			else {
				lo.next = &next_out;
				lo.seen = &seen_out;
				lo.into = false;
				r = fetch_edges(db, q, lit, g, &lo);
			}
			/* An address may be a Service's: its callers and
			 * the backends that answered, under it. */
			if (r >= 0 && level == 0 && q->sel == LOOK_SEL_HOST) {
				lo.via = true;
				lo.next_in = &next_in;
				lo.seen_in = &seen_in;
				r = fetch_edges(db, q, lit, g, &lo);
			}
		}
		frontier_reset(&in);
		frontier_reset(&out);
		in = next_in;
		out = next_out;
		if (r < 0)
			return r;
		if (level == 0)
			graph_roots_finish(g);
		if (!in.arr.n && !out.arr.n)
			break;
	}
	return (int)g->nroots;
}
