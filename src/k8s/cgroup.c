// SPDX-License-Identifier: MIT
/*
 * Container and pod identity from cgroup names. The layouts:
 *
 *   systemd driver (containerd, CRI-O):
 *     /kubepods.slice/kubepods-burstable.slice/
 *       kubepods-burstable-pod<uid with '_' for '-'>.slice/
 *       cri-containerd-<id>.scope | crio-<id>.scope
 *     Guaranteed pods sit directly under kubepods.slice
 *     (kubepods-pod<uid>.slice). systemd escapes '-' in unit names, so the
 *     uid's dashes become underscores.
 *   cgroupfs driver:
 *     /kubepods/{burstable,besteffort}/pod<uid>/<id>, /kubepods/pod<uid>/<id>
 *   docker outside Kubernetes: /docker/<id>, /system.slice/docker-<id>.scope
 *   kind: any of the above below /kubelet.slice (kubelet-kubepods-...) or
 *     below the node container's own cgroup.
 */
#include "k8s/cgroup.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

struct span {
	const char *p;
	size_t n;
};

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_prefix(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool span_has_suffix(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

static bool span_contains(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	for (size_t i = 0; i + n <= s.n; i++)
		if (memcmp(s.p + i, lit, n) == 0)
			return true;
	return false;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_container_id(const char *p, size_t n)
{
	if (n != CGROUP_CONTAINER_ID_MAX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(p[i]))
			return false;
	return true;
}

/* A UUID (dashes, or underscores in systemd unit names) or a static pod's
 * 32-hex hash. Writes the uid with dashes. */
static bool parse_pod_uid(const char *p, size_t n, char sep,
			  char out[CGROUP_POD_UID_MAX])
{
	if (n < 32 || n > CGROUP_POD_UID_MAX - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_lower_hex(p[i]))
			out[i] = p[i];
		else if (p[i] == sep)
			out[i] = '-';
		else
			return false;
	}
	out[n] = '\0';
	return true;
}

/* "<prefix><64 hex><suffix>" */
static bool match_wrapped_id(struct span s, const char *prefix,
			     const char *suffix, const char **ret_id)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	if (!span_has_prefix(s, prefix) || !span_has_suffix(s, suffix) ||
	    s.n < a + b || !is_container_id(s.p + a, s.n - a - b))
		return false;
	*ret_id = s.p + a;
	return true;
}

static bool match_container(struct span s, struct span parent, bool in_pod,
			    enum cgroup_runtime *ret_rt, const char **ret_id)
{
	static const struct {
		const char *prefix;
		enum cgroup_runtime rt;
	} scopes[] = {
		{ "cri-containerd-", CGROUP_RUNTIME_CONTAINERD },
		{ "crio-", CGROUP_RUNTIME_CRIO },
		{ "docker-", CGROUP_RUNTIME_DOCKER },
		{ "libpod-", CGROUP_RUNTIME_PODMAN },
	};
	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++)
		if (match_wrapped_id(s, scopes[i].prefix, ".scope", ret_id)) {
			*ret_rt = scopes[i].rt;
			return true;
		}
	if (is_container_id(s.p, s.n)) {
		*ret_id = s.p;
		/* cgroupfs driver: the runtime is only known to the kubelet. */
		*ret_rt = !in_pod && span_eq(parent, "docker") ?
				  CGROUP_RUNTIME_DOCKER :
				  CGROUP_RUNTIME_UNKNOWN;
		return true;
	}
	return false;
}

static enum cgroup_qos qos_from(struct span s)
{
	if (span_contains(s, "besteffort"))
		return CGROUP_QOS_BESTEFFORT;
	if (span_contains(s, "burstable"))
		return CGROUP_QOS_BURSTABLE;
	return CGROUP_QOS_GUARANTEED;
}

static bool match_pod(struct span s, struct span parent, bool under_kubepods,
		      struct cgroup_identity *id)
{
	/* systemd: [kubelet-]kubepods[-<qos>]-pod<uid>.slice */
	if (span_has_suffix(s, ".slice")) {
		struct span stem = { s.p, s.n - strlen(".slice") };
		for (size_t i = stem.n; i-- > 0;) {
			if (i + 4 > stem.n || memcmp(stem.p + i, "-pod", 4) != 0)
				continue;
			struct span head = { stem.p, i };
			if (!span_contains(head, "kubepods"))
				return false;
			if (!parse_pod_uid(stem.p + i + 4, stem.n - i - 4, '_',
					   id->pod_uid))
				return false;
			id->qos = qos_from(head);
			return true;
		}
		return false;
	}
	/* cgroupfs: .../kubepods[/<qos>]/pod<uid> */
	if (under_kubepods && span_has_prefix(s, "pod") &&
	    parse_pod_uid(s.p + 3, s.n - 3, '-', id->pod_uid)) {
		if (span_eq(parent, "besteffort"))
			id->qos = CGROUP_QOS_BESTEFFORT;
		else if (span_eq(parent, "burstable"))
			id->qos = CGROUP_QOS_BURSTABLE;
		else
			id->qos = CGROUP_QOS_GUARANTEED;
		return true;
	}
	return false;
}

