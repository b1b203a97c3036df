// SPDX-License-Identifier: MIT
#include "render/escape.h"

static int is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

void escape_terminal(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* C1 controls arrive UTF-8 encoded as 0xC2 0x80..0x9F. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', out);
			p++;
			continue;
		}
		fputc(is_ctrl(*p) ? '?' : *p, out);
	}
}

void escape_terminal_buf(char *buf, size_t bufsz, const char *s)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s;
	     *p && o + 1 < bufsz; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			buf[o++] = '?';
			p++;
			continue;
		}
		buf[o++] = is_ctrl(*p) ? '?' : (char)*p;
	}
	buf[o] = '\0';
}

void escape_dot(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else if (is_ctrl(*p))
			fputc('?', out);
		else
			fputc(*p, out);
	}
}
