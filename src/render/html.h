/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_HTML_H
#define SHAWK_RENDER_HTML_H

#include <stdio.h>

/*
 * Escaping for the web pages of `shawk serve`. Strings from the kernel,
 * the kubelet and the CMDB are untrusted: a pod named <script> must stay
 * text, and a name must not end an attribute or a URL early.
 */

/* Writes s as HTML text or a double-quoted attribute value: & < > " '
 * as entities; control characters and invalid UTF-8 as '?'. */
void html_escape(FILE *out, const char *s);

/* Writes s as one URL path segment or query value: every byte but
 * A-Z a-z 0-9 - . _ ~ percent-encoded. */
void url_escape(FILE *out, const char *s);

#endif
