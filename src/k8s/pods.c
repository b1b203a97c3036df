// SPDX-License-Identifier: MIT
#include "k8s/pods.h"

#include "core/addr.h"
#include "core/u64map.h"
#include "core/utf8.h"
#include "core/util.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

/* ---- parsing ----------------------------------------------------------- */

static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static const cJSON *get_obj(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsObject(v) ? v : NULL;
}

static const cJSON *get_arr(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsArray(v) ? v : NULL;
}

/* strdup of an optional string; false only on OOM. */
static bool dup_opt(char **dst, const char *s)
{
	if (!s) {
		*dst = NULL;
		return true;
	}
	*dst = strdup(s);
	return *dst != NULL;
}

static void pod_clear(struct pod *p)
{
	free(p->namespace);
	free(p->name);
	free(p->uid);
	free(p->node);
	free(p->workload_kind);
	free(p->workload_name);
	free(p->qos_class);
	free(p->phase);
	free(p->start_time);
	free(p->host_ip);
	for (size_t i = 0; i < p->n_ips; i++)
		free(p->ips[i]);
	for (size_t i = 0; i < p->n_labels; i++) {
		free(p->labels[i].key);
		free(p->labels[i].value);
	}
	free(p->labels);
	for (size_t i = 0; i < p->n_containers; i++) {
		free(p->containers[i].name);
		free(p->containers[i].id);
	}
	free(p->containers);
	memset(p, 0, sizeof(*p));
}

void pod_list_free(struct pod_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		pod_clear(&l->pods[i]);
	free(l->pods);
	free(l);
}

enum cgroup_runtime pod_container_id_split(const char *s, const char **ret_id)
{
	static const struct {
		const char *prefix;
		enum cgroup_runtime rt;
	} map[] = {
		{ "containerd://", CGROUP_RUNTIME_CONTAINERD },
		{ "cri-o://", CGROUP_RUNTIME_CRIO },
		{ "docker://", CGROUP_RUNTIME_DOCKER },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		size_t n = strlen(map[i].prefix);
		if (strncmp(s, map[i].prefix, n) == 0 && s[n]) {
			*ret_id = s + n;
			return map[i].rt;
		}
	}
	return CGROUP_RUNTIME_NONE;
}

int pod_workload_derive(const char *owner_kind, const char *owner_name,
			const char *template_hash, const char **ret_kind,
			char *name_buf, size_t name_sz)
{
	if (!owner_kind || !owner_name || !*owner_kind || !*owner_name)
		return -ENOENT;
	size_t n = strlen(owner_name);
	if (strcmp(owner_kind, "ReplicaSet") == 0 && template_hash &&
	    *template_hash) {
		size_t h = strlen(template_hash);
		if (n > h + 1 && owner_name[n - h - 1] == '-' &&
		    strcmp(owner_name + n - h, template_hash) == 0 &&
		    n - h - 1 < name_sz) {
			memcpy(name_buf, owner_name, n - h - 1);
			name_buf[n - h - 1] = '\0';
			*ret_kind = "Deployment";
			return 0;
		}
	}
	if (n >= name_sz)
		return -ENOENT;
	memcpy(name_buf, owner_name, n + 1);
	*ret_kind = owner_kind;
	return 0;
}

static int parse_labels(struct pod *p, const cJSON *labels)
{
	size_t n = 0;
	const cJSON *l;
	cJSON_ArrayForEach(l, labels) n++;
	if (n > POD_MAX_LABELS)
		n = POD_MAX_LABELS;
	if (!n)
		return 0;
	p->labels = calloc(n, sizeof(*p->labels));
	if (!p->labels)
		return -ENOMEM;
	cJSON_ArrayForEach(l, labels)
	{
		if (p->n_labels == n)
			break;
		if (!cJSON_IsString(l) || !l->string || !l->valuestring)
			continue;
		struct pod_label *pl = &p->labels[p->n_labels];
		if (!dup_opt(&pl->key, l->string) ||
		    !dup_opt(&pl->value, l->valuestring)) {
			free(pl->key);
			pl->key = NULL;
			return -ENOMEM;
		}
		p->n_labels++;
	}
	return 0;
}

