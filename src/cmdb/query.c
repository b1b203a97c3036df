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

#define EDGE_COLUMNS_(CONNS, FIRST, LAST)                                     \
	"SELECT e.proto, host(e.client_addr), e.client_pgid, e.client_comm,"  \
	" e.client_container, host(e.server_addr), e.server_port,"            \
	" e.server_pgid, e.server_comm, e.server_container, " CONNS ","       \
	" e.connections_total,"                                               \
	" (extract(epoch FROM " FIRST ") * 1000)::bigint,"                    \
	" (extract(epoch FROM " LAST ") * 1000)::bigint,"                     \
	" e.client_pod_namespace, e.client_pod_name, e.server_pod_namespace," \
	" e.server_pod_name, host(e.service_addr), e.service_port,"           \
	" e.service_namespace, e.service_name, host(e.nat_seen_addr)"
#define EDGE_COLUMNS                                                          \
	EDGE_COLUMNS_("e.connections", "e.first_seen", "e.last_seen")         \
	" FROM pod_edges e"

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
enum { COL_SVC_ADDR = 18, COL_SVC_PORT, COL_SVC_NS, COL_SVC_NAME, COL_NAT_SEEN,
       /* A diff's: in the window, in the baseline, the baseline's
	* connections. */
       COL_IN_WINDOW };

/*
 * A bounded window reads the history (sql/007_history.sql): an edge is
 * there when active in a bucket overlapping the window ($2, $3), with
 * the connections started in those buckets and their span ($2 and $3
 * are constants of the plan: only the window's partitions are read).
 * An edge's history is that of the flows row it comes from, by its
 * flow_addr and flow_id (sql/010_history_narrow.sql): an active flow's
 * for a probed client, else the passive flow's of its server; a call
 * through a Service or from a source-NATed client is its own flow. An
 * edge with no history at all (written by an agent older than schema 7)
 * falls back to its flows' lifetime bracketing the window. A diff adds
 * the baseline ($4, $5) the same way, and three columns: in the window,
 * in the baseline, the baseline's connections.
 */
#define TS(P) "to_timestamp(" P "::float8 / 1000)"
#define WIN(S, U, LO)                                                         \
	" AND f.bucket > " TS(LO) " AND f.bucket <= " TS(U)                    \
	" AND f.bucket + make_interval(secs => f.seconds) > " TS(S)
#define AGG                                                                   \
	" (SELECT sum(f.connections)::bigint AS c, min(f.bucket) AS f,"        \
	" max(f.bucket + make_interval(secs => f.seconds)) AS l"               \
	" FROM flow_history f WHERE "
#define HJOIN(A, S, U, LO)                                                    \
	" LEFT JOIN LATERAL" AGG "f.laddr = e.flow_addr"                       \
	" AND f.flow_id = e.flow_id" WIN(S, U, LO) ") " A " ON true"
/* No history at all (the legacy fallback), evaluated last. */
#define LEGACY(S, U)                                                          \
	"(e.last_seen >= " TS(S) " AND e.first_seen <= " TS(U)                 \
	" AND NOT shawk_edge_has_history(e.flow_addr, e.flow_id,"             \
	" e.last_seen))"
#define SPAN(LO, B) "(e.last_seen >= " TS(LO) " AND e.first_seen <= " TS(B) ")"
#define CONNS(A) "coalesce(" A ".c, 0)"
#define HAS(A) "(" A ".c IS NOT NULL)"

#define HIST_SQL(SIDE)                                            \
	EDGE_COLUMNS_("CASE WHEN " HAS("wa") " THEN " CONNS("wa") \
		      " ELSE e.connections_total END",                        \
		      "coalesce(wa.f, e.first_seen)",            \
		      "coalesce(wa.l, e.last_seen)")          \
	" FROM pod_edges e" HJOIN("wa", "$2", "$3", "$4")                \
	" WHERE ($1::inet[] IS NULL OR " SIDE " = ANY($1::inet[])) AND " SPAN("$4", "$3")              \
	" AND (" HAS("wa") " OR " LEGACY("$2", "$3") ")"                 \
	" LIMIT " STRINGIFY(LOOK_MAX_ROWS)
static const char hist_into_sql[] =
	HIST_SQL("e.server_addr");
static const char hist_from_sql[] =
	HIST_SQL("e.client_addr");
/* The calls through a Service at these addresses, in a window. */
static const char hist_via_sql[] =
	HIST_SQL("e.service_addr");

