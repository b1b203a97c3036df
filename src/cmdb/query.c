// SPDX-License-Identifier: MIT
#include "cmdb/query.h"

#include "cmdb/pg_internal.h"
#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/u64map.h"
#include "core/util.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Rows one level query may return: bounds memory on a huge CMDB. */
#define LOOK_MAX_ROWS 1000000

#define EDGE_COLUMNS                                                          \
	"SELECT proto, host(client_addr), client_pgid, client_comm,"          \
	" client_container, host(server_addr), server_port, server_pgid,"     \
	" server_comm, server_container, connections, connections_total,"     \
	" (extract(epoch FROM first_seen) * 1000)::bigint,"                   \
	" (extract(epoch FROM last_seen) * 1000)::bigint,"                    \
	" client_pod_namespace, client_pod_name, server_pod_namespace,"       \
	" server_pod_name, host(service_addr), service_port,"                 \
	" service_namespace, service_name, host(nat_seen_addr)"               \
	" FROM pod_edges"

#define EDGE_WINDOW                                                           \
	" AND last_seen >= to_timestamp($2::float8 / 1000)"                   \
	" AND first_seen <= to_timestamp($3::float8 / 1000)"                  \
	" LIMIT " STRINGIFY(LOOK_MAX_ROWS)
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static const char edges_into_sql[] =
	EDGE_COLUMNS " WHERE server_addr = ANY($1::inet[])" EDGE_WINDOW;
static const char edges_from_sql[] =
	EDGE_COLUMNS " WHERE client_addr = ANY($1::inet[])" EDGE_WINDOW;
/* The whole map ($1 unused, NULL): every edge in the window. */
static const char edges_all_sql[] =
	EDGE_COLUMNS " WHERE $1::text IS NULL" EDGE_WINDOW;
/* The calls through a Service at these addresses (`look --host
 * <ClusterIP>`). */
static const char edges_via_sql[] =
	EDGE_COLUMNS " WHERE service_addr = ANY($1::inet[])" EDGE_WINDOW;

/* Columns after the 18 of every version. */
enum { COL_SVC_ADDR = 18, COL_SVC_PORT, COL_SVC_NS, COL_SVC_NAME, COL_NAT_SEEN };

/*
 * The addresses of the selected pods: their own IPs (not a hostNetwork
 * pod's: those are its node's), and the addresses where the agents saw
 * their processes (that is how a hostNetwork pod is found). Level 0 then
 * keeps only the endpoints labelled with the selected pods.
 */
static const char pod_ips_sql[] =
	"SELECT DISTINCT host(a) FROM ("
	" SELECT unnest(ips) AS a FROM pods WHERE NOT host_network AND"
	" ($1::text IS NULL OR namespace = $1) AND ($2::text IS NULL OR name = $2)"
	" AND last_seen >= to_timestamp($3::float8 / 1000)"
	" AND first_seen <= to_timestamp($4::float8 / 1000)"
	" UNION ALL SELECT addr FROM passive_nodes WHERE pod_name IS NOT NULL AND"
	" ($1::text IS NULL OR pod_namespace = $1)"
	" AND ($2::text IS NULL OR pod_name = $2)"
	" AND last_seen >= to_timestamp($3::float8 / 1000)"
	" AND first_seen <= to_timestamp($4::float8 / 1000)"
	" UNION ALL SELECT addr FROM active_nodes WHERE pod_name IS NOT NULL AND"
	" ($1::text IS NULL OR pod_namespace = $1)"
	" AND ($2::text IS NULL OR pod_name = $2)"
	" AND last_seen >= to_timestamp($3::float8 / 1000)"
	" AND first_seen <= to_timestamp($4::float8 / 1000)"
	") x";

