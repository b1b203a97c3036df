/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_METRICS_PROM_H
#define SHAWK_METRICS_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The Prometheus text exposition format (version 0.0.4): families with
 * HELP and TYPE lines, label values escaped, a histogram type, and a
 * bounded set of labelled counters. Pure output, no I/O but the FILE.
 */

/* "# HELP name help\n# TYPE name type\n"; help escaped (\\ and \n). */
void prom_family(FILE *out, const char *name, const char *type,
		 const char *help);

/*
 * One sample line: name{k1="v1",...} value. Values are escaped (\\, \"
 * and \n), invalid UTF-8 replaced; n may be 0 (no braces).
 */
void prom_sample(FILE *out, const char *name, const char *const *keys,
		 const char *const *values, size_t n, uint64_t value);

/* Writes v as a label value (inside the quotes). */
void prom_label_value(FILE *out, const char *v);

/* A histogram of durations in seconds, fixed bounds. */
#define PROM_HIST_MAX_BUCKETS 16
struct prom_histogram {
	size_t nb;
	double bounds[PROM_HIST_MAX_BUCKETS]; /* upper bounds, increasing */
	uint64_t counts[PROM_HIST_MAX_BUCKETS]; /* per bucket (not cumulative) */
	uint64_t count;
	double sum;
};

/* bounds: nb (<= PROM_HIST_MAX_BUCKETS) increasing upper bounds. */
void prom_histogram_init(struct prom_histogram *h, const double *bounds,
			 size_t nb);
void prom_histogram_observe(struct prom_histogram *h, double v);
/* The family with its _bucket (cumulative, +Inf last), _sum and _count. */
void prom_histogram_write(FILE *out, const char *name, const char *help,
			  const struct prom_histogram *h);

/*
 * Counters keyed by a fixed number of label values (at most
 * PROM_SERIES_MAX_LABELS), at most max_series of them: an increment of a
 * new series beyond the cap is not recorded, and counted in `dropped`
 * (the sum of the increments lost) and `dropped_events` (the refused
 * calls: a refused key is not remembered, so the same key refused twice
 * counts twice).
 */
#define PROM_SERIES_MAX_LABELS 8
struct prom_series {
	size_t nlabels;
	const char *const *keys; /* static label names */
	size_t max_series;
	size_t n, cap;	   /* entries */
	char **values;	   /* n * nlabels owned strings */
	uint64_t *counts;
	uint32_t *idx;	   /* open addressing, UINT32_MAX empty */
	size_t idx_cap;
	uint64_t dropped, dropped_events;
};

void prom_series_init(struct prom_series *s, const char *const *keys,
		      size_t nlabels, size_t max_series);
void prom_series_clear(struct prom_series *s);

/*
 * Adds inc to the series with these label values (NULL counts as "").
 * Returns 0, 1 when the cap refused a new series (the increment is
 * counted as dropped), or -ENOMEM.
 */
int prom_series_add(struct prom_series *s, const char *const *values,
		    uint64_t inc);

/* The family (counter) and one sample per series, in insertion order. */
void prom_series_write(FILE *out, const char *name, const char *help,
		       const struct prom_series *s);

#endif