static int parse_owner(struct pod *p, const cJSON *meta, const cJSON *labels)
{
	const cJSON *refs = get_arr(meta, "ownerReferences");
	const cJSON *ref, *pick = NULL;
	cJSON_ArrayForEach(ref, refs)
	{
		if (!cJSON_IsObject(ref))
			continue;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			    ref, "controller"))) {
			pick = ref;
			break;
		}
		if (!pick)
			pick = ref;
	}
	if (!pick)
		return 0;
	const char *kind;
	char name[256];
	if (pod_workload_derive(get_str(pick, "kind"), get_str(pick, "name"),
				labels ? get_str(labels, "pod-template-hash") :
					 NULL,
				&kind, name, sizeof(name)) < 0)
		return 0;
	if (!dup_opt(&p->workload_kind, kind) ||
	    !dup_opt(&p->workload_name, name))
		return -ENOMEM;
	return 0;
}

static int parse_statuses(struct pod *p, const cJSON *arr, size_t cap)
{
	const cJSON *cs;
	cJSON_ArrayForEach(cs, arr)
	{
		if (p->n_containers == cap)
			break;
		const char *name = get_str(cs, "name");
		if (!cJSON_IsObject(cs) || !name)
			continue;
		struct pod_container *c = &p->containers[p->n_containers];
		const char *cid = get_str(cs, "containerID"), *id = NULL;
		c->runtime = CGROUP_RUNTIME_NONE;
		if (cid && *cid) {
			c->runtime = pod_container_id_split(cid, &id);
			if (c->runtime == CGROUP_RUNTIME_NONE) {
				/* Unknown runtime "x://id": keep the id. */
				const char *sep = strstr(cid, "://");
				id = sep && sep[3] ? sep + 3 : cid;
				c->runtime = CGROUP_RUNTIME_UNKNOWN;
			}
		}
		if (!dup_opt(&c->name, name) || !dup_opt(&c->id, id)) {
			free(c->name);
			c->name = NULL;
			return -ENOMEM;
		}
		p->n_containers++;
	}
	return 0;
}

static int add_ip(struct pod *p, const char *ip)
{
	if (!ip || !*ip || p->n_ips == POD_MAX_IPS)
		return 0;
	for (size_t i = 0; i < p->n_ips; i++)
		if (strcmp(p->ips[i], ip) == 0)
			return 0;
	if (!(p->ips[p->n_ips] = strdup(ip)))
		return -ENOMEM;
	p->n_ips++;
	return 0;
}

/* Returns 1 when the item was kept, 0 when skipped, -ENOMEM. */
static int parse_pod(struct pod *p, const cJSON *item)
{
	const cJSON *meta = get_obj(item, "metadata");
	const cJSON *spec = get_obj(item, "spec");
	const cJSON *status = get_obj(item, "status");
	const char *ns = get_str(meta, "namespace");
	const char *name = get_str(meta, "name");
	const char *uid = get_str(meta, "uid");
	if (!meta || !ns || !name || !uid || !*name || !*uid)
		return 0;

	memset(p, 0, sizeof(*p));
	if (!dup_opt(&p->namespace, ns) || !dup_opt(&p->name, name) ||
	    !dup_opt(&p->uid, uid) ||
	    !dup_opt(&p->node, get_str(spec, "nodeName")) ||
	    !dup_opt(&p->qos_class, get_str(status, "qosClass")) ||
	    !dup_opt(&p->phase, get_str(status, "phase")) ||
	    !dup_opt(&p->start_time, get_str(status, "startTime")) ||
	    !dup_opt(&p->host_ip, get_str(status, "hostIP")))
		goto oom;
	p->host_network =
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spec, "hostNetwork"));

	const cJSON *labels = get_obj(meta, "labels");
	if (parse_labels(p, labels) < 0 || parse_owner(p, meta, labels) < 0)
		goto oom;

	const cJSON *ip;
	cJSON_ArrayForEach(ip, get_arr(status, "podIPs"))
	{
		if (add_ip(p, get_str(ip, "ip")) < 0)
			goto oom;
	}
	if (add_ip(p, get_str(status, "podIP")) < 0)
		goto oom;

	static const char *const kinds[] = { "containerStatuses",
					     "initContainerStatuses",
					     "ephemeralContainerStatuses" };
	size_t total = 0;
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		total += (size_t)cJSON_GetArraySize(get_arr(status, kinds[k]));
	if (total > POD_MAX_CONTAINERS)
		total = POD_MAX_CONTAINERS;
	if (total) {
		p->containers = calloc(total, sizeof(*p->containers));
		if (!p->containers)
			goto oom;
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			if (parse_statuses(p, get_arr(status, kinds[k]),
					   total) < 0)
				goto oom;
	}
	return 1;
