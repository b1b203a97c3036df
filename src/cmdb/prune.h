/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PRUNE_H
#define SHAWK_CMDB_PRUNE_H

#include "cmdb/pg.h"

#include <stdbool.h>
#include <stdint.h>

/* What one retention run did (sql/007_history.sql, shawk_prune()). */
struct cmdb_prune_result {
	bool skipped;	 /* another session prunes, or a run is recent */
	int partitions;	 /* history partitions dropped */
	int64_t deleted; /* flows, nodes and pods rows deleted */
	bool more;	 /* old rows or partitions remain: run again */
};

/*
 * One bounded retention run: drops the history partitions older than
 * retention_ms and deletes at most batch rows per table not seen within
 * it. every_ms > 0 (the agents) skips the run when one completed within
 * that period; 0 runs now. One statement, its own transaction; waits at
 * most a second for a partition's lock. Returns 0 and *ret, or
 * -EIO/-ENOTCONN (see cmdb_last_error).
 */
int cmdb_prune(struct cmdb *db, int64_t retention_ms, uint32_t batch,
	       int64_t every_ms, struct cmdb_prune_result *ret);

#endif
