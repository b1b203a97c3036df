/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGE_CONNTRACK_H
#define SHAWK_AGENT_STAGE_CONNTRACK_H

#include "conntrack/ct.h"
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
 * default). lookup (NULL: none): a per-connection lookup the stage owns
 * from now on (its free() is called, even when this fails), used instead
 * of dumps by a one-shot polling scan when it opens (else one log line,
 * and dumps). NULL on OOM.
 */
struct stage *stage_conntrack_new(const struct probe_config *cfg,
				  struct procmap *pm, size_t max_entries,
				  const struct ct_lookup_ops *lookup);

#endif