oom:
	pod_clear(p);
	return -ENOMEM;
}

/* ---- validation (Kubernetes' own limits) -------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max (63). */
static bool dns_label(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max || !is_lower_alnum(s[0]) ||
	    !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 subdomain: labels joined by dots, at most 253 in all. */
static bool dns_subdomain(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != '.')
			j++;
		if (!dns_label(s + i, j - i, 63))
			return false;
		i = j + 1;
		if (j + 1 == n)
			return false; /* trailing dot */
	}
	return true;
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at
 * most 63 (a value may also be empty). */
static bool label_token(const char *s, size_t n, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > 63 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static bool label_key(const char *k)
{
	const char *slash = strchr(k, '/');
	if (!slash)
		return label_token(k, strlen(k), false);
	return dns_subdomain(k, (size_t)(slash - k)) &&
	       label_token(slash + 1, strlen(slash + 1), false);
}

/* Optional free text: valid UTF-8 of at most max bytes. */
static bool text_ok(const char *s, size_t max)
{
	return !s || (strlen(s) <= max && utf8_valid(s));
}

static bool uid_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static bool ip_ok(const char *s)
{
	int family;
	uint8_t a[16];
	return s && addr_parse(s, AF_UNSPEC, &family, a) == 0;
}

int pod_validate(const struct pod *p, const char **ret_why)
{
	const char *why = NULL;
	if (!p->namespace || !dns_label(p->namespace, strlen(p->namespace), 63))
		why = "metadata.namespace is not a DNS-1123 label";
	else if (!p->name || !dns_subdomain(p->name, strlen(p->name)))
		why = "metadata.name is not a DNS-1123 subdomain";
	else if (!p->uid || !uid_ok(p->uid))
		why = "metadata.uid is empty, too long or not printable";
	else if (!text_ok(p->node, 253) || !text_ok(p->workload_kind, 253) ||
		 !text_ok(p->workload_name, 253) || !text_ok(p->qos_class, 63) ||
		 !text_ok(p->phase, 63) || !text_ok(p->start_time, 64))
		why = "a text field is not UTF-8 or too long";
	else if (p->host_ip && *p->host_ip && !ip_ok(p->host_ip))
		why = "status.hostIP is not an IP address";
	for (size_t i = 0; !why && i < p->n_ips; i++)
		if (!ip_ok(p->ips[i]))
			why = "status.podIPs holds something that is not an IP "
			      "address";
	for (size_t i = 0; !why && i < p->n_labels; i++) {
		const struct pod_label *l = &p->labels[i];
		if (!l->key || !label_key(l->key))
			why = "a label key is not a valid Kubernetes label key";
		else if (l->value &&
			 !label_token(l->value, strlen(l->value), true))
			why = "a label value is not a valid Kubernetes label "
			      "value";
	}
	for (size_t i = 0; !why && i < p->n_containers; i++) {
		const char *n = p->containers[i].name;
		if (n && !dns_label(n, strlen(n), 63))
			why = "a container name is not a DNS-1123 label";
	}
	if (!why)
		return 0;
	if (ret_why)
		*ret_why = why;
	return -EINVAL;
}

int pods_parse(const char *buf, size_t len, size_t max_pods,
	       struct pod_list **ret)
{
	if (!max_pods)
		max_pods = PODS_DEFAULT_MAX;
	cJSON *root = cJSON_ParseWithLength(buf, len);
	if (!root)
		return -EINVAL;
	const cJSON *items = get_arr(root, "items");
	const char *kind = get_str(root, "kind");
	if (!items || (kind && strcmp(kind, "PodList") != 0)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	struct pod_list *l = calloc(1, sizeof(*l));
	size_t n = (size_t)cJSON_GetArraySize(items);
	if (n > max_pods)
		n = max_pods;
	if (!l || (n && !(l->pods = calloc(n, sizeof(*l->pods))))) {
		free(l);
		cJSON_Delete(root);
		return -ENOMEM;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, items)
	{
		if (l->n == n)
			break;
		if (!cJSON_IsObject(item))
			continue;
		int r = parse_pod(&l->pods[l->n], item);
		if (r < 0) {
			pod_list_free(l);
			cJSON_Delete(root);
			return r;
		}
		const char *why;
		if (r > 0 && pod_validate(&l->pods[l->n], &why) < 0) {
			pod_clear(&l->pods[l->n]);
			l->n_invalid++;
			continue;
		}
		l->n += (size_t)r;
	}
	cJSON_Delete(root);
	*ret = l;
	return 0;
}

/* ---- cache ------------------------------------------------------------- */

struct pod_cache {
	struct pod_list *list;
	struct u64map by_ctr; /* hash(id) -> pod index << 32 | container */
	struct u64map by_uid; /* hash(uid) -> pod index */
};

static uint64_t str_key(const char *s)
{
	return hash_bytes(s, strlen(s), 0x6b38) | 1;
}

struct pod_cache *pod_cache_new(struct pod_list *list)
{
	struct pod_cache *c = calloc(1, sizeof(*c));
	if (!c) {
		pod_list_free(list);
		return NULL;
	}
	c->list = list;
	size_t nctr = 0;
	for (size_t i = 0; i < list->n; i++)
		nctr += list->pods[i].n_containers;
	if (u64map_init(&c->by_ctr, nctr + 1) < 0 ||
	    u64map_init(&c->by_uid, list->n + 1) < 0) {
		pod_cache_free(c);
		return NULL;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct pod *p = &list->pods[i];
		/* On a hash collision the first entry wins; lookups compare
		 * the strings and fall back to a scan. */
		if (!u64map_get(&c->by_uid, str_key(p->uid)) &&
		    u64map_put(&c->by_uid, str_key(p->uid), i) == -ENOMEM)
			goto oom;
		for (size_t j = 0; j < p->n_containers; j++) {
			const char *id = p->containers[j].id;
			if (!id || u64map_get(&c->by_ctr, str_key(id)))
				continue;
			if (u64map_put(&c->by_ctr, str_key(id),
				       (uint64_t)i << 32 | j) == -ENOMEM)
				goto oom;
		}
	}
	return c;
oom:
	pod_cache_free(c);
	return NULL;
}

void pod_cache_free(struct pod_cache *c)
{
	if (!c)
		return;
	u64map_free(&c->by_ctr);
	u64map_free(&c->by_uid);
	pod_list_free(c->list);
	free(c);
}

size_t pod_cache_count(const struct pod_cache *c)
{
	return c ? c->list->n : 0;
}

const struct pod_list *pod_cache_list(const struct pod_cache *c)
{
	return c->list;
}

const struct pod *pod_cache_by_container(const struct pod_cache *c,
					 const char *container_id,
					 const struct pod_container **ret_ctr)
{
	if (!c || !container_id || !*container_id)
		return NULL;
	const uint64_t *v = u64map_get(&c->by_ctr, str_key(container_id));
	if (v) {
		const struct pod *p = &c->list->pods[*v >> 32];
		const struct pod_container *ctr =
			&p->containers[(uint32_t)*v];
		if (strcmp(ctr->id, container_id) == 0) {
			if (ret_ctr)
				*ret_ctr = ctr;
			return p;
		}
	}
	for (size_t i = 0; v && i < c->list->n; i++) {
		const struct pod *p = &c->list->pods[i];
		for (size_t j = 0; j < p->n_containers; j++)
			if (p->containers[j].id &&
			    strcmp(p->containers[j].id, container_id) == 0) {
				if (ret_ctr)
					*ret_ctr = &p->containers[j];
				return p;
			}
	}
	return NULL;
}

const struct pod *pod_cache_by_uid(const struct pod_cache *c, const char *uid)
{
	if (!c || !uid || !*uid)
		return NULL;
	const uint64_t *v = u64map_get(&c->by_uid, str_key(uid));
	if (!v)
		return NULL;
	if (strcmp(c->list->pods[*v].uid, uid) == 0)
		return &c->list->pods[*v];
	for (size_t i = 0; i < c->list->n; i++)
		if (strcmp(c->list->pods[i].uid, uid) == 0)
			return &c->list->pods[i];
	return NULL;
}
