// SPDX-License-Identifier: MIT
#include "core/record.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

int net_addr_cmp(const void *a, const void *b)
{
	const struct net_addr *x = a, *y = b;
	if (x->family != y->family)
		return x->family < y->family ? -1 : 1;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

size_t net_addr_sort_unique(struct net_addr *v, size_t n)
{
	if (n < 2)
		return n;
	qsort(v, n, sizeof(*v), net_addr_cmp);
	size_t w = 1;
	for (size_t i = 1; i < n; i++)
		if (net_addr_cmp(&v[w - 1], &v[i]))
			v[w++] = v[i];
	return w;
}
