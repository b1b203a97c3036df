// SPDX-License-Identifier: MIT
#include "cmdb/list.h"

#include "cmdb/pg_internal.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_SQL " LIMIT 10001" /* CMDB_LIST_MAX_ROWS + 1: cut or not */
#define LAST_MS "(extract(epoch FROM max(last_seen)) * 1000)::bigint"
#define SINCE " last_seen >= to_timestamp($1::float8 / 1000)"

/* Every pod the CMDB knows of, by name: from the kubelet's list (pods)
 * and from the agents' process records (a pod seen through its cgroup). */
#define POD_ROWS                                                              \
	"SELECT namespace AS ns, name, unnest(CASE WHEN ips = '{}' THEN"      \
	" ARRAY[NULL::inet] ELSE ips END) AS addr, node_name, last_seen"      \
	" FROM pods WHERE" SINCE                                              \
	" UNION ALL SELECT pod_namespace, pod_name, addr, node_name,"         \
	" last_seen FROM passive_nodes WHERE pod_name IS NOT NULL AND" SINCE  \
	" UNION ALL SELECT pod_namespace, pod_name, addr, node_name,"         \
	" last_seen FROM active_nodes WHERE pod_name IS NOT NULL AND" SINCE

static const char *const host_cols[] = { "address", "processes",
					 "listening", "node", "last_seen" };
static const char *const pod_cols[] = { "namespace", "name", "addresses",
					"node", "last_seen" };
static const char *const ns_cols[] = { "namespace", "pods", "last_seen" };
static const char *const wl_cols[] = { "namespace", "kind", "name", "pods",
				       "last_seen" };

static const struct {
	const char *sql;
	const char *const *cols;
	size_t ncols;
} kinds[] = {
	[CMDB_LIST_HOSTS] = {
		"SELECT host(addr), string_agg(DISTINCT comm, ',' ORDER BY"
		" comm), string_agg(DISTINCT port, ',' ORDER BY port),"
		" string_agg(DISTINCT node_name, ','), " LAST_MS " FROM ("
		" SELECT addr, comm, proto || '/' || port AS port, node_name,"
		" last_seen FROM passive_nodes WHERE" SINCE
		" UNION ALL SELECT addr, comm, NULL, node_name, last_seen"
		" FROM active_nodes WHERE" SINCE
		") x GROUP BY addr ORDER BY addr" LIMIT_SQL,
		host_cols, ARRAY_SIZE(host_cols) },
	[CMDB_LIST_PODS] = {
		"SELECT ns, name, string_agg(DISTINCT host(addr), ','),"
		" string_agg(DISTINCT node_name, ','), " LAST_MS
		" FROM (" POD_ROWS ") x GROUP BY ns, name ORDER BY ns, name"
		LIMIT_SQL,
		pod_cols, ARRAY_SIZE(pod_cols) },
	[CMDB_LIST_NAMESPACES] = {
		"SELECT ns, count(DISTINCT name), " LAST_MS " FROM ("
		POD_ROWS ") x GROUP BY ns ORDER BY ns" LIMIT_SQL,
		ns_cols, ARRAY_SIZE(ns_cols) },
	[CMDB_LIST_WORKLOADS] = {
		"SELECT namespace, coalesce(owner_kind, 'Pod'),"
		" coalesce(owner_name, name), count(*), " LAST_MS
		" FROM pods WHERE" SINCE " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
		LIMIT_SQL,
		wl_cols, ARRAY_SIZE(wl_cols) },
};

void cmdb_table_clear(struct cmdb_table *t)
{
	if (t->cells)
		for (size_t i = 0; i < t->nrows * t->ncols; i++)
			free(t->cells[i]);
	free(t->cells);
	*t = (struct cmdb_table){ 0 };
}

int cmdb_list(struct cmdb *db, enum cmdb_list_kind kind, int64_t since_ms,
	      struct cmdb_table *t)
{
	char since[32];
	*t = (struct cmdb_table){ 0 };
	if ((size_t)kind >= ARRAY_SIZE(kinds))
		return -EINVAL;
	if (since_ms == INT64_MIN)
		strscpy(since, "-Infinity", sizeof(since));
	else
		snprintf(since, sizeof(since), "%" PRId64, since_ms);
	const char *params[] = { since };
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, kinds[kind].sql, 1, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return cmdb_fail(db, res);
	size_t rows = (size_t)PQntuples(res);
	t->ncols = kinds[kind].ncols;
	t->names = kinds[kind].cols;
	if (rows > CMDB_LIST_MAX_ROWS) {
		rows = CMDB_LIST_MAX_ROWS;
		t->truncated = 1;
	}
	t->cells = calloc(rows * t->ncols + 1, sizeof(char *));
	if (!t->cells)
		return -ENOMEM;
	t->nrows = rows;
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *v = PQgetvalue(res, (int)r, (int)c);
			t->cells[r * t->ncols + c] = strdup(v ? v : "");
			if (!t->cells[r * t->ncols + c]) {
				cmdb_table_clear(t);
				return -ENOMEM;
			}
		}
	return (int)rows;
}
