/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGE_CONNTRACK_H
#define SHAWK_AGENT_STAGE_CONNTRACK_H

#include "core/config.h"
#include "core/stage.h"
#include "probe/procmap.h"

#include <stddef.h>

/*
 * The conntrack stage (first in the list): scan() dumps the NAT entries of
 * every network namespace of pm's processes and of cfg->run_netns_dir;
 * translate() gives an active record that went through a DNAT its backend
 * as peer and the dialed address as Service, a passive record whose peer
 * was source-NATed the original client as NAT peer. pm is borrowed (it
 * must outlive the stage). max_entries bounds the NAT entries kept (0: a
 * default). NULL on OOM.
 */
struct stage *stage_conntrack_new(const struct probe_config *cfg,
				  struct procmap *pm, size_t max_entries);

#endif
