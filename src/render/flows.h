/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_FLOWS_H
#define SHAWK_RENDER_FLOWS_H

#include "core/flow.h"

#include <stdio.h>

/*
 * Prints flows as one JSON array on one line (shape: docs/json.md). The
 * ephemeral side's port is 0 with "ephemeral": true. Returns 0, -ENOMEM or
 * -EIO.
 */
int render_flows_json(FILE *out, const struct flow *flows, size_t n);

/* What a daemon's line carries around its flows. */
struct render_flows_meta {
	const char *node;	  /* NULL: no envelope, a bare array */
	int64_t window_start_ms;  /* the interval's flows were seen in */
	int64_t window_end_ms;
	/* The `ip netns` name of a netns inode, or NULL. May be NULL. */
	const char *(*netns_name)(uint64_t ino, void *ud);
	void *ud;
};

/*
 * As render_flows_json(), with each flow's netns name where meta knows it
 * ("netns_name") and, with meta->node, the line as an object
 * {"node", "window": {"start", "end"}, "flows": [...]}. meta may be NULL.
 */
int render_flows_json_meta(FILE *out, const struct flow *flows, size_t n,
			   const struct render_flows_meta *meta);

/* Prints flows one per line, human-readable. Returns 0 or -EIO. */
int render_flows_text(FILE *out, const struct flow *flows, size_t n);

#endif
