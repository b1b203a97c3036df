/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_PODREF_H
#define SHAWK_K8S_PODREF_H

#include <stddef.h>

/*
 * Splits a pod reference "[NS/]NAME" (Kubernetes names: no '/' in either
 * part, not empty) into buffers of nssz/namesz bytes; *ns is "" when
 * absent. Used by `look --pod` and the serve pages. Returns 0 or -EINVAL
 * (buffers then unspecified).
 */
int pod_ref_parse(const char *s, char *ns, size_t nssz, char *name,
		  size_t namesz);

#endif
