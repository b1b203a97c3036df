/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_FLOWS_H
#define SHAWK_RENDER_FLOWS_H

#include "core/flow.h"

#include <stdio.h>

/*
 * Prints flows as one JSON array on one line (DESIGN.md §4).
 * Returns 0, -ENOMEM or -EIO.
 */
int render_flows_json(FILE *out, const struct flow *flows, size_t n);

/* Prints flows one per line, human-readable. Returns 0 or -EIO. */
int render_flows_text(FILE *out, const struct flow *flows, size_t n);

#endif
