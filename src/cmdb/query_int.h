/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_QUERY_INT_H
#define SHAWK_CMDB_QUERY_INT_H

/*
 * Shared by the two files of `look`'s query: query_window.c (the SQL:
 * edges now, in a window, in a diff; the pods of a selector) and query.c
 * (the walk, level by level, that turns rows into the graph).
 */
#include "cmdb/pg_internal.h"
#include "cmdb/query.h"

#include <stdbool.h>

/* Rows one level query may return: bounds memory on a huge CMDB. */
#define LOOK_MAX_ROWS 1000000

/* Columns after the 18 of every version. */
enum { COL_SVC_ADDR = 18, COL_SVC_PORT, COL_SVC_NS, COL_SVC_NAME, COL_NAT_SEEN,
       /* A diff's: in the window, in the baseline, the baseline's
	* connections. */
       COL_IN_WINDOW };

/* Runs the edge query that fits q (diff, history window or plain flows)
 * over addrs (an SQL array literal; NULL with LOOK_SEL_ALL): the edges
 * into them (into) or out of them, or the calls through a Service at them
 * (via). *ret_diff: the rows carry a diff's columns (COL_IN_WINDOW...).
 * NULL result: see cmdb_fail(). */
PGresult *look_edges_query(struct cmdb *db, const struct look_query *q,
			   const char *addrs, bool into, bool via,
			   bool *ret_diff);

/* Runs the query of the root addresses of a pod or namespace selector
 * (one column: an address), over both windows of a diff. NULL result:
 * see cmdb_fail(). */
PGresult *look_pod_addrs_query(struct cmdb *db, const struct look_query *q);

#endif
