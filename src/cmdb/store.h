/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_STORE_H
#define SHAWK_CMDB_STORE_H

#include "cmdb/pg.h"
#include "core/flow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Identifies a flush: (node_name, boot_id) is one probe process, seq grows
 * with each batch it commits. A batch retried with the same seq after a
 * lost COMMIT acknowledgement is recognised and skipped.
 */
struct cmdb_batch {
	const char *node_name; /* this node: the local side of every flow */
	uint64_t boot_id;
	uint64_t seq;
};

/* Number of array parameters of the flush statement (one per column). */
#define CMDB_FLUSH_COLUMNS 21

/*
 * Writes flows in one transaction with a constant number of round trips
 * (BEGIN, batch claim, binary COPY into a session temporary table, one
 * statement that upserts flows and nodes from it, COMMIT), whatever n is.
 * The commit is asynchronous (synchronous_commit off): a server crash may
 * lose the last acknowledged flush, never part of one.
 * Returns n (0 writes nothing), -EALREADY when this batch was committed
 * before, -ENOMEM, -ENOTCONN (connection lost) or -EIO (see
 * cmdb_last_error). *ret_in_doubt is always written: true when the
 * connection broke after COMMIT was sent, so the batch may or may not have
 * been applied and must be retried with the same seq.
 */
int cmdb_store_flush(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt);

/*
 * Encodes flows as the rows of the flush's binary COPY into c (initialised
 * by the caller with pgcopy_init, freed with pgcopy_clear; not finished).
 * *ret_dups is true when two flows may have the same CMDB key (the flush
 * then merges them in SQL). Returns 0 or -ENOMEM.
 */
struct pgcopy;
int cmdb_store_encode_copy(const struct flow *flows, size_t n,
			   struct pgcopy *c, bool *ret_dups);

/*
 * Fills the CMDB_FLUSH_COLUMNS array literals for flows into cols (each
 * initialised by the caller, freed with sql_array_clear). Exposed for the
 * unit tests. Returns 0 or -ENOMEM.
 */
struct sql_array;
int cmdb_store_build_arrays(const struct flow *flows, size_t n,
			    struct sql_array *cols);

/*
 * Benchmark reference only: one upsert per node and per flow, the way
 * upstream shawk writes. Returns n or -errno.
 */
int cmdb_store_flush_rowwise(struct cmdb *db, const char *node_name,
			     const struct flow *flows, size_t n);

/* Runs SQL without parameters (bench and test set-up). 0 or -errno. */
int cmdb_exec_sql(struct cmdb *db, const char *sql);

#endif
