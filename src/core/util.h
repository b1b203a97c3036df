/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_UTIL_H
#define SHAWK_CORE_UTIL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Hand a pointer owned by a _cleanup_ variable to someone else. */
#define TAKE_PTR(p)                                                            \
	({                                                                     \
		__typeof__(p) _tp_ = (p);                                      \
		(p) = NULL;                                                    \
		_tp_;                                                          \
	})

#define TAKE_FD(fd)                                                            \
	({                                                                     \
		int _tf_ = (fd);                                               \
		(fd) = -1;                                                     \
		_tf_;                                                          \
	})

/*
 * Defines type_freep(T **p) for _cleanup_(): frees *p with free_fn (which
 * accepts NULL) and sets it to NULL.
 */
#define DEFINE_FREEP(type, free_fn)                                            \
	static inline void free_fn##p(type **p)                                \
	{                                                                      \
		free_fn(*p);                                                   \
		*p = NULL;                                                     \
	}

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* 64-bit finaliser from splitmix64: good avalanche for hash-table keys. */
static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * Hash of a byte range, a word at a time (flow keys are ~80 bytes and are
 * hashed once per socket per scan), mixed through hash_u64 for the low bits.
 */
static inline uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed ^ n;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		__builtin_memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 32;
	}
	if (i < n) {
		uint64_t w = 0;
		for (size_t j = 0; i + j < n; j++)
			w |= (uint64_t)b[i + j] << (8 * j);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	}
	return hash_u64(h);
}

/* Smallest power of two >= n (n > 0, n <= 2^63). */
static inline size_t pow2_ceil(size_t n)
{
	size_t p = 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* Copies at most dstsz-1 bytes and always NUL-terminates (dstsz > 0). */
static inline void strscpy(char *dst, const char *src, size_t dstsz)
{
	size_t i = 0;
	for (; i + 1 < dstsz && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

#endif
