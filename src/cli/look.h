/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CLI_LOOK_H
#define SHAWK_CLI_LOOK_H

#include <stddef.h>

/*
 * Splits "[NS/]NAME" (Kubernetes names: no '/' in either part, not
 * empty), the value of `look --pod`, into buffers of nssz/namesz bytes;
 * *ns is "" when absent. Returns 0 or -EINVAL.
 */
int look_pod_parse(const char *s, char *ns, size_t nssz, char *name,
		   size_t namesz);

#endif