int cgroup_parse_path(const char *path, size_t len,
		      struct cgroup_identity *ret)
{
	struct cgroup_identity id;
	struct span parent = { "", 0 };
	bool under_kubepods = false;

	if (len == 0 || path[0] != '/')
		return -EINVAL;
	memset(&id, 0, sizeof(id));
	for (size_t i = 0; i < len;) {
		while (i < len && path[i] == '/')
			i++;
		size_t j = i;
		while (j < len && path[j] != '/' && path[j] != '\0')
			j++;
		struct span s = { path + i, j - i };
		if (s.n == 0)
			break;

		enum cgroup_runtime rt;
		const char *cid;
		struct cgroup_identity pod = id;
		if (match_pod(s, parent, under_kubepods, &pod)) {
			/* A pod below a container (kind node): the pod's own
			 * containers come next. */
			id = pod;
			id.runtime = CGROUP_RUNTIME_NONE;
			id.container_id[0] = '\0';
		} else if (match_container(s, parent, id.pod_uid[0] != '\0',
					   &rt, &cid)) {
			id.runtime = rt;
			memcpy(id.container_id, cid,
			       CGROUP_CONTAINER_ID_MAX - 1);
			id.container_id[CGROUP_CONTAINER_ID_MAX - 1] = '\0';
		} else if (span_eq(s, "kubepods") ||
			   span_has_suffix(s, "kubepods")) {
			under_kubepods = true;
		}
		parent = s;
		i = j;
		if (j < len && path[j] == '\0')
			break;
	}
	if (id.runtime == CGROUP_RUNTIME_NONE && !id.pod_uid[0]) {
		memset(ret, 0, sizeof(*ret));
		return 0;
	}
	/* A pod's process outside any container cgroup (rare) keeps the
	 * pod; a cgroupfs container id keeps UNKNOWN as its runtime. */
	*ret = id;
	return 1;
}

int cgroup_parse_proc(const char *buf, size_t len,
		      struct cgroup_identity *ret)
{
	struct cgroup_identity v1_found;
	bool any = false, have_v1 = false;

	for (size_t i = 0; i < len;) {
		size_t eol = i;
		while (eol < len && buf[eol] != '\n' && buf[eol] != '\0')
			eol++;
		const char *line = buf + i;
		size_t n = eol - i;
		/* A NUL ends the content (a buffer read into a larger one). */
		i = eol < len && buf[eol] == '\0' ? len : eol + 1;

		/* hierarchy-id ":" controllers ":" path; the path may hold
		 * ':' itself, so split on the first two only. */
		const char *c1 = memchr(line, ':', n);
		if (!c1 || c1 == line)
			continue;
		const char *c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line));
		if (!c2)
			continue;
		const char *path = c2 + 1;
		size_t plen = n - (size_t)(path - line);
		bool is_v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;

		struct cgroup_identity id;
		int r = cgroup_parse_path(path, plen, &id);
		if (r < 0)
			continue;
		any = true;
		if (is_v2) {
			if (r > 0) {
				*ret = id;
				return 1;
			}
		} else if (r > 0 && !have_v1) {
			v1_found = id;
			have_v1 = true;
		}
	}
	if (have_v1) {
		*ret = v1_found;
		return 1;
	}
	if (!any)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	return 0;
}

const char *cgroup_runtime_name(enum cgroup_runtime r)
{
	switch (r) {
	case CGROUP_RUNTIME_NONE:
		return "host";
	case CGROUP_RUNTIME_UNKNOWN:
		return "unknown";
	case CGROUP_RUNTIME_CONTAINERD:
		return "containerd";
	case CGROUP_RUNTIME_CRIO:
		return "cri-o";
	case CGROUP_RUNTIME_DOCKER:
		return "docker";
	case CGROUP_RUNTIME_PODMAN:
		return "podman";
	}
	return "?";
}

const char *cgroup_qos_name(enum cgroup_qos q)
{
	switch (q) {
	case CGROUP_QOS_NONE:
		return "none";
	case CGROUP_QOS_GUARANTEED:
		return "Guaranteed";
	case CGROUP_QOS_BURSTABLE:
		return "Burstable";
	case CGROUP_QOS_BESTEFFORT:
		return "BestEffort";
	}
	return "?";
}
