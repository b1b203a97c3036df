/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_FUZZ_FUZZ_H
#define SHAWK_TESTS_FUZZ_FUZZ_H

/* Shared by the libFuzzer targets tests/fuzz/fuzz_*.c (`make fuzz`). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (malloc'd: ASan sees overreads);
 * an embedded NUL ends it early, as it would in C. NULL on OOM. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* An invariant broke: a crash libFuzzer reports with the input. */
#define FUZZ_ASSERT(x)                                                        \
	do {                                                                  \
		if (!(x))                                                     \
			__builtin_trap();                                     \
	} while (0)

#endif