#define DIFF_SQL(SIDE)                                            \
	EDGE_COLUMNS_("CASE WHEN " HAS("wa") " THEN " CONNS("wa") \
		      " WHEN g.lw THEN e.connections_total ELSE 0 END",       \
		      "coalesce(least(wa.f, ba.f), e.first_seen)",\
		      "coalesce(greatest(wa.l, ba.l),"            \
		      " e.last_seen)")                                        \
	", " HAS("wa") " OR g.lw, " HAS("ba") " OR g.lb,"          \
	" CASE WHEN " HAS("ba") " THEN " CONNS("ba")               \
	" WHEN g.lb THEN e.connections_total ELSE 0 END"                       \
	" FROM pod_edges e" HJOIN("wa", "$2", "$3", "$6")                \
	HJOIN("ba", "$4", "$5", "$7")                                    \
	" CROSS JOIN LATERAL (SELECT NOT " HAS("wa") " AND "             \
	LEGACY("$2", "$3") " AS lw, NOT " HAS("ba") " AND "              \
	LEGACY("$4", "$5") " AS lb) g"                                         \
	" WHERE ($1::inet[] IS NULL OR " SIDE " = ANY($1::inet[]))"                                    \
	" AND (" SPAN("$6", "$3") " OR " SPAN("$7", "$5") ")"                  \
	" AND (" HAS("wa") " OR " HAS("ba") " OR g.lw OR g.lb)"    \
	" LIMIT " STRINGIFY(LOOK_MAX_ROWS)
static const char diff_into_sql[] =
	DIFF_SQL("e.server_addr");
static const char diff_from_sql[] =
	DIFF_SQL("e.client_addr");

bool look_query_windowed(const struct look_query *q)
{
	return q->diff || q->since_ms != INT64_MIN || q->until_ms != INT64_MAX;
}

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

static void lo_param(int64_t since_ms, char *buf, size_t sz)
{
	if (since_ms == INT64_MIN)
		strscpy(buf, "-Infinity", sz);
	else
		snprintf(buf, sz, "%" PRId64, since_ms - (int64_t)86400 * 1000);
}

/* Pods and nodes are looked up over both windows of a diff. */
static void span_params(const struct look_query *q, char *since, char *until,
			size_t sz)
{
	struct look_query s = *q;
	if (q->diff) {
		if (q->diff_since_ms < s.since_ms)
			s.since_ms = q->diff_since_ms;
		if (q->diff_until_ms > s.until_ms)
			s.until_ms = q->diff_until_ms;
	}
	window_params(&s, since, until, sz);
}

int cmdb_pod_namespaces(struct cmdb *db, const struct look_query *q,
			char *buf, size_t bufsz)
{
	char since[32], until[32];
	size_t len = 0;
	span_params(q, since, until, sizeof(since));
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

/* Runs the edge query that fits q and o (Service rows, diff, history
 * window or plain flows). NULL result: see cmdb_fail(). */
static PGresult *query_edges(struct cmdb *db, const struct look_query *q,
			     const char *addrs, const struct level_out *o,
			     bool *ret_diff)
{
	char since[32], until[32], bsince[32], buntil[32], lo[32], blo[32];
	const char *sql;
	window_params(q, since, until, sizeof(since));
	snprintf(bsince, sizeof(bsince), "%" PRId64, q->diff_since_ms);
	snprintf(buntil, sizeof(buntil), "%" PRId64, q->diff_until_ms);
	/* A day before each window's start (buckets are at most a day
	 * wide), computed here: a constant of the plan, by which the
	 * planner prunes the history's partitions (timestamptz - interval
	 * is only stable). */
	lo_param(q->since_ms, lo, sizeof(lo));
	lo_param(q->diff_since_ms, blo, sizeof(blo));
	const char *hist_params[] = { addrs, since, until, lo };
	const char *params[] = { addrs, since, until, bsince, buntil, lo, blo };
	/* Calls through a Service address are read from their history in
	 * a window (the history keeps the Service since schema 9); a diff
	 * applies to the edges of the addresses themselves, the calls
	 * through a Service are those of the window. */
	bool diff = q->diff && !o->via;
	bool hist = !diff && look_query_windowed(q);
	if (o->via)
		sql = hist ? hist_via_sql : edges_via_sql;
	else if (diff)
		sql = o->into ? diff_into_sql : diff_from_sql;
	else if (hist)
		sql = o->into ? hist_into_sql : hist_from_sql;
	else
		sql = q->sel == LOOK_SEL_ALL ? edges_all_sql
		      : o->into		     ? edges_into_sql
					     : edges_from_sql;
	*ret_diff = diff;
	return PQexecParams(db->conn, sql, diff ? 7 : hist ? 4 : 3, NULL,
			    hist ? hist_params : params, NULL, NULL, 0);
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
	_cleanup_(pqclearp) PGresult *res = query_edges(db, q, addrs, o, &diff);
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
	char since[32], until[32];
	span_params(q, since, until, sizeof(since));
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
