/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CLI_PROBE_K8S_H
#define SHAWK_CLI_PROBE_K8S_H

#include "core/config.h"
#include "core/flow.h"
#include "k8s/podwatch.h"

#include <stdbool.h>

/*
 * Container and pod identity for the probe's enrich step: cgroup path (of
 * the process, else of the socket's cgroup id) -> container id and pod uid
 * -> kubelet pod. Logs what it enables and kubelet state changes.
 */
struct probe_k8s;

/* Never fails for lack of a kubelet or cgroup2; NULL only on OOM. With
 * once, the kubelet is asked synchronously and no thread is started. */
struct probe_k8s *probe_k8s_new(const struct probe_config *cfg, bool once);
void probe_k8s_free(struct probe_k8s *k);

/*
 * Fills o->container_*, o->pod_* (and o->cgroup when the process gave
 * none) for the socket rec. Strings stay valid until the next call.
 */
void probe_k8s_enrich(struct probe_k8s *k, const struct sock_record *rec,
		      struct flow_owner *o);

/* Logs a kubelet state change once (warning when it fails). */
void probe_k8s_report(struct probe_k8s *k);

/* The pod watch, NULL without a kubelet (for the CMDB pods table). */
struct pod_watch *probe_k8s_pods(struct probe_k8s *k);

#endif
