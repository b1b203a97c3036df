// SPDX-License-Identifier: MIT
#include "cmdb/map.h"

#include "cmdb/pg_internal.h"
#include "core/util.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* The latest record of the pod names its workload (a pod keeps its
 * owner for life; the latest wins if a name was reused). */
#define WORKLOAD_OF(side)                                                     \
	" LEFT JOIN LATERAL (SELECT p.owner_kind, p.owner_name FROM pods p"   \
	" WHERE p.namespace = e." side "_pod_namespace"                       \
	" AND p.name = e." side "_pod_name AND p.owner_name IS NOT NULL"      \
	" ORDER BY p.last_seen DESC LIMIT 1) " side "_w ON true"

static const char map_sql[] =
	"SELECT e.proto, host(e.client_addr), e.client_comm,"
	" e.client_pod_namespace, e.client_pod_name,"
	" client_w.owner_kind, client_w.owner_name,"
	" host(e.server_addr), e.server_comm,"
	" e.server_pod_namespace, e.server_pod_name,"
	" server_w.owner_kind, server_w.owner_name, e.server_port,"
	" sum(e.connections_total),"
	" (extract(epoch FROM max(e.last_seen)) * 1000)::bigint,"
	" e.service_namespace, e.service_name"
	" FROM pod_edges e" WORKLOAD_OF("client") WORKLOAD_OF("server")
	" WHERE ($1::float8 IS NULL OR e.last_seen >= to_timestamp($1::float8 / 1000))"
	" AND ($2::float8 IS NULL OR e.first_seen <= to_timestamp($2::float8 / 1000))"
	" GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18"
	" ORDER BY 2, 3, 8, 9, 14, 1"
	" LIMIT " STR(CMDB_MAP_MAX_ROWS);

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* One end from its six columns: addr, comm, pod ns, pod, workload. */
static struct depmap_end end_at(const PGresult *res, int row, int c)
{
	return (struct depmap_end){
		.addr = col(res, row, c),
		.comm = col(res, row, c + 1),
		.pod_namespace = col(res, row, c + 2),
		.pod_name = col(res, row, c + 3),
		.workload_kind = col(res, row, c + 4),
		.workload_name = col(res, row, c + 5),
	};
}

int cmdb_depmap(struct cmdb *db, int64_t since_ms, int64_t until_ms,
		struct depmap *m)
{
	char since[32], until[32];
	snprintf(since, sizeof(since), "%" PRId64, since_ms);
	snprintf(until, sizeof(until), "%" PRId64, until_ms);
	const char *params[] = { since_ms == INT64_MIN ? NULL : since,
				 until_ms == INT64_MAX ? NULL : until };
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, map_sql, 2, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	int rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		struct depmap_end c = end_at(res, i, 1), sv = end_at(res, i, 7);
		int r = depmap_add_via(
			m, &c, &sv,
			strcmp(PQgetvalue(res, i, 0), "udp") == 0 ? IPPROTO_UDP
								  : IPPROTO_TCP,
			(uint16_t)atoi(PQgetvalue(res, i, 13)),
			strtoull(PQgetvalue(res, i, 14), NULL, 10),
			strtoll(PQgetvalue(res, i, 15), NULL, 10),
			col(res, i, 16), col(res, i, 17));
		if (r < 0)
			return r;
	}
	return rows;
}
