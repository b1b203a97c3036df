// SPDX-License-Identifier: MIT
#include "cmdb/pods_store.h"

#include "cmdb/pg_internal.h"
#include "core/duration.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>

enum {
	COL_UID,
	COL_NAMESPACE,
	COL_NAME,
	COL_OWNER_KIND,
	COL_OWNER_NAME,
	COL_HOST_NETWORK,
	COL_START_MS,
	COL_IP_POD,
	COL_IP,
	COL_LABEL_POD,
	COL_LABEL_KEY,
	COL_LABEL_VALUE,
	COL_CTR_POD,
	COL_CTR_NAME,
};

/* DISTINCT ON: a uid listed twice would make ON CONFLICT touch a row
 * twice. Pod indexes are 1-based, as WITH ORDINALITY counts. */
static const char pods_sql[] =
	"WITH p AS ("
	" SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[],"
	"  $7::text[], $8::bool[], $9::bigint[]) WITH ORDINALITY"
	" AS t(uid, namespace, name, owner_kind, owner_name, host_network,"
	"  start_ms, i)"
	"), ip AS ("
	" SELECT i, array_agg(DISTINCT a) AS ips"
	" FROM unnest($10::bigint[], $11::inet[]) AS t(i, a) GROUP BY i"
	"), lb AS ("
	" SELECT i, jsonb_object_agg(k, v) AS labels"
	" FROM unnest($12::bigint[], $13::text[], $14::text[]) AS t(i, k, v)"
	" GROUP BY i"
	"), ct AS ("
	" SELECT i, array_agg(DISTINCT c) AS containers"
	" FROM unnest($15::bigint[], $16::text[]) AS t(i, c) GROUP BY i"
	") INSERT INTO pods AS o (uid, namespace, name, node_name, ips, labels,"
	"  owner_kind, owner_name, containers, host_network, first_seen,"
	"  last_seen)"
	" SELECT DISTINCT ON (p.uid) p.uid, p.namespace, p.name, $1,"
	"  coalesce(ip.ips, '{}'), coalesce(lb.labels, '{}'), p.owner_kind,"
	"  p.owner_name, coalesce(ct.containers, '{}'), p.host_network,"
	"  to_timestamp(least(coalesce(p.start_ms, $2::bigint), $2::bigint)"
	"   / 1000.0),"
	"  to_timestamp($2::bigint / 1000.0)"
	" FROM p LEFT JOIN ip USING (i) LEFT JOIN lb USING (i)"
	"  LEFT JOIN ct USING (i) ORDER BY p.uid, p.i"
	" ON CONFLICT (uid) DO UPDATE SET"
	"  namespace = EXCLUDED.namespace, name = EXCLUDED.name,"
	"  node_name = EXCLUDED.node_name,"
	"  ips = CASE WHEN cardinality(EXCLUDED.ips) > 0 THEN EXCLUDED.ips"
	"   ELSE o.ips END,"
	"  labels = EXCLUDED.labels,"
	"  owner_kind = EXCLUDED.owner_kind, owner_name = EXCLUDED.owner_name,"
	"  containers = CASE WHEN cardinality(EXCLUDED.containers) > 0"
	"   THEN EXCLUDED.containers ELSE o.containers END,"
	"  host_network = EXCLUDED.host_network,"
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)";

void cmdb_pod_rows_init(struct cmdb_pod_rows *r, size_t max)
{
	for (size_t i = 0; i < CMDB_POD_COLUMNS; i++)
		sql_array_init(&r->col[i]);
	r->n = 0;
	r->max = max ? max : PODS_DEFAULT_MAX;
}

void cmdb_pod_rows_clear(struct cmdb_pod_rows *r)
{
	for (size_t i = 0; i < CMDB_POD_COLUMNS; i++)
		sql_array_clear(&r->col[i]);
	r->n = 0;
}

