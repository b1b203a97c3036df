/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_MEM_H
#define SHAWK_CORE_MEM_H

#include <stddef.h>

/*
 * For a short-lived process that allocates tens of MiB at once and touches
 * them once (`probe --once`: the kernel's BTF read by libbpf, 100k socket
 * records, hash tables): page faults, one per 4 KiB page, then cost more
 * than the work on a virtual machine with expensive faults (measured in
 * bench/README.md). This serves large allocations from the heap instead of
 * one mmap each, grows the heap by heap_bytes at a time, never gives it
 * back, and asks for transparent huge pages on the first heap_bytes of it
 * (madvise MADV_HUGEPAGE: one fault per 2 MiB). Best effort: does nothing
 * harmful when an allocator other than glibc's (sanitizers) is in use or
 * when THP is off. Call it before the large allocations, once.
 */
void mem_prefer_huge_heap(size_t heap_bytes);

#endif
