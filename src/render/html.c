// SPDX-License-Identifier: MIT
#include "render/html.h"

#include "core/utf8.h"

#include <stdlib.h>
#include <string.h>

static void html_escape_valid(FILE *out, const unsigned char *p)
{
	for (; *p; p++) {
		switch (*p) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&#39;", out);
			break;
		default:
			/* C1 controls arrive UTF-8 encoded as 0xC2 0x80..0x9F. */
			if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
				fputc('?', out);
				p++;
			} else {
				fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
			}
		}
	}
}

void html_escape(FILE *out, const char *s)
{
	if (utf8_valid(s)) {
		html_escape_valid(out, (const unsigned char *)s);
		return;
	}
	char *copy = strdup(s);
	if (!copy) {
		fputs("?", out); /* never the raw bytes */
		return;
	}
	utf8_sanitize(copy);
	html_escape_valid(out, (const unsigned char *)copy);
	free(copy);
}

void url_escape(FILE *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~') {
			fputc(*p, out);
		} else {
			fputc('%', out);
			fputc(hex[*p >> 4], out);
			fputc(hex[*p & 15], out);
		}
	}
}
