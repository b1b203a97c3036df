/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_STATS_H
#define SHAWK_CORE_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * How every part of the running agent (source, stage, flow table, sink)
 * reports its counters: one stats() callback per object calls stat_fn once
 * per value, so a reader (the debug log, a metrics sink) needs no knowledge
 * of which source, stage or sink it asks.
 */
enum stat_kind {
	STAT_COUNTER, /* only grows over the process's life */
	STAT_GAUGE,   /* a current value (last scan, queue length, ...) */
};

/*
 * name: snake_case, unique within the reporting object, without its
 * prefix (the reader adds "<object name>_"). help: one line for humans.
 * Both are static strings.
 */
typedef void (*stat_fn)(const char *name, enum stat_kind kind, uint64_t value,
			const char *help, void *userdata);

/* One uint64_t field of a stats struct, for stats_emit(). */
struct stat_desc {
	const char *name;
	enum stat_kind kind;
	size_t off; /* offsetof() the field */
	const char *help;
};

/* A struct stat_desc for the uint64_t `field` of `type`, named after it. */
#define STAT_DESC(type, field, kind, help)                                     \
	{ #field, kind, offsetof(type, field), help }

/* Calls fn for each of the n fields d describes, read from stats. */
void stats_emit(const struct stat_desc *d, size_t n, const void *stats,
		stat_fn fn, void *userdata);

#endif
