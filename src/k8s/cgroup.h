/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_CGROUP_H
#define SHAWK_K8S_CGROUP_H

#include <stddef.h>

/*
 * Pure parsers (no I/O): which container and pod a cgroup belongs to,
 * read from the names kubelet, container runtimes and systemd give to
 * cgroup directories.
 */

enum cgroup_runtime {
	CGROUP_RUNTIME_NONE = 0,   /* not in a container: a host process */
	CGROUP_RUNTIME_UNKNOWN,    /* cgroupfs driver: the path has no runtime */
	CGROUP_RUNTIME_CONTAINERD, /* cri-containerd-<id>.scope */
	CGROUP_RUNTIME_CRIO,	   /* crio-<id>.scope */
	CGROUP_RUNTIME_DOCKER,	   /* docker-<id>.scope, /docker/<id> */
	CGROUP_RUNTIME_PODMAN,	   /* libpod-<id>.scope */
};

enum cgroup_qos {
	CGROUP_QOS_NONE = 0, /* not a pod */
	CGROUP_QOS_GUARANTEED,
	CGROUP_QOS_BURSTABLE,
	CGROUP_QOS_BESTEFFORT,
};

/* Container ids are 64 hex digits; pod uids a UUID or, for static pods, a
 * 32-hex config hash. */
#define CGROUP_CONTAINER_ID_MAX 65
#define CGROUP_POD_UID_MAX 37

struct cgroup_identity {
	enum cgroup_runtime runtime;
	enum cgroup_qos qos;
	char container_id[CGROUP_CONTAINER_ID_MAX]; /* "" when none */
	char pod_uid[CGROUP_POD_UID_MAX];	    /* "" when not a pod */
};

/*
 * Parses one cgroup path ("/kubepods.slice/.../cri-containerd-<id>.scope").
 * Nested layouts (kind nodes: kubepods under /kubelet.slice or under a
 * docker container's scope) resolve to the innermost container.
 * Returns 1 when the path names a container or a pod, 0 for a host cgroup
 * (*ret then zeroed), -EINVAL when path is not absolute.
 */
int cgroup_parse_path(const char *path, size_t len,
		      struct cgroup_identity *ret);

/*
 * Parses /proc/<pid>/cgroup content: cgroup v2 ("0::/path") and v1
 * ("N:controllers:/path") lines. The v2 line wins when it names a
 * container or pod; otherwise the first v1 line that does (kubelet with
 * the cgroupfs driver on a hybrid host only creates v1 directories).
 * Returns 1, 0 (host) or -EINVAL when no line parses.
 */
int cgroup_parse_proc(const char *buf, size_t len,
		      struct cgroup_identity *ret);

const char *cgroup_runtime_name(enum cgroup_runtime r);
const char *cgroup_qos_name(enum cgroup_qos q);

#endif
