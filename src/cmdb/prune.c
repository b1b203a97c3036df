// SPDX-License-Identifier: MIT
#include "cmdb/prune.h"

#include "cmdb/pg_internal.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char prune_sql[] =
	"SELECT skipped, partitions, deleted, more FROM shawk_prune("
	" make_interval(secs => $1::float8 / 1000), $2::integer,"
	" CASE WHEN $3::bigint > 0"
	" THEN make_interval(secs => $3::float8 / 1000) END)";

int cmdb_prune(struct cmdb *db, int64_t retention_ms, uint32_t batch,
	       int64_t every_ms, struct cmdb_prune_result *ret)
{
	char ret_s[24], batch_s[16], every_s[24];
	snprintf(ret_s, sizeof(ret_s), "%" PRId64, retention_ms);
	snprintf(batch_s, sizeof(batch_s), "%" PRIu32, batch);
	snprintf(every_s, sizeof(every_s), "%" PRId64, every_ms);
	const char *params[] = { ret_s, batch_s, every_s };
	_cleanup_(pqclearp) PGresult *res = PQexecParams(
		db->conn, prune_sql, 3, NULL, params, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQntuples(res) != 1)
		return cmdb_fail(db, res);
	*ret = (struct cmdb_prune_result){
		.skipped = PQgetvalue(res, 0, 0)[0] == 't',
		.partitions = atoi(PQgetvalue(res, 0, 1)),
		.deleted = strtoll(PQgetvalue(res, 0, 2), NULL, 10),
		.more = PQgetvalue(res, 0, 3)[0] == 't',
	};
	return 0;
}
