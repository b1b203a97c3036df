/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGE_PROCESS_H
#define SHAWK_AGENT_STAGE_PROCESS_H

#include "core/stage.h"
#include "probe/procmap.h"

/*
 * The process stage: pid -> pgid, comm, cmdline and the process's cgroup
 * path, from pm (borrowed: it must outlive the stage). node_name (may be
 * NULL, borrowed) becomes every known owner's node. An unknown pid ends
 * the stage chain (-ESRCH). NULL on OOM.
 */
struct stage *stage_process_new(struct procmap *pm, const char *node_name);

#endif
