/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_TABLE_H
#define SHAWK_RENDER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A table of text cells (`shawk list`): the last column is a time in ms
 * since the epoch, printed as an age in text ("5m ago") and as an RFC 3339
 * time in JSON. A column named "pods" is a number in JSON; an empty cell
 * is "-" in text and null in JSON. Cells are untrusted (escaped).
 */
struct render_table {
	const char *section; /* JSON key / text heading */
	const char *const *names;
	size_t ncols, nrows;
	char *const *cells; /* cells[row * ncols + col] */
};

/* Aligned columns with a header line. Returns 0 or -EIO. */
int render_table_text(FILE *out, const struct render_table *t, int64_t now_ms);

/* One line: an array of objects (as_object false, one table) or an object
 * with one such array per section. Returns 0, -ENOMEM or -EIO. */
int render_table_json(FILE *out, const struct render_table *t, size_t n,
		      bool as_object);

#endif
