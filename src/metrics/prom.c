// SPDX-License-Identifier: MIT
#include "metrics/prom.h"

#include "core/utf8.h"
#include "core/util.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define EMPTY UINT32_MAX

static void escape(FILE *out, const char *v, bool quote)
{
	_cleanup_(freep) char *copy = NULL;
	if (!utf8_valid(v)) {
		/* The format is UTF-8: an invalid byte becomes '?'. */
		if (!(copy = strdup(v))) {
			fputc('?', out);
			return;
		}
		utf8_sanitize(copy);
		v = copy;
	}
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", out);
		else if (*v == '\n')
			fputs("\\n", out);
		else if (*v == '"' && quote)
			fputs("\\\"", out);
		else
			fputc(*v, out);
	}
}

void prom_label_value(FILE *out, const char *v)
{
	escape(out, v ? v : "", true);
}

void prom_family(FILE *out, const char *name, const char *type,
		 const char *help)
{
	fprintf(out, "# HELP %s ", name);
	escape(out, help, false);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

void prom_sample(FILE *out, const char *name, const char *const *keys,
		 const char *const *values, size_t n, uint64_t value)
{
	fputs(name, out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s%s=\"", i ? "," : "{", keys[i]);
		prom_label_value(out, values[i]);
		fputc('"', out);
	}
	fprintf(out, "%s %llu\n", n ? "}" : "", (unsigned long long)value);
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds,
			 size_t nb)
{
	*h = (struct prom_histogram){ .nb = nb < PROM_HIST_MAX_BUCKETS
						    ? nb
						    : PROM_HIST_MAX_BUCKETS };
	memcpy(h->bounds, bounds, h->nb * sizeof(*bounds));
}

void prom_histogram_observe(struct prom_histogram *h, double v)
{
	size_t i = 0;
	while (i < h->nb && v > h->bounds[i])
		i++;
	if (i < h->nb)
		h->counts[i]++;
	h->count++;
	h->sum += v;
}

void prom_histogram_write(FILE *out, const char *name, const char *help,
			  const struct prom_histogram *h)
{
	uint64_t cum = 0;
	prom_family(out, name, "histogram", help);
	for (size_t i = 0; i < h->nb; i++) {
		cum += h->counts[i];
		/* %g keeps 0.005 and 1 as Prometheus clients write them. */
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i],
			(unsigned long long)cum);
	}
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
		(unsigned long long)h->count);
	fprintf(out, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name,
		(unsigned long long)h->count);
}

void prom_series_init(struct prom_series *s, const char *const *keys,
		      size_t nlabels, size_t max_series)
{
	*s = (struct prom_series){
		.nlabels = nlabels < PROM_SERIES_MAX_LABELS
				   ? nlabels
				   : PROM_SERIES_MAX_LABELS,
		.keys = keys,
		.max_series = max_series,
	};
}

void prom_series_clear(struct prom_series *s)
{
	for (size_t i = 0; i < s->n * s->nlabels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->counts);
	free(s->idx);
	prom_series_init(s, s->keys, s->nlabels, s->max_series);
}

static uint64_t key_hash(const char *const *values, size_t n)
{
	uint64_t h = 0x70726f6d;
	for (size_t i = 0; i < n; i++) {
		const char *v = values[i] ? values[i] : "";
		h = hash_bytes(v, strlen(v), h) + i;
	}
	return h;
}

static bool key_eq(const struct prom_series *s, size_t e,
		   const char *const *values)
{
	for (size_t i = 0; i < s->nlabels; i++)
		if (strcmp(s->values[e * s->nlabels + i],
			   values[i] ? values[i] : ""))
			return false;
	return true;
}

static int index_rebuild(struct prom_series *s, size_t cap)
{
	uint32_t *t = malloc(cap * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t, 0xff, cap * sizeof(*t));
	for (size_t e = 0; e < s->n; e++) {
		const char *const *v = (const char *const *)&s->values[e * s->nlabels];
		size_t h = key_hash(v, s->nlabels) & (cap - 1);
		while (t[h] != EMPTY)
			h = (h + 1) & (cap - 1);
		t[h] = (uint32_t)e;
	}
	free(s->idx);
	s->idx = t;
	s->idx_cap = cap;
	return 0;
}

int prom_series_add(struct prom_series *s, const char *const *values,
		    uint64_t inc)
{
	uint64_t h = key_hash(values, s->nlabels);
	size_t slot = 0;
	if (s->idx_cap) {
		for (slot = h & (s->idx_cap - 1); s->idx[slot] != EMPTY;
		     slot = (slot + 1) & (s->idx_cap - 1))
			if (key_eq(s, s->idx[slot], values)) {
				s->counts[s->idx[slot]] += inc;
				return 0;
			}
	}
	if (s->n >= s->max_series) {
		s->dropped += inc;
		s->dropped_events++;
		return 1;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->values, cap * s->nlabels * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->values = v;
		uint64_t *c = realloc(s->counts, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		s->counts = c;
		s->cap = cap;
	}
	char **dst = &s->values[s->n * s->nlabels];
	for (size_t i = 0; i < s->nlabels; i++) {
		dst[i] = strdup(values[i] ? values[i] : "");
		if (!dst[i]) {
			while (i--)
				free(dst[i]);
			return -ENOMEM;
		}
	}
	s->counts[s->n] = inc;
	s->n++;
	if (2 * s->n > s->idx_cap) {
		if (index_rebuild(s, s->idx_cap ? s->idx_cap * 2 : 128) < 0) {
			s->n--;
			for (size_t i = 0; i < s->nlabels; i++)
				free(dst[i]);
			return -ENOMEM;
		}
	} else {
		slot = h & (s->idx_cap - 1);
		while (s->idx[slot] != EMPTY)
			slot = (slot + 1) & (s->idx_cap - 1);
		s->idx[slot] = (uint32_t)(s->n - 1);
	}
	return 0;
}

void prom_series_write(FILE *out, const char *name, const char *help,
		       const struct prom_series *s)
{
	prom_family(out, name, "counter", help);
	for (size_t e = 0; e < s->n; e++)
		prom_sample(out, name, s->keys,
			    (const char *const *)&s->values[e * s->nlabels],
			    s->nlabels, s->counts[e]);
}
