// SPDX-License-Identifier: MIT
#include "core/utf8.h"

#include <stdint.h>

/* Length of the valid sequence at s, or 0 when the byte at s is invalid. */
static size_t seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool utf8_sanitize(char *s)
{
	bool changed = false;
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		size_t n = seq_len(p);
		if (!n) {
			*p++ = '?';
			changed = true;
			continue;
		}
		p += n;
	}
	return changed;
}

bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		size_t n = seq_len(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}
