/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_PODS_H
#define SHAWK_K8S_PODS_H

#include "core/util.h"

#include "k8s/cgroup.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The kubelet's PodList (GET /pods) reduced to what flows are labelled
 * with, and a cache of it keyed by container id and by pod uid. Parsing is
 * pure: a buffer in, a pod list out.
 */

#define POD_MAX_CONTAINERS 64 /* per pod, containers + init + ephemeral */
#define POD_MAX_LABELS 64
#define POD_MAX_IPS 4
#define PODS_DEFAULT_MAX 4096

struct pod_container {
	char *name;
	char *id; /* 64 hex, the runtime prefix stripped; NULL if not started */
	enum cgroup_runtime runtime; /* from the containerID prefix */
};

struct pod_label {
	char *key;
	char *value;
};

struct pod {
	char *namespace;
	char *name;
	char *uid;
	char *node;	       /* spec.nodeName, NULL if absent */
	char *workload_kind;   /* Deployment, StatefulSet, ...; NULL if none */
	char *workload_name;
	char *qos_class;       /* status.qosClass */
	char *phase;	       /* status.phase */
	char *start_time;      /* status.startTime (RFC 3339), NULL if absent */
	char *host_ip;
	char *ips[POD_MAX_IPS]; /* status.podIPs (or podIP) */
	size_t n_ips;
	bool host_network;
	struct pod_label *labels;
	size_t n_labels;
	struct pod_container *containers;
	size_t n_containers;
};

struct pod_list {
	struct pod *pods;
	size_t n;
	size_t n_invalid; /* items skipped by pod_validate() */
};

/*
 * Checks a pod against what Kubernetes itself allows, so that one bad
 * record from a kubelet (or a stand-in) never fails the write of the
 * others: namespace a DNS-1123 label (63), name a DNS-1123 subdomain
 * (253), uid at most 128 printable characters, label keys [prefix/]name
 * (253/63) and values (63) of the label charset, container names DNS-1123
 * labels, every address an IPv4 or IPv6 literal, every string valid UTF-8
 * of bounded length. Returns 0, or -EINVAL with *ret_why (static text)
 * naming the field.
 */
int pod_validate(const struct pod *p, const char **ret_why);

/*
 * Parses a PodList (JSON, len bytes, need not be NUL-terminated). At most
 * max_pods pods are kept (0: PODS_DEFAULT_MAX); items without
 * metadata.uid/name/namespace, and those pod_validate() refuses (counted
 * in n_invalid), are skipped. Returns 0 with *ret (free with
 * pod_list_free), -EINVAL when buf is not a PodList, -ENOMEM.
 */
int pods_parse(const char *buf, size_t len, size_t max_pods,
	       struct pod_list **ret);
void pod_list_free(struct pod_list *l);
DEFINE_FREEP(struct pod_list, pod_list_free)

/*
 * Workload of a pod from its controller owner reference: a ReplicaSet whose
 * name is "<deployment>-<pod-template-hash>" belongs to that Deployment;
 * StatefulSet, DaemonSet, Job and others are their own workload. Pure.
 * Writes pointers into kind/name (or into the provided buffer for a derived
 * Deployment name). Returns 0, or -ENOENT when there is no owner.
 */
int pod_workload_derive(const char *owner_kind, const char *owner_name,
			const char *template_hash, const char **ret_kind,
			char *name_buf, size_t name_sz);

/* Splits "containerd://<id>" etc. Returns the runtime and points *ret_id
 * at the id, or CGROUP_RUNTIME_NONE when there is no known prefix. */
enum cgroup_runtime pod_container_id_split(const char *s,
					   const char **ret_id);

struct pod_cache;

/* Takes ownership of list (also on failure). NULL on OOM. */
struct pod_cache *pod_cache_new(struct pod_list *list);
void pod_cache_free(struct pod_cache *c);
DEFINE_FREEP(struct pod_cache, pod_cache_free)
size_t pod_cache_count(const struct pod_cache *c);
const struct pod_list *pod_cache_list(const struct pod_cache *c);

/* Borrowed pointers, valid while c lives; NULL when unknown. */
const struct pod *pod_cache_by_container(const struct pod_cache *c,
					 const char *container_id,
					 const struct pod_container **ret_ctr);
const struct pod *pod_cache_by_uid(const struct pod_cache *c,
				   const char *uid);

#endif
