/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_STORE_H
#define SHAWK_CMDB_STORE_H

#include "cmdb/pg.h"
#include "cmdb/pgcopy.h"
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
 * (BEGIN, batch claim, three binary COPYs into session temporary tables,
 * a savepoint, one statement that writes flows and nodes from them,
 * COMMIT; two more if another writer inserted one of the flows meanwhile),
 * whatever n is.
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
 * What the flush streams to the server: three binary COPYs, the flows in
 * primary-key order, and the passive and active nodes they name, one row
 * per node key (merged client-side). dups is true when two flows may have
 * the same CMDB key (the flush then merges them in SQL).
 */
struct cmdb_flush_data {
	struct pgcopy flows, passive, active;
	bool dups;
};
void cmdb_flush_data_init(struct cmdb_flush_data *d);
void cmdb_flush_data_clear(struct cmdb_flush_data *d);

/*
 * Encodes flows into d (initialised by the caller with
 * cmdb_flush_data_init, freed with cmdb_flush_data_clear; the COPYs are
 * not finished). Returns 0 or -ENOMEM.
 */
int cmdb_store_encode_copy(const struct flow *flows, size_t n,
			   struct cmdb_flush_data *d);

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
