// SPDX-License-Identifier: MIT
#include "core/mem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)
/* glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit */
#define MMAP_THRESHOLD_MAX (32 << 20)

void mem_prefer_huge_heap(size_t heap_bytes)
{
	if (heap_bytes > INT32_MAX / 2)
		heap_bytes = INT32_MAX / 2;
	/* Large blocks from the heap (glibc refuses a threshold above
	 * MMAP_THRESHOLD_MAX, 32 MiB on 64-bit: blocks above it are still
	 * mmap()ed), which grows by heap_bytes at a time and is not
	 * trimmed: freed blocks are reused, not faulted again. */
	if (!mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX))
		mallopt(M_MMAP_THRESHOLD, 4 << 20);
	mallopt(M_TOP_PAD, (int)heap_bytes);
	mallopt(M_TRIM_THRESHOLD, (int)heap_bytes * 2);

	/* Grow the heap now, then advise its new part. The block must lie
	 * in the heap (another allocator, e.g. a sanitizer's, puts it
	 * elsewhere: then nothing is advised). */
	char *before = sbrk(0);
	char *b = malloc(1 << 20);
	char *top = sbrk(0);
	/* The block starts in the old top of the heap, at most heap_bytes
	 * plus itself below the new break. */
	if (b && before != (char *)-1 && top != (char *)-1 && top > before &&
	    b < top && (size_t)(top - b) <= heap_bytes + (2u << 20)) {
		uintptr_t start = ((uintptr_t)before + HUGE_PAGE - 1) &
				  ~(uintptr_t)(HUGE_PAGE - 1);
		if ((uintptr_t)top > start)
			(void)madvise((void *)start, (uintptr_t)top - start,
				      MADV_HUGEPAGE);
	}
	free(b);
}
