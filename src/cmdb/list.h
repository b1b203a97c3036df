/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_LIST_H
#define SHAWK_CMDB_LIST_H

#include "cmdb/pg.h"

#include <stddef.h>
#include <stdint.h>

/*
 * What the CMDB knows, for `shawk list`: something to type next when the
 * newcomer has no address or pod name yet. Read-only (works as
 * shawk_reader).
 */
enum cmdb_list_kind {
	CMDB_LIST_HOSTS,      /* addresses: processes, listening ports */
	CMDB_LIST_PODS,	      /* pods: addresses, node */
	CMDB_LIST_NAMESPACES, /* namespaces: pod count */
	CMDB_LIST_WORKLOADS,  /* namespace/kind/name: pod count */
};

#define CMDB_LIST_MAX_ROWS 10000

/* Rows of text cells; the last column of every kind is the last-seen
 * time in ms since the epoch (as text). cells[row * ncols + col]; a NULL
 * cell is "". */
struct cmdb_table {
	size_t ncols, nrows;
	const char *const *names; /* column names, static */
	char **cells;
	int truncated; /* more than CMDB_LIST_MAX_ROWS rows */
};

/* Returns the number of rows, -ENOMEM or -EIO/-ENOTCONN (see
 * cmdb_last_error). t is cleared with cmdb_table_clear() in every case. */
int cmdb_list(struct cmdb *db, enum cmdb_list_kind kind, int64_t since_ms,
	      struct cmdb_table *t);
void cmdb_table_clear(struct cmdb_table *t);

#endif
