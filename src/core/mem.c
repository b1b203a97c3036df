// SPDX-License-Identifier: MIT
#include "core/mem.h"

#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)

void mem_prefer_huge_heap(size_t heap_bytes)
{
	if (heap_bytes > INT32_MAX / 2)
		heap_bytes = INT32_MAX / 2;
	/* Large blocks from the heap, which grows by heap_bytes at a time
	 * and is not trimmed: freed blocks are reused, not faulted again. */
	mallopt(M_MMAP_THRESHOLD, (int)heap_bytes);
	mallopt(M_TOP_PAD, (int)heap_bytes);
	mallopt(M_TRIM_THRESHOLD, (int)heap_bytes * 2);

	/* Grow the heap now, then advise its new part. The block must lie
	 * in the heap (another allocator, e.g. a sanitizer's, puts it
	 * elsewhere: then nothing is advised). */
	char *before = sbrk(0);
	char *b = malloc(heap_bytes / 2);
	char *top = sbrk(0);
	if (b && before != (char *)-1 && top != (char *)-1 && b >= before &&
	    b < top) {
		uintptr_t start = ((uintptr_t)before + HUGE_PAGE - 1) &
				  ~(uintptr_t)(HUGE_PAGE - 1);
		if ((uintptr_t)top > start)
			(void)madvise((void *)start, (uintptr_t)top - start,
				      MADV_HUGEPAGE);
	}
	free(b);
}
