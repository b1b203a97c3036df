// SPDX-License-Identifier: MIT
#include "cmdb/sqlarray.h"

#include "core/utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sql_array_init(struct sql_array *a)
{
	memset(a, 0, sizeof(*a));
}

void sql_array_clear(struct sql_array *a)
{
	free(a->buf);
	sql_array_init(a);
}

static bool reserve(struct sql_array *a, size_t more)
{
	if (a->oom)
		return false;
	if (a->len + more + 2 <= a->cap) /* room for "}" and NUL */
		return true;
	size_t ncap = a->cap ? a->cap : 256;
	while (ncap < a->len + more + 2)
		ncap *= 2;
	char *nb = realloc(a->buf, ncap);
	if (!nb) {
		a->oom = true;
		return false;
	}
	if (!a->buf)
		nb[0] = '\0';
	a->buf = nb;
	a->cap = ncap;
	return true;
}

/* Opens the literal or adds the separator before the next element. */
static bool begin_elem(struct sql_array *a)
{
	if (!reserve(a, 1))
		return false;
	a->buf[a->len++] = a->n ? ',' : '{';
	a->n++;
	return true;
}

void sql_array_add_str(struct sql_array *a, const char *s)
{
	if (!begin_elem(a))
		return;
	if (!s) {
		if (reserve(a, 4)) {
			memcpy(a->buf + a->len, "NULL", 4);
			a->len += 4;
		}
		return;
	}
	/* Worst case: every byte escaped, plus the quotes. */
	size_t sl = strlen(s);
	if (!reserve(a, 2 * sl + 2))
		return;
	char *o = a->buf + a->len;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t l = utf8_seq_len(p);
		if (l == 0) {
			*o++ = '?';
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\')
			*o++ = '\\';
		memcpy(o, p, l);
		o += l;
		p += l;
	}
	*o++ = '"';
	a->len = (size_t)(o - a->buf);
}

void sql_array_add_int(struct sql_array *a, int64_t v)
{
	if (!begin_elem(a) || !reserve(a, 21))
		return;
	a->len += (size_t)snprintf(a->buf + a->len, a->cap - a->len,
				   "%" PRId64, v);
}

const char *sql_array_finish(struct sql_array *a)
{
	if (!reserve(a, 2))
		return NULL;
	if (a->n == 0)
		a->buf[a->len++] = '{';
	a->buf[a->len++] = '}';
	a->buf[a->len] = '\0';
	return a->buf;
}
