// SPDX-License-Identifier: MIT
#include "k8s/services.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const char *get_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const cJSON *get_typed(const cJSON *obj, const char *key, bool arr)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return (arr ? cJSON_IsArray(v) : cJSON_IsObject(v)) ? v : NULL;
}

/* A port number from JSON: an integer in 1..65535, else 0. */
static uint16_t get_port(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 ||
	    v->valuedouble > 65535 || v->valuedouble != (int)v->valuedouble)
		return 0;
	return (uint16_t)v->valueint;
}

static void service_clear(struct service *s)
{
	free(s->namespace);
	free(s->name);
	free(s->uid);
	free(s->type);
	for (size_t i = 0; i < s->n_ips; i++)
		free(s->ips[i]);
	memset(s, 0, sizeof(*s));
}

void service_list_free(struct service_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		service_clear(&l->items[i]);
	free(l->items);
	free(l);
}

void service_list_freep(struct service_list **l)
{
	service_list_free(*l);
}

const char *service_proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP	 ? "UDP"
	       : proto == IPPROTO_SCTP ? "SCTP"
				       : "TCP";
}

/* Adds ip unless listed already. Returns 0, -EINVAL (not an address:
 * the Service is bad), -ENOMEM. "None" and "" (headless) add nothing. */
static int add_ip(struct service *s, const char *ip)
{
	unsigned char buf[16];
	if (!*ip || strcmp(ip, "None") == 0)
		return 0;
	if (inet_pton(AF_INET, ip, buf) != 1 &&
	    inet_pton(AF_INET6, ip, buf) != 1)
		return -EINVAL;
	for (size_t i = 0; i < s->n_ips; i++)
		if (strcmp(s->ips[i], ip) == 0)
			return 0;
	if (s->n_ips >= SERVICE_MAX_IPS)
		return 0;
	if (!(s->ips[s->n_ips] = strdup(ip)))
		return -ENOMEM;
	s->n_ips++;
	return 0;
}

static int parse_ports(struct service *s, const cJSON *ports)
{
	const cJSON *p;
	cJSON_ArrayForEach(p, ports)
	{
		if (s->n_ports >= SERVICE_MAX_PORTS)
			break;
		if (!cJSON_IsObject(p))
			continue;
		uint16_t port = get_port(p, "port");
		if (!port)
			continue;
		const char *proto = get_str(p, "protocol");
		struct service_port *o = &s->ports[s->n_ports++];
		o->port = port;
		o->node_port = get_port(p, "nodePort");
		/* The API server defaults protocol to TCP. */
		o->proto = proto && strcmp(proto, "UDP") == 0	 ? IPPROTO_UDP
			   : proto && strcmp(proto, "SCTP") == 0 ? IPPROTO_SCTP
								 : IPPROTO_TCP;
	}
	return 0;
}

/* Returns 0, -EINVAL (skip this item) or -ENOMEM. */
static int parse_service(struct service *s, const cJSON *item)
{
	const cJSON *meta = get_typed(item, "metadata", false);
	const cJSON *spec = get_typed(item, "spec", false);
	const char *ns = get_str(meta, "namespace"), *name = get_str(meta, "name");
	const char *uid = get_str(meta, "uid"), *type = get_str(spec, "type");
	int r;

	if (!ns || !name || !uid || !*ns || !*name || !*uid)
		return -EINVAL;
	if (!(s->namespace = strdup(ns)) || !(s->name = strdup(name)) ||
	    !(s->uid = strdup(uid)) || (type && !(s->type = strdup(type))))
		return -ENOMEM;
	/* clusterIPs (dual stack) lists clusterIP first; older servers
	 * send clusterIP alone. */
	const char *ip = get_str(spec, "clusterIP");
	if (ip && (r = add_ip(s, ip)) < 0)
		return r;
	const cJSON *ips = get_typed(spec, "clusterIPs", true), *v;
	cJSON_ArrayForEach(v, ips)
	{
		if (cJSON_IsString(v) && (r = add_ip(s, v->valuestring)) < 0)
			return r;
	}
	return parse_ports(s, get_typed(spec, "ports", true));
}

int services_parse(const char *buf, size_t len, size_t max,
		   struct service_list **ret)
{
	if (!max)
		max = SERVICES_DEFAULT_MAX;
	cJSON *root = cJSON_ParseWithLength(buf, len);
	if (!root)
		return -EINVAL;
	const cJSON *items = get_typed(root, "items", true);
	const char *kind = get_str(root, "kind");
	if (!items || (kind && strcmp(kind, "ServiceList") != 0)) {
		cJSON_Delete(root);
		return -EINVAL;
	}
	struct service_list *l = calloc(1, sizeof(*l));
	size_t n = (size_t)cJSON_GetArraySize(items);
	if (n > max)
		n = max;
	if (!l || !(l->items = calloc(n ? n : 1, sizeof(*l->items)))) {
		free(l);
		cJSON_Delete(root);
		return -ENOMEM;
	}
	const cJSON *item;
	int r = 0;
	cJSON_ArrayForEach(item, items)
	{
		if (l->n >= n) {
			l->skipped++;
			continue;
		}
		struct service *s = &l->items[l->n];
		r = cJSON_IsObject(item) ? parse_service(s, item) : -EINVAL;
		if (r == -ENOMEM)
			break;
		if (r < 0) {
			service_clear(s);
			l->skipped++;
			r = 0;
			continue;
		}
		l->n++;
	}
	cJSON_Delete(root);
	if (r < 0) {
		/* The half-built item is freed with the list. */
		l->n++;
		service_list_free(l);
		return r;
	}
	*ret = l;
	return 0;
}
