/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_AGENT_STAGE_K8S_H
#define SHAWK_AGENT_STAGE_K8S_H

#include "core/config.h"
#include "core/stage.h"
#include "k8s/podwatch.h"

#include <stdbool.h>

/*
 * The cgroup -> pod stage: container and pod identity from the cgroup path
 * (of the process, else of the socket's cgroup id) -> container id and pod
 * uid -> kubelet pod. Fills o->container_*, o->pod_* (and o->cgroup when
 * the process gave none); never fails a record. Runs after the process
 * stage. Logs what it enables and kubelet state changes (report()).
 *
 * Never fails for lack of a kubelet or cgroup2; NULL only on OOM. With
 * once, the kubelet is asked synchronously and no thread is started.
 * cfg must outlive the stage.
 */
struct stage *stage_k8s_new(const struct probe_config *cfg, bool once);

/*
 * Start-up checks of the kubelet options, before anything runs: the URL is
 * https:// (or http:// without a token file, or with kubelet_allow_http),
 * and a CA file named on purpose exists. The service account's default CA
 * being absent (not in a pod) sets cfg->kubelet_ca_file to NULL (system
 * store). Returns 0, or -EINVAL with one line in err (CONFIG_ERR_MAX).
 */
int stage_k8s_check(struct probe_config *cfg, char *err);

/* The pod watch of st (from stage_k8s_new()), NULL without a kubelet (for
 * the CMDB pods table); owned by st. */
struct pod_watch *stage_k8s_pods(struct stage *st);

#endif
