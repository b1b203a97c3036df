// SPDX-License-Identifier: MIT
#include "k8s/podref.h"

#include "core/util.h"

#include <errno.h>
#include <string.h>

int pod_ref_parse(const char *s, char *ns, size_t nssz, char *name,
		  size_t namesz)
{
	const char *slash = strchr(s, '/');
	const char *n = slash ? slash + 1 : s;
	size_t nsl = slash ? (size_t)(slash - s) : 0;
	if (!*n || strchr(n, '/') || (slash && nsl == 0) || nsl >= nssz ||
	    strlen(n) >= namesz)
		return -EINVAL;
	memcpy(ns, s, nsl);
	ns[nsl] = '\0';
	strscpy(name, n, namesz);
	return 0;
}
