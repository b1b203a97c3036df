/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_SINK_ASYNC_H
#define SHAWK_AGENT_SINK_ASYNC_H

#include "core/sink.h"

#include <stddef.h>

/*
 * Runs a sink that talks to the outside (the CMDB) on its own thread, so
 * the agent's loop keeps its scan interval whatever that sink does: write()
 * copies the flows into a queue (merged by key, at most max_queued, the
 * oldest dropped and counted beyond) and returns at once; the thread hands
 * the queue to inner->write(). drain(deadline) has the thread write what is
 * queued and drain inner, and returns by the deadline: past it, it calls
 * inner->cancel() (which must make the inner sink's calls return soon) and
 * waits for the thread to let go. stats() reports inner's counters as of
 * the thread's last call, plus the queue's.
 *
 * Takes inner (freed with the returned sink, also when this fails: NULL on
 * OOM).
 */
struct sink *sink_async_new(struct sink *inner, size_t max_queued);

#endif
