/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_DURATION_H
#define SHAWK_CORE_DURATION_H

#include <limits.h>
#include <stdint.h>

/*
 * The longest duration an option may hold: the agent waits with poll(2),
 * whose timeout is an int of milliseconds (24d 20h 31m 23.647s). Longer
 * values would wrap negative and turn the wait into a busy loop.
 */
#define DURATION_MAX_MS ((int64_t)INT_MAX)

/*
 * Parses a duration such as "500ms", "1s", "10m", "2h", "1d" or a sum
 * "1h30m" into milliseconds. A bare number without unit is refused, as are
 * negative values and overflow. Returns 0 and writes *ret_ms, or -EINVAL /
 * -ERANGE.
 */
int duration_parse_ms(const char *s, int64_t *ret_ms);

/*
 * A wait of ms milliseconds as a poll(2) timeout: negative values give 0
 * (the deadline passed), values above INT_MAX give INT_MAX (the caller
 * re-checks its deadline when poll returns).
 */
static inline int duration_poll_timeout(int64_t ms)
{
	if (ms <= 0)
		return 0;
	return ms > DURATION_MAX_MS ? INT_MAX : (int)ms;
}

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
