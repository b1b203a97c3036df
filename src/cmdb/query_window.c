// SPDX-License-Identifier: MIT
/*
 * The SQL of `look` and the code that picks and runs it: the edges of a
 * set of addresses now (pod_edges), in a window (the history) or in a
 * window against a baseline (a diff), and the pods of a selector. The walk
 * that calls these level by level is in query.c.
 */
#include "cmdb/query_int.h"

#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

PGresult *look_edges_query(struct cmdb *db, const struct look_query *q,
			   const char *addrs, bool into, bool via,
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
	bool diff = q->diff && !via;
	bool hist = !diff && look_query_windowed(q);
	if (via)
		sql = hist ? hist_via_sql : edges_via_sql;
	else if (diff)
		sql = into ? diff_into_sql : diff_from_sql;
	else if (hist)
		sql = into ? hist_into_sql : hist_from_sql;
	else
		sql = q->sel == LOOK_SEL_ALL ? edges_all_sql
		      : into		     ? edges_into_sql
					     : edges_from_sql;
	*ret_diff = diff;
	return PQexecParams(db->conn, sql, diff ? 7 : hist ? 4 : 3, NULL,
			    hist ? hist_params : params, NULL, NULL, 0);
}

PGresult *look_pod_addrs_query(struct cmdb *db, const struct look_query *q)
{
	char since[32], until[32];
	span_params(q, since, until, sizeof(since));
	const char *params[] = {
		q->pod_namespace && *q->pod_namespace ? q->pod_namespace : NULL,
		q->sel == LOOK_SEL_POD ? q->pod_name : NULL, since, until
	};
	return PQexecParams(db->conn, pod_ips_sql, 4, NULL, params, NULL, NULL,
			    0);
}
