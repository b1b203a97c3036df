// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for UTF-8 checking and repair: a sanitized string is
 * valid, no longer than before, and a valid one is left as it was. Seeds:
 * tests/fuzz/corpus/utf8.
 */
#include "core/utf8.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	size_t n = strlen(s);
	char *orig = malloc(n + 1);
	if (!orig) {
		free(s);
		return 0;
	}
	memcpy(orig, s, n + 1);
	bool valid = utf8_valid(s);
	utf8_sanitize(s);
	FUZZ_ASSERT(utf8_valid(s));
	FUZZ_ASSERT(strlen(s) <= n);
	if (valid)
		FUZZ_ASSERT(strcmp(s, orig) == 0);
	for (size_t i = 0; i < n;) {
		size_t l = utf8_seq_len((const unsigned char *)orig + i);
		i += l ? l : 1;
	}
	free(orig);
	free(s);
	return 0;
}
