/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PGCOPY_H
#define SHAWK_CMDB_PGCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Builds the data of a `COPY ... FROM STDIN (FORMAT binary)`: the header,
 * rows of length-prefixed big-endian fields, the trailer. The server then
 * parses no text at all (no array literals, no inet or number parsing).
 * No libpq here: pure byte building, tested without a server.
 *
 * Allocation failures are sticky: the add functions then do nothing and
 * pgcopy_finish() returns NULL.
 */
struct pgcopy {
	char *buf;
	size_t len, cap;
	size_t rows;
	bool oom;
};

/* Starts the stream with the binary COPY header. */
void pgcopy_init(struct pgcopy *c);

/* Frees the buffer; the stream can be initialised again. */
void pgcopy_clear(struct pgcopy *c);

/* Starts a row of nfields fields; the caller adds exactly that many. */
void pgcopy_row(struct pgcopy *c, uint16_t nfields);

void pgcopy_null(struct pgcopy *c);

/* text, or NULL when s is NULL. Invalid UTF-8 bytes become '?' as in
 * sql_array_add_str(): the server refuses the whole COPY for one. */
void pgcopy_text(struct pgcopy *c, const char *s);

void pgcopy_int4(struct pgcopy *c, int32_t v);
void pgcopy_int8(struct pgcopy *c, int64_t v);

/* inet host address; family AF_INET (4 bytes of addr) or AF_INET6. */
void pgcopy_inet(struct pgcopy *c, int family, const uint8_t addr[16]);

/* timestamptz from milliseconds since the Unix epoch. */
void pgcopy_timestamptz_ms(struct pgcopy *c, int64_t ms);

/* Makes room for more bytes at once (an estimate: the stream still grows
 * past it), sparing a large stream its reallocations and copies. */
void pgcopy_reserve(struct pgcopy *c, size_t more);

/* Appends fields encoded by the functions above (e.g. into another
 * pgcopy used as a scratch buffer): len bytes, copied as they are. */
void pgcopy_fields(struct pgcopy *c, const void *fields, size_t len);

/* Appends the trailer; returns the data (owned by c, *ret_len bytes) or
 * NULL on OOM. */
const char *pgcopy_finish(struct pgcopy *c, size_t *ret_len);

#endif
