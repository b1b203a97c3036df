/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_SQLARRAY_H
#define SHAWK_CMDB_SQLARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Builds a PostgreSQL array literal ("{1,NULL,\"a\\\"b\"}") to pass as one
 * text parameter, so a whole batch travels in one statement and is spread
 * into rows by unnest(). No libpq here: this is pure string building.
 *
 * Allocation failures are sticky: the add functions then do nothing and
 * sql_array_finish() returns NULL.
 */
struct sql_array {
	char *buf;
	size_t len, cap;
	size_t n; /* elements added */
	bool oom;
};

void sql_array_init(struct sql_array *a);

/* Frees the buffer; the array can be initialised again. */
void sql_array_clear(struct sql_array *a);

/* Adds s quoted and escaped, or NULL when s is NULL. Invalid UTF-8 bytes
 * become '?': the server would refuse the whole batch for one bad comm. */
void sql_array_add_str(struct sql_array *a, const char *s);

void sql_array_add_int(struct sql_array *a, int64_t v);

/* Closes the literal; returns it (owned by a) or NULL on OOM. */
const char *sql_array_finish(struct sql_array *a);

#endif
