// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for durations ("1h30m") and RFC 3339 timestamps: what
 * parses is non-negative, formats back to the same value, and the poll
 * timeout clamp stays in range. Seeds: tests/fuzz/corpus/duration.
 */
#include "core/duration.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	int64_t ms, back;
	if (duration_parse_ms(s, &ms) == 0) {
		char buf[64];
		FUZZ_ASSERT(ms >= 0);
		duration_format(ms, buf, sizeof(buf));
		FUZZ_ASSERT(duration_parse_ms(buf, &back) == 0 && back == ms);
		int t = duration_poll_timeout(ms);
		FUZZ_ASSERT(t >= 0 && (int64_t)t <= ms);
	}
	if (duration_rfc3339_parse_ms(s, &ms) == 0)
		/* Years 0000-9999 only. */
		FUZZ_ASSERT(ms > -62200000000000LL && ms < 253500000000000LL);
	duration_time_point_parse_ms(s, 1796000000000LL, &ms);
	free(s);
	return 0;
}
