// SPDX-License-Identifier: MIT
#include "render/flows.h"

#include "core/addr.h"
#include "core/util.h"
#include "render/common.h"

#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static cJSON *endpoint_json(int family, const uint8_t addr[16], uint16_t port)
{
	char a[ADDR_STRLEN];
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	addr_format(family, addr, a);
	cJSON_AddStringToObject(o, "addr", a);
	/* Always a number: the ephemeral side ("many" in text) is 0. */
	cJSON_AddNumberToObject(o, "port", port);
	if (!port)
		cJSON_AddTrueToObject(o, "ephemeral");
	return o;
}

/* Adds s, or JSON null when s is NULL. cJSON escapes control characters. */
static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

static cJSON *flow_json(const struct flow *f,
			const struct render_flows_meta *meta)
{
	const struct flow_key *k = &f->key;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "direction",
				k->dir == SOCK_DIR_PASSIVE ? "passive"
							   : "active");
	cJSON_AddStringToObject(o, "proto", render_proto_name(k->proto));
	cJSON_AddItemToObject(o, "local",
			      endpoint_json(k->family, k->laddr, k->lport));
	cJSON_AddItemToObject(o, "peer",
			      endpoint_json(k->family, k->raddr, k->rport));
	/* Kubernetes Services (the conntrack stage): the address dialed when
	 * the peer is the backend a DNAT chose; the original client when
	 * the peer is a source NAT's address. */
	if (k->svc_port || !addr_is_any(k->family, k->svc_addr))
		cJSON_AddItemToObject(o, "service",
				      endpoint_json(k->family, k->svc_addr,
						    k->svc_port));
	else
		cJSON_AddNullToObject(o, "service");
	if (!addr_is_any(k->family, k->nat_addr))
		cJSON_AddItemToObject(o, "nat_peer",
				      endpoint_json(k->family, k->nat_addr,
						    k->nat_port));
	else
		cJSON_AddNullToObject(o, "nat_peer");
	cJSON_AddNumberToObject(o, "connections", f->connections);
	cJSON_AddNumberToObject(o, "new_connections", f->new_connections);

	cJSON *p = cJSON_AddObjectToObject(o, "process");
	if (p) {
		cJSON_AddStringToObject(p, "name", k->comm);
		cJSON_AddNumberToObject(p, "pgid", k->pgid);
		cJSON_AddNumberToObject(p, "pid", f->pid);
		if (f->cmdline)
			cJSON_AddStringToObject(p, "cmdline", f->cmdline);
	}
	cJSON_AddNumberToObject(o, "netns", (double)k->netns);
	const char *nsname = meta && meta->netns_name
				     ? meta->netns_name(k->netns, meta->ud)
				     : NULL;
	if (nsname)
		cJSON_AddStringToObject(o, "netns_name", nsname);
	add_str_or_null(o, "cgroup", f->cgroup);
	if (f->cgroup_id)
		cJSON_AddNumberToObject(o, "cgroup_id", (double)f->cgroup_id);

	if (f->container_id) {
		cJSON *c = cJSON_AddObjectToObject(o, "container");
		if (c) {
			cJSON_AddStringToObject(c, "id", f->container_id);
			add_str_or_null(c, "name", f->container_name);
		}
	} else {
		cJSON_AddNullToObject(o, "container");
	}
	if (f->pod_name) {
		cJSON *pd = cJSON_AddObjectToObject(o, "pod");
		if (pd) {
			add_str_or_null(pd, "namespace", f->pod_namespace);
			cJSON_AddStringToObject(pd, "name", f->pod_name);
			add_str_or_null(pd, "uid", f->pod_uid);
			add_str_or_null(pd, "node", f->node);
		}
	} else {
		cJSON_AddNullToObject(o, "pod");
	}
	return o;
}

int render_flows_json(FILE *out, const struct flow *flows, size_t n)
{
	return render_flows_json_meta(out, flows, n, NULL);
}

int render_flows_json_meta(FILE *out, const struct flow *flows, size_t n,
			   const struct render_flows_meta *meta)
{
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = flow_json(&flows[i], meta);
		if (!o) {
			cJSON_Delete(arr);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(arr, o);
	}
	cJSON *doc = arr;
	if (meta && meta->node) {
		char t[32];
		doc = cJSON_CreateObject();
		cJSON *w = doc ? cJSON_AddObjectToObject(doc, "window") : NULL;
		if (!w) {
			cJSON_Delete(doc);
			cJSON_Delete(arr);
			return -ENOMEM;
		}
		render_time_ms(t, sizeof(t), meta->window_start_ms);
		cJSON_AddStringToObject(w, "start", t);
		render_time_ms(t, sizeof(t), meta->window_end_ms);
		cJSON_AddStringToObject(w, "end", t);
		cJSON_AddStringToObject(doc, "node", meta->node);
		cJSON_AddItemToObject(doc, "flows", arr);
	}
	return render_json_print(out, doc);
}

int render_flows_text(FILE *out, const struct flow *flows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		const struct flow_key *k = &f->key;
		char local[80], peer[80], comm[sizeof(k->comm)];
		render_endpoint(local, sizeof(local), k->family, k->laddr,
				k->lport);
		render_endpoint(peer, sizeof(peer), k->family, k->raddr,
				k->rport);
		escape_terminal_buf(comm, sizeof(comm), k->comm);
		fprintf(out, "%-7s %s %s %s %s connections=%u ('%s', pgid=%u",
			k->dir == SOCK_DIR_PASSIVE ? "passive" : "active",
			render_proto_name(k->proto), local,
			k->dir == SOCK_DIR_PASSIVE ? "<--" : "-->", peer,
			f->connections, comm, k->pgid);
		if (f->pod_name) {
			fputs(", pod=", out);
			escape_terminal(out, f->pod_namespace ? f->pod_namespace
							      : "");
			fputc('/', out);
			escape_terminal(out, f->pod_name);
		}
		fputc(')', out);
		if (k->svc_port || !addr_is_any(k->family, k->svc_addr)) {
			render_endpoint(peer, sizeof(peer), k->family,
					k->svc_addr, k->svc_port);
			fprintf(out, " via %s", peer);
		}
		if (!addr_is_any(k->family, k->nat_addr)) {
			render_endpoint(peer, sizeof(peer), k->family,
					k->nat_addr, k->nat_port);
			fprintf(out, " nat-peer %s", peer);
		}
		fprintf(out, " netns=%llu\n", (unsigned long long)k->netns);
	}
	return ferror(out) ? -EIO : 0;
}
