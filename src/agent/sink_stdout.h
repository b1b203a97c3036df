/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SINK_STDOUT_H
#define SHAWK_AGENT_SINK_STDOUT_H

#include "core/config.h"
#include "core/sink.h"

/* Prints each interval's flows to stdout as cfg->output (text, json, or
 * nothing for none), flushing stdout after each write. JSON: a --once run
 * prints a bare array, a daemon one object per interval with the node
 * name and the window (render/flows.h). Each flow whose netns has a name
 * in cfg->run_netns_dir carries it. NULL on OOM. */
struct sink *sink_stdout_new(const struct probe_config *cfg);

#endif
