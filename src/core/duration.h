/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_DURATION_H
#define SHAWK_CORE_DURATION_H

#include <stdint.h>

/*
 * Parses a duration such as "500ms", "1s", "10m", "2h", "1d" or a sum
 * "1h30m" into milliseconds. A bare number without unit is refused, as are
 * negative values and overflow. Returns 0 and writes *ret_ms, or -EINVAL /
 * -ERANGE.
 */
int duration_parse_ms(const char *s, int64_t *ret_ms);

/* Formats ms as the shortest exact form ("1500ms", "2s", "10m"). */
void duration_format(int64_t ms, char *buf, unsigned long bufsz);

/*
 * Parses an RFC 3339 timestamp ("2026-11-22T10:00:00Z", "...+02:00",
 * fractional seconds allowed) into Unix milliseconds. Returns 0 or -EINVAL.
 */
int duration_rfc3339_parse_ms(const char *s, int64_t *ret_ms);

/*
 * A point in time given as "duration ago" or RFC 3339, relative to now_ms.
 * Returns 0 or -EINVAL.
 */
int duration_time_point_parse_ms(const char *s, int64_t now_ms,
				 int64_t *ret_ms);

#endif
