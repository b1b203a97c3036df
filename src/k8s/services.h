/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_SERVICES_H
#define SHAWK_K8S_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The API server's ServiceList (GET /api/v1/services) reduced to what
 * names a Service's address: namespace/name, uid, type, cluster IPs (IPv4
 * and IPv6) and ports. Parsing is pure: a buffer in, a list out. Bounded:
 * at most max services, SERVICE_MAX_IPS addresses and SERVICE_MAX_PORTS
 * ports each. A Service without a cluster IP (headless: "None", or
 * ExternalName) has none: only its nodePorts can name it.
 */

#define SERVICE_MAX_IPS 4
#define SERVICE_MAX_PORTS 64
#define SERVICES_DEFAULT_MAX 65536

struct service_port {
	uint16_t port;
	uint16_t node_port; /* 0: none */
	uint8_t proto;	    /* IPPROTO_TCP / IPPROTO_UDP / IPPROTO_SCTP */
};

struct service {
	char *namespace;
	char *name;
	char *uid;
	char *type; /* ClusterIP, NodePort, LoadBalancer, ...; NULL if absent */
	/* Valid addresses only, as inet_pton read them; text kept. */
	char *ips[SERVICE_MAX_IPS];
	size_t n_ips;
	struct service_port ports[SERVICE_MAX_PORTS];
	size_t n_ports;
};

struct service_list {
	struct service *items;
	size_t n;
	size_t skipped; /* items left out: no uid/name/namespace, bad address */
};

/*
 * Parses a ServiceList (JSON, len bytes, need not be NUL-terminated). At
 * most max services are kept (0: SERVICES_DEFAULT_MAX). An item without
 * metadata.uid/name/namespace, or with a clusterIP that is not an
 * address (other than "None" and ""), is skipped and counted: one bad
 * Service never fails the list. Ports outside 1..65535 are dropped.
 * Returns 0 with *ret (free with service_list_free), -EINVAL when buf is
 * not a ServiceList, -ENOMEM.
 */
int services_parse(const char *buf, size_t len, size_t max,
		   struct service_list **ret);
void service_list_free(struct service_list *l);
void service_list_freep(struct service_list **l);

/* "TCP" / "UDP" / "SCTP" for a port's proto. */
const char *service_proto_name(uint8_t proto);

#endif
