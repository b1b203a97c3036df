/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_FLUSH_DATA_H
#define SHAWK_CMDB_FLUSH_DATA_H

#include "cmdb/pgcopy.h"
#include "core/flow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	/* (flow row, connection identity) of the new connections that have
	 * one: the identity is cmdb_conn_id() of the flow's conn_ids. */
	struct pgcopy conns;
	bool dups;
};

/*
 * A connection's identity in the CMDB: the node's kernel boot (boot, a
 * hash of /proc/sys/kernel/random/boot_id), its network namespace and
 * the kernel's id of the socket (the identity of a struct flow's
 * conn_ids pair), hashed to 63
 * bits (a positive bigint). Equal in every agent process of one boot.
 */
int64_t cmdb_conn_id(uint64_t boot, uint64_t netns, uint64_t kernel_id);
void cmdb_flush_data_init(struct cmdb_flush_data *d);
void cmdb_flush_data_clear(struct cmdb_flush_data *d);

/*
 * Encodes flows into d (initialised by the caller with
 * cmdb_flush_data_init, freed with cmdb_flush_data_clear; the COPYs are
 * not finished). Returns 0 or -ENOMEM.
 */
int cmdb_flush_data_encode(struct cmdb_flush_data *d, const struct flow *flows,
			   size_t n, uint64_t boot);

#endif
