/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_ADDR_H
#define SHAWK_CORE_ADDR_H

#include <stdbool.h>
#include <stdint.h>

/* Longest text form: IPv6 with embedded IPv4, plus NUL. */
#define ADDR_STRLEN 46

/*
 * If family is AF_INET6 and addr is ::ffff:a.b.c.d, rewrites it to AF_INET
 * with the IPv4 address in the first 4 bytes. Returns the resulting family.
 */
int addr_normalize(int family, uint8_t addr[16]);

/*
 * Normalises the two ends of an AF_INET6 socket: both v4-mapped (or one
 * mapped and the other "::", which then reads as 0.0.0.0) become AF_INET
 * with the IPv4 addresses in the first 4 bytes. Returns the family of the
 * pair; leaves l and r unchanged when it stays AF_INET6.
 */
int addr_normalize_pair(uint8_t l[16], uint8_t r[16]);

/* True for 127.0.0.0/8, ::1 (after normalisation). */
bool addr_is_loopback(int family, const uint8_t addr[16]);

/* True for 0.0.0.0 and ::. */
bool addr_is_any(int family, const uint8_t addr[16]);

/* inet_ntop wrapper; always writes a string (ADDR_STRLEN bytes). */
void addr_format(int family, const uint8_t addr[16], char out[ADDR_STRLEN]);

/*
 * Parses an IPv4 or IPv6 literal. want_family is AF_INET, AF_INET6 or
 * AF_UNSPEC (either). Returns 0 and writes family/addr, or -EINVAL.
 */
int addr_parse(const char *s, int want_family, int *ret_family,
	       uint8_t ret_addr[16]);

#endif
