// SPDX-License-Identifier: MIT
#include "core/stats.h"

#include <string.h>

void stats_emit(const struct stat_desc *d, size_t n, const void *stats,
		stat_fn fn, void *userdata)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		/* memcpy: the struct's alignment is the caller's business. */
		memcpy(&v, (const char *)stats + d[i].off, sizeof(v));
		fn(d[i].name, d[i].kind, v, d[i].help, userdata);
	}
}
