// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for address literals: what parses formats back to text
 * that parses to the same address. Seeds: tests/fuzz/corpus/addr.
 */
#include "core/addr.h"
#include "fuzz.h"

#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	static const int fams[] = { AF_UNSPEC, AF_INET, AF_INET6 };
	for (size_t i = 0; i < 3; i++) {
		int fam, fam2;
		uint8_t a[16], b[16];
		if (addr_parse(s, fams[i], &fam, a) < 0)
			continue;
		FUZZ_ASSERT(fam == AF_INET || fam == AF_INET6);
		char txt[ADDR_STRLEN];
		addr_format(fam, a, txt);
		FUZZ_ASSERT(addr_parse(txt, AF_UNSPEC, &fam2, b) == 0);
		FUZZ_ASSERT(fam2 == fam);
		FUZZ_ASSERT(memcmp(a, b, fam == AF_INET ? 4 : 16) == 0);
		addr_is_loopback(fam, a);
		addr_is_any(fam, a);
		addr_normalize(fam, a);
	}
	if (size >= 32) {
		uint8_t l[16], r[16];
		memcpy(l, data, 16);
		memcpy(r, data + 16, 16);
		addr_normalize_pair(l, r);
	}
	free(s);
	return 0;
}
