// SPDX-License-Identifier: MIT
#include "probe/bpflog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_statistic(const char *s, size_t n)
{
	static const char *const skip[] = {
		"processed ", "verification time", "stack depth",
		"-- END", "mark_precise", "max_states_per_insn",
		"Validating ", "Func#", "func#", "last_idx",
	};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		size_t k = strlen(skip[i]);
		if (n >= k && strncmp(s, skip[i], k) == 0)
			return true;
	}
	return false;
}

/* An instruction line of the log: "<number>: (<opcode>) ...". */
static bool is_insn(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i > 0 && i + 2 < n && s[i] == ':' && s[i + 1] == ' ' &&
	       s[i + 2] == '(';
}

/* Trims the line [*s, *s + *n) of blanks; returns its length. */
static size_t trim(const char **s, size_t n)
{
	while (n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		n--;
	}
	while (n && ((*s)[n - 1] == ' ' || (*s)[n - 1] == '\t' ||
		     (*s)[n - 1] == '\r'))
		n--;
	return n;
}

char *bpflog_reason(const char *log, char *out, size_t out_sz)
{
	const char *line[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	const char *p = log;

	if (!out_sz)
		return out;
	out[0] = '\0';
	/* Keep the last two meaningful lines, reading forward once. */
	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		n = trim(&s, n);
		if (n && !is_statistic(s, n)) {
			line[0] = line[1];
			len[0] = len[1];
			line[1] = s;
			len[1] = n;
		}
		p = e ? e + 1 : NULL;
	}
	if (!line[1])
		return out;
	if (line[0] && is_insn(line[0], len[0]) && !is_insn(line[1], len[1]))
		snprintf(out, out_sz, "%.*s (at %.*s)", (int)len[1], line[1],
			 (int)len[0], line[0]);
	else
		snprintf(out, out_sz, "%.*s", (int)len[1], line[1]);
	return out;
}

bool bpflog_list_has(const char *list, const char *name)
{
	size_t k = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		const char *s = p;
		n = trim(&s, n);
		if (n == k && k && memcmp(s, name, k) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}


