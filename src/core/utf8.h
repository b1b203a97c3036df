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

/* True when s is valid UTF-8. */
bool utf8_valid(const char *s);

#endif