static const char pod_namespaces_sql[] =
	"SELECT namespace FROM ("
	" SELECT namespace FROM pods WHERE name = $1"
	" AND last_seen >= to_timestamp($2::float8 / 1000)"
	" AND first_seen <= to_timestamp($3::float8 / 1000)"
	" UNION SELECT pod_namespace FROM passive_nodes WHERE pod_name = $1"
	" AND last_seen >= to_timestamp($2::float8 / 1000)"
	" AND first_seen <= to_timestamp($3::float8 / 1000)"
	" UNION SELECT pod_namespace FROM active_nodes WHERE pod_name = $1"
	" AND last_seen >= to_timestamp($2::float8 / 1000)"
	" AND first_seen <= to_timestamp($3::float8 / 1000)"
	") x WHERE namespace IS NOT NULL ORDER BY 1 LIMIT 20";

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

static void window_params(const struct look_query *q, char *since,
			  char *until, size_t sz)
{
	if (q->since_ms == INT64_MIN)
		strscpy(since, "-Infinity", sz);
	else
		snprintf(since, sz, "%" PRId64, q->since_ms);
	if (q->until_ms == INT64_MAX)
		strscpy(until, "Infinity", sz);
	else
		snprintf(until, sz, "%" PRId64, q->until_ms);
}

