/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_CLOCK_H
#define SHAWK_CORE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall clock, for timestamps that leave the process. */
static inline int64_t now_realtime_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

/* Monotonic clock, for intervals and deadlines. */
static inline int64_t now_monotonic_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

#endif
