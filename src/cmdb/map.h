/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_MAP_H
#define SHAWK_CMDB_MAP_H

#include "cmdb/pg.h"
#include "core/depmap.h"

#include <stdint.h>

/*
 * Folds every edge of the CMDB seen within [since_ms, until_ms]
 * (INT64_MIN / INT64_MAX: open) into m at its level: the pod at each end
 * as `look` labels it, the pod's workload from the pods table. One
 * statement, grouped in the database; at most CMDB_MAP_MAX_ROWS rows.
 * Read-only: works as shawk_reader. Returns the number of rows read,
 * -ENOMEM, -E2BIG (m's bound) or -EIO/-ENOTCONN (see cmdb_last_error).
 */
#define CMDB_MAP_MAX_ROWS 1000000
int cmdb_depmap(struct cmdb *db, int64_t since_ms, int64_t until_ms,
		struct depmap *m);

#endif