int cmdb_pod_namespaces(struct cmdb *db, const struct look_query *q,
			char *buf, size_t bufsz)
{
	char since[32], until[32];
	size_t len = 0;
	window_params(q, since, until, sizeof(since));
	const char *params[] = { q->pod_name, since, until };
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, pod_namespaces_sql, 3, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	if (bufsz)
		buf[0] = '\0';
	for (int i = 0; i < PQntuples(res) && bufsz; i++) {
		int w = snprintf(buf + len, bufsz - len, "%s%s", i ? ", " : "",
				 PQgetvalue(res, i, 0));
		if (w < 0 || (size_t)w >= bufsz - len)
			break;
		len += (size_t)w;
	}
	return PQntuples(res);
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

/* Runs one edge query and adds its rows to g. */
static int fetch_edges(struct cmdb *db, const struct look_query *q,
		       const char *addrs, struct graph *g,
		       struct level_out *o)
{
	char since[32], until[32];
	window_params(q, since, until, sizeof(since));
	const char *params[] = { addrs, since, until };
	const char *sql = o->via		 ? edges_via_sql
			  : q->sel == LOOK_SEL_ALL ? edges_all_sql
			  : o->into		 ? edges_into_sql
						 : edges_from_sql;
	_cleanup_(pqclearp) PGresult *res =
		PQexecParams(db->conn, sql, 3, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);

	int rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		int cf, sf;
		uint8_t ca[16] = { 0 }, sa[16] = { 0 };
		uint32_t cv, sv;
		int r;
		const char *caddr = PQgetvalue(res, i, 1);
		const char *saddr = PQgetvalue(res, i, 5);
		/* (Rows through a Service at the root are drawn through
		 * the Service's vertex: not the same edge as a row.) */
		if (o->rows && !o->via) {
			uint64_t h = 0x5348574b;
			for (int col = 0; col < PQnfields(res); col++) {
				const char *v = PQgetvalue(res, i, col);
				h = hash_bytes(v, strlen(v) + 1, h);
			}
			int pr = u64map_put(o->rows, h | 1, 1);
			if (pr == -ENOMEM)
				return pr;
			if (pr == 0)
				continue; /* the same row again */
		}
		/* A pod selector roots the tree at that pod's endpoints
		 * only: a hostNetwork pod's address is its node's. */
		if (o->roots && !o->via && q->sel != LOOK_SEL_HOST &&
		    q->sel != LOOK_SEL_ALL &&
		    !pod_selected(q, pod_col(res, i, o->into ? 16 : 14),
				  pod_col(res, i, o->into ? 17 : 15)))
			continue;
		if (parse_addr(caddr, &cf, ca) < 0 ||
		    parse_addr(saddr, &sf, sa) < 0)
			continue; /* not an address we can print */
		r = graph_vertex_add(g, cf, ca, 0,
				     (uint32_t)strtoul(PQgetvalue(res, i, 2),
						       NULL, 10),
				     PQgetvalue(res, i, 3),
				     PQgetisnull(res, i, 4)
					     ? NULL
					     : PQgetvalue(res, i, 4),
				     &cv);
		if (r < 0)
			return r;
		r = graph_vertex_add(g, sf, sa,
				     (uint16_t)atoi(PQgetvalue(res, i, 6)),
				     (uint32_t)strtoul(PQgetvalue(res, i, 7),
						       NULL, 10),
				     PQgetvalue(res, i, 8),
				     PQgetisnull(res, i, 9)
					     ? NULL
					     : PQgetvalue(res, i, 9),
				     &sv);
		if (r < 0)
			return r;
		if ((r = graph_vertex_set_pod(g, cv, pod_col(res, i, 14),
					      pod_col(res, i, 15))) < 0 ||
		    (r = graph_vertex_set_pod(g, sv, pod_col(res, i, 16),
					      pod_col(res, i, 17))) < 0)
			return r;
		struct graph_via via = { 0 };
		uint8_t proto = strcmp(PQgetvalue(res, i, 0), "udp") == 0
					? IPPROTO_UDP
					: IPPROTO_TCP;
		int vf;
		if (!PQgetisnull(res, i, COL_SVC_ADDR) &&
		    parse_addr(PQgetvalue(res, i, COL_SVC_ADDR), &vf,
			       via.svc_addr) == 0 &&
		    vf == cf) {
			via.service = true;
			via.svc_port = (uint16_t)atoi(
				PQgetvalue(res, i, COL_SVC_PORT));
			via.svc_namespace = pod_col(res, i, COL_SVC_NS);
			via.svc_name = pod_col(res, i, COL_SVC_NAME);
		}
		if (!PQgetisnull(res, i, COL_NAT_SEEN) &&
		    parse_addr(PQgetvalue(res, i, COL_NAT_SEEN), &vf,
			       via.nat_seen) == 0 &&
		    vf == cf)
			via.nat = true;
		uint64_t conns = strtoull(PQgetvalue(res, i, 10), NULL, 10);
		uint64_t total = strtoull(PQgetvalue(res, i, 11), NULL, 10);
		int64_t first = strtoll(PQgetvalue(res, i, 12), NULL, 10);
		int64_t last = strtoll(PQgetvalue(res, i, 13), NULL, 10);
		if (o->via && via.service) {
			/* client -> Service -> backend, the Service a
			 * vertex of its own (the tree's root). */
			uint32_t vv;
			if ((r = graph_vertex_add(g, cf, via.svc_addr,
						  via.svc_port, 0, "", NULL,
						  &vv)) < 0 ||
			    (r = graph_vertex_set_service(g, vv,
							  via.svc_namespace,
							  via.svc_name)) < 0 ||
			    (r = graph_edge_add(g, cv, vv, proto, conns, total,
						first, last)) < 0 ||
			    (r = graph_edge_add(g, vv, sv, proto, conns, total,
						first, last)) < 0 ||
			    (r = graph_root_add(g, vv)) < 0 ||
			    (r = frontier_add(o->next_in, o->seen_in,
					      caddr)) < 0 ||
			    (r = frontier_add(o->next, o->seen, saddr)) < 0)
				return r;
			continue;
		}
		r = graph_edge_add_via(g, cv, sv, proto, conns, total, first,
				       last,
				       via.service || via.nat ? &via : NULL);
		if (r < 0)
			return r;
		if (o->roots && (r = graph_root_add(g, o->into ? sv : cv)) < 0)
			return r;
		if ((r = frontier_add(o->next, o->seen,
				      o->into ? caddr : saddr)) < 0)
			return r;
	}
	return 0;
}

/* Root addresses of a pod or namespace selector. */
static int pod_addrs(struct cmdb *db, const struct look_query *q,
		     struct frontier *f, struct u64map *seen_in,
		     struct u64map *seen_out, struct frontier *f_out)
{
	char since[32], until[32];
	window_params(q, since, until, sizeof(since));
	const char *params[] = {
		q->pod_namespace && *q->pod_namespace ? q->pod_namespace : NULL,
		q->sel == LOOK_SEL_POD ? q->pod_name : NULL, since, until
	};
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, pod_ips_sql, 4, NULL, params, NULL, NULL, 0);
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
