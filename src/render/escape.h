/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_ESCAPE_H
#define SHAWK_RENDER_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Strings from the kernel (comm, cmdline) and from Kubernetes are untrusted.
 * These helpers make them safe for one output channel each.
 */

/* Writes s to out with C0/C1 control characters and DEL replaced by '?'. */
void escape_terminal(FILE *out, const char *s);

/* Copies s into buf (bufsz > 0) with control characters replaced by '?'. */
void escape_terminal_buf(char *buf, size_t bufsz, const char *s);

/* Writes s as the inside of a Graphviz double-quoted string. */
void escape_dot(FILE *out, const char *s);

#endif
