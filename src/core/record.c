// SPDX-License-Identifier: MIT
#include "core/record.h"

#include <errno.h>
#include <stdlib.h>

int sock_records_append(struct sock_record **v, size_t *n, size_t *cap,
			size_t max, const struct sock_record *rec)
{
	if (*n == *cap) {
		if (*cap >= max)
			return -ENOSPC;
		size_t ncap = *cap ? *cap * 2 : 4096;
		if (ncap > max)
			ncap = max;
		struct sock_record *nv = realloc(*v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = *rec;
	return 0;
}
