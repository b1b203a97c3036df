// SPDX-License-Identifier: MIT
#include "render/table.h"

#include "core/util.h"
#include "render/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define COL_MAX 60

int render_table_text(FILE *out, const struct render_table *t, int64_t now_ms)
{
	size_t w[16] = { 0 };
	char age[32];
	if (!t->ncols || t->ncols > ARRAY_SIZE(w))
		return -EINVAL;
	size_t last = t->ncols - 1;
	for (size_t c = 0; c < t->ncols; c++)
		w[c] = strlen(t->names[c]);
	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < last; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);
			if (l > w[c])
				w[c] = l > COL_MAX ? COL_MAX : l;
		}
	for (size_t c = 0; c < t->ncols; c++) {
		for (const char *p = t->names[c]; *p; p++)
			fputc(*p == '_'		       ? ' '
			      : *p >= 'a' && *p <= 'z' ? *p - 'a' + 'A'
						       : *p,
			      out);
		if (c < last)
			fprintf(out, "%*s", (int)(w[c] - strlen(t->names[c]) + 2),
				"");
	}
	fputc('\n', out);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < last; c++) {
			char cell[COL_MAX * 4];
			escape_terminal_buf(cell, sizeof(cell),
					    t->cells[r * t->ncols + c]);
			fprintf(out, "%-*s  ", (int)w[c], *cell ? cell : "-");
		}
		render_age(age, sizeof(age), now_ms,
			   strtoll(t->cells[r * t->ncols + last], NULL, 10));
		fprintf(out, "%s\n", age);
	}
	return ferror(out) ? -EIO : 0;
}

static cJSON *table_json(const struct render_table *t)
{
	cJSON *arr = cJSON_CreateArray();
	size_t last = t->ncols ? t->ncols - 1 : 0;
	for (size_t r = 0; arr && r < t->nrows; r++) {
		cJSON *o = cJSON_CreateObject();
		char ts[32];
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			return NULL;
		}
		for (size_t c = 0; c < last; c++) {
			const char *v = t->cells[r * t->ncols + c];
			const char *n = t->names[c];
			if (!strcmp(n, "pods"))
				cJSON_AddNumberToObject(o, n, strtod(v, NULL));
			else if (!*v)
				cJSON_AddNullToObject(o, n);
			else
				cJSON_AddStringToObject(o, n, v);
		}
		render_time_ms(ts, sizeof(ts),
			       strtoll(t->cells[r * t->ncols + last], NULL, 10));
		cJSON_AddStringToObject(o, t->names[last], ts);
	}
	return arr;
}

int render_table_json(FILE *out, const struct render_table *t, size_t n,
		      bool as_object)
{
	cJSON *doc = as_object ? cJSON_CreateObject() : NULL;
	if (as_object && !doc)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cJSON *arr = table_json(&t[i]);
		if (!arr || (doc && !cJSON_AddItemToObject(doc, t[i].section,
							     arr))) {
			cJSON_Delete(arr);
			cJSON_Delete(doc);
			return -ENOMEM;
		}
		if (!doc) {
			doc = arr;
			break;
		}
	}
	if (!doc && !(doc = cJSON_CreateArray()))
		return -ENOMEM;
	return render_json_print(out, doc);
}
