// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the API server's ServiceList parser: `make fuzz`
 * builds build/fuzz/fuzz_services; run it on tests/fuzz/corpus/services
 * (tests/integration/fuzz_pods.sh does, briefly). Checks the bounds the
 * parser promises on whatever it accepts.
 */
#include "k8s/services.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct service_list *l = NULL;
	if (services_parse((const char *)data, size, 64, &l) < 0)
		return 0;
	if (l->n > 64)
		__builtin_trap();
	for (size_t i = 0; i < l->n; i++) {
		const struct service *s = &l->items[i];
		if (!s->uid || !s->name || !s->namespace ||
		    s->n_ips > SERVICE_MAX_IPS || s->n_ports > SERVICE_MAX_PORTS)
			__builtin_trap();
		for (size_t j = 0; j < s->n_ports; j++)
			if (!s->ports[j].port)
				__builtin_trap();
	}
	service_list_free(l);
	return 0;
}
