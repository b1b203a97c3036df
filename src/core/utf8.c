// SPDX-License-Identifier: MIT
#include "core/utf8.h"

size_t utf8_seq_len(const unsigned char *p)
{
	/* Byte ranges of RFC 3629's table, second byte first: they rule out
	 * overlong forms, UTF-16 surrogates and code points past U+10FFFF
	 * without decoding. A NUL fails the continuation test. */
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xe0 && p[1] < 0xa0) ||
		    (p[0] == 0xed && p[1] > 0x9f))
			return 0;
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if ((p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if ((p[0] == 0xf0 && p[1] < 0x90) ||
		    (p[0] == 0xf4 && p[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

bool utf8_sanitize(char *s)
{
	bool changed = false;
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		size_t n = utf8_seq_len(p);
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
		size_t n = utf8_seq_len(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}
