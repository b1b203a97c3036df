/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SINK_STDOUT_H
#define SHAWK_AGENT_SINK_STDOUT_H

#include "core/config.h"
#include "core/sink.h"

/* Prints each interval's flows to stdout as fmt (text, json, or nothing
 * for none), flushing stdout after each write. NULL on OOM. */
struct sink *sink_stdout_new(enum output_format fmt);

#endif
