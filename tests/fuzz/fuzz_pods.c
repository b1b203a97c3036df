// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the kubelet PodList parser and the cache built on
 * it: `make fuzz` builds build/fuzz/fuzz_pods; run it on
 * tests/fuzz/corpus/pods (tests/integration/fuzz_pods.sh does, briefly).
 */
#include "k8s/pods.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pod_list *l = NULL;
	if (pods_parse((const char *)data, size, 64, &l) < 0)
		return 0;
	struct pod_cache *c = pod_cache_new(l);
	if (!c)
		return 0;
	const struct pod_list *pl = pod_cache_list(c);
	for (size_t i = 0; i < pl->n; i++) {
		const struct pod *p = &pl->pods[i];
		if (pod_cache_by_uid(c, p->uid) == NULL)
			__builtin_trap();
		for (size_t j = 0; j < p->n_containers; j++)
			if (p->containers[j].id &&
			    !pod_cache_by_container(c, p->containers[j].id,
						    NULL))
				__builtin_trap();
	}
	pod_cache_free(c);
	return 0;
}
