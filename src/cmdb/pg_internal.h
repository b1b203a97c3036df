/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PG_INTERNAL_H
#define SHAWK_CMDB_PG_INTERNAL_H

/* Shared by the files of src/cmdb only: the one place libpq is included. */
#include "cmdb/pg.h"

#include <libpq-fe.h>

struct cmdb {
	PGconn *conn;
	char err[256];
	/* The flush's staging table exists in this session. */
	bool flush_table;
};

/*
 * Records PQ's message for res (or the connection's) as the last error and
 * returns -ENOTCONN when the connection is gone, -EIO otherwise.
 */
int cmdb_fail(struct cmdb *db, const PGresult *res);

/* Runs a statement without parameters; returns 0 or cmdb_fail(). */
int cmdb_exec(struct cmdb *db, const char *sql);

static inline void pqclearp(PGresult **r)
{
	if (*r)
		PQclear(*r);
}

#endif
