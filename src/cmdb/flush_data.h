/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_FLUSH_DATA_H
#define SHAWK_CMDB_FLUSH_DATA_H

#include "cmdb/pgcopy.h"
#include "core/flow.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * What the flush streams to the server: three binary COPYs, the flows in
 * primary-key order, and the passive and active nodes they name, one row
 * per node key (merged client-side). dups is true when two flows may have
 * the same CMDB key (the flush then merges them in SQL). The row layouts
 * are the staging tables of sql/flush/tables.sql. Pure encoding: no libpq,
 * tested without a server.
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
int cmdb_flush_data_encode(struct cmdb_flush_data *d, const struct flow *flows,
			   size_t n);

#endif