int cmdb_pod_rows_add(struct cmdb_pod_rows *r, const struct pod *p)
{
	struct sql_array *c = r->col;
	int64_t start;

	if (r->n >= r->max)
		return -ENOSPC;
	int64_t idx = (int64_t)++r->n;
	sql_array_add_str(&c[COL_UID], p->uid);
	sql_array_add_str(&c[COL_NAMESPACE], p->namespace);
	sql_array_add_str(&c[COL_NAME], p->name);
	sql_array_add_str(&c[COL_OWNER_KIND], p->workload_kind);
	sql_array_add_str(&c[COL_OWNER_NAME], p->workload_name);
	sql_array_add_str(&c[COL_HOST_NETWORK], p->host_network ? "t" : "f");
	if (p->start_time &&
	    duration_rfc3339_parse_ms(p->start_time, &start) == 0)
		sql_array_add_int(&c[COL_START_MS], start);
	else
		sql_array_add_str(&c[COL_START_MS], NULL);
	for (size_t i = 0; i < p->n_ips; i++) {
		sql_array_add_int(&c[COL_IP_POD], idx);
		sql_array_add_str(&c[COL_IP], p->ips[i]);
	}
	for (size_t i = 0; i < p->n_labels; i++) {
		if (!p->labels[i].key || !p->labels[i].value)
			continue;
		sql_array_add_int(&c[COL_LABEL_POD], idx);
		sql_array_add_str(&c[COL_LABEL_KEY], p->labels[i].key);
		sql_array_add_str(&c[COL_LABEL_VALUE], p->labels[i].value);
	}
	for (size_t i = 0; i < p->n_containers; i++) {
		if (!p->containers[i].name)
			continue;
		sql_array_add_int(&c[COL_CTR_POD], idx);
		sql_array_add_str(&c[COL_CTR_NAME], p->containers[i].name);
	}
	for (size_t i = 0; i < CMDB_POD_COLUMNS; i++)
		if (c[i].oom)
			return -ENOMEM;
	return 0;
}

int cmdb_store_pods(struct cmdb *db, const char *node_name,
		    struct cmdb_pod_rows *r, int64_t now_ms)
{
	const char *params[CMDB_POD_COLUMNS + 2];
	char now[24];

	if (r->n == 0)
		return 0;
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	params[0] = node_name;
	params[1] = now;
	for (size_t i = 0; i < CMDB_POD_COLUMNS; i++)
		if (!(params[i + 2] = sql_array_finish(&r->col[i])))
			return -ENOMEM;
	_cleanup_(pqclearp) PGresult *res =
		PQexecParams(db->conn, pods_sql, CMDB_POD_COLUMNS + 2, NULL,
			     params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return cmdb_fail(db, res);
	return (int)r->n;
}

enum {
	SCOL_UID,
	SCOL_NAMESPACE,
	SCOL_NAME,
	SCOL_TYPE,
	SCOL_IP_SVC,
	SCOL_IP,
	SCOL_PORT_SVC,
	SCOL_PORT,
	SCOL_PROTO,
	SCOL_NODE_PORT,
};

/* Ports as [{"port": 80, "protocol": "TCP", "nodePort": 30080}] in the
 * API's order, the shape pod_edges matches with @>. The DELETE leaves
 * out the Services of this batch: one statement may not change a row
 * twice. */
static const char services_sql[] =
	"WITH s AS ("
	" SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])"
	" WITH ORDINALITY AS t(uid, namespace, name, type, i)"
	"), ip AS ("
	" SELECT i, array_agg(DISTINCT a) AS ips"
	" FROM unnest($6::bigint[], $7::inet[]) AS t(i, a) GROUP BY i"
	"), pt AS ("
	" SELECT i, jsonb_agg(jsonb_strip_nulls(jsonb_build_object('port', p,"
	"  'protocol', pr, 'nodePort', np)) ORDER BY o) AS ports"
	" FROM unnest($8::bigint[], $9::int[], $10::text[], $11::int[])"
	" WITH ORDINALITY AS t(i, p, pr, np, o) GROUP BY i"
	"), np AS ("
	" SELECT i, array_agg(DISTINCT np) AS node_ports"
	" FROM unnest($8::bigint[], $11::int[]) AS t(i, np)"
	" WHERE np IS NOT NULL GROUP BY i"
	"), w AS ("
	" INSERT INTO services AS o (uid, namespace, name, type, cluster_ips,"
	"  ports, node_ports, first_seen, last_seen)"
	" SELECT DISTINCT ON (s.uid) s.uid, s.namespace, s.name, s.type,"
	"  coalesce(ip.ips, '{}'), coalesce(pt.ports, '[]'),"
	"  coalesce(np.node_ports, '{}'),"
	"  to_timestamp($1::bigint / 1000.0), to_timestamp($1::bigint / 1000.0)"
	" FROM s LEFT JOIN ip USING (i) LEFT JOIN pt USING (i)"
	"  LEFT JOIN np USING (i) ORDER BY s.uid, s.i"
	" ON CONFLICT (uid) DO UPDATE SET"
	"  namespace = EXCLUDED.namespace, name = EXCLUDED.name,"
	"  type = EXCLUDED.type, cluster_ips = EXCLUDED.cluster_ips,"
	"  ports = EXCLUDED.ports, node_ports = EXCLUDED.node_ports,"
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)"
	" RETURNING 1"
	") DELETE FROM services WHERE"
	" last_seen < to_timestamp($1::bigint / 1000.0) - interval '30 days'"
	" AND uid NOT IN (SELECT uid FROM s)";

