/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_UTF8_H
#define SHAWK_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Process names and command lines are arbitrary bytes (prctl(PR_SET_NAME)
 * takes anything), but JSON and PostgreSQL text need valid UTF-8. Replaces,
 * in place, every byte that does not start a valid, shortest-form UTF-8
 * sequence (no surrogates, at most U+10FFFF) with '?'. Returns true when
 * something was replaced.
 */
bool utf8_sanitize(char *s);

/*
 * Length (1 to 4) of the valid, shortest-form UTF-8 sequence at p, or 0
 * when the byte at p does not start one. p is NUL-terminated: a sequence
 * cut by the NUL is invalid.
 */
size_t utf8_seq_len(const unsigned char *p);

/* True when s is valid UTF-8. */
bool utf8_valid(const char *s);

#endif