void cmdb_service_rows_init(struct cmdb_service_rows *r, size_t max)
{
	for (size_t i = 0; i < CMDB_SERVICE_COLUMNS; i++)
		sql_array_init(&r->col[i]);
	r->n = 0;
	r->max = max ? max : SERVICES_DEFAULT_MAX;
}

void cmdb_service_rows_clear(struct cmdb_service_rows *r)
{
	for (size_t i = 0; i < CMDB_SERVICE_COLUMNS; i++)
		sql_array_clear(&r->col[i]);
	r->n = 0;
}

int cmdb_service_rows_add(struct cmdb_service_rows *r,
			  const struct service *s)
{
	struct sql_array *c = r->col;

	if (r->n >= r->max)
		return -ENOSPC;
	int64_t idx = (int64_t)++r->n;
	sql_array_add_str(&c[SCOL_UID], s->uid);
	sql_array_add_str(&c[SCOL_NAMESPACE], s->namespace);
	sql_array_add_str(&c[SCOL_NAME], s->name);
	sql_array_add_str(&c[SCOL_TYPE], s->type);
	for (size_t i = 0; i < s->n_ips; i++) {
		sql_array_add_int(&c[SCOL_IP_SVC], idx);
		sql_array_add_str(&c[SCOL_IP], s->ips[i]);
	}
	for (size_t i = 0; i < s->n_ports; i++) {
		sql_array_add_int(&c[SCOL_PORT_SVC], idx);
		sql_array_add_int(&c[SCOL_PORT], s->ports[i].port);
		sql_array_add_str(&c[SCOL_PROTO],
				  service_proto_name(s->ports[i].proto));
		if (s->ports[i].node_port)
			sql_array_add_int(&c[SCOL_NODE_PORT],
					  s->ports[i].node_port);
		else
			sql_array_add_str(&c[SCOL_NODE_PORT], NULL);
	}
	for (size_t i = 0; i < CMDB_SERVICE_COLUMNS; i++)
		if (c[i].oom)
			return -ENOMEM;
	return 0;
}

int cmdb_store_services(struct cmdb *db, struct cmdb_service_rows *r,
			int64_t now_ms)
{
	const char *params[CMDB_SERVICE_COLUMNS + 1];
	char now[24];

	if (r->n == 0)
		return 0;
	snprintf(now, sizeof(now), "%" PRId64, now_ms);
	params[0] = now;
	for (size_t i = 0; i < CMDB_SERVICE_COLUMNS; i++)
		if (!(params[i + 1] = sql_array_finish(&r->col[i])))
			return -ENOMEM;
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, services_sql, CMDB_SERVICE_COLUMNS + 1, NULL, params, NULL,
		NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return cmdb_fail(db, res);
	return (int)r->n;
}
