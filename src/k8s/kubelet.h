/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_KUBELET_H
#define SHAWK_K8S_KUBELET_H

#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The kubelet's read-only HTTPS API (GET /pods), and the API server's
 * Services list (GET /api/v1/services) through a client of its own on the
 * API server's URL. The only libcurl user.
 */

struct kubelet_options {
	const char *url;	/* "https://10.0.0.5:10250", no trailing /pods */
	const char *token_file; /* bearer token, re-read per request; optional */
	const char *ca_file;	/* CA bundle to verify the kubelet; optional */
	bool insecure;		/* skip TLS verification (kind) */
	long connect_timeout_ms; /* 0: 2000 */
	long timeout_ms;	 /* whole transfer; 0: 10000 */
	size_t max_body;	 /* 0: 64 MiB */
};

struct kubelet_client;

/*
 * Copies the options. Returns 0 and *ret (free with kubelet_client_free),
 * -EINVAL without a url, -ENOMEM.
 */
int kubelet_client_new(const struct kubelet_options *o,
		       struct kubelet_client **ret);
void kubelet_client_free(struct kubelet_client *k);
DEFINE_FREEP(struct kubelet_client, kubelet_client_free)

/*
 * GET <url>/pods. Returns 0 with the body in *ret_body (NUL-terminated,
 * caller frees) and its length; -ETIMEDOUT (connect or transfer timeout),
 * -EACCES (HTTP 401/403), -EFBIG (body above max_body), -ENOMEM, or -EIO
 * for anything else (refused, TLS, other HTTP status). kubelet_last_error()
 * then says what happened.
 */
int kubelet_list_pods(struct kubelet_client *k, char **ret_body,
		      size_t *ret_len);

/*
 * GET <url>/api/v1/services (a client whose url is the API server's).
 * Returns as kubelet_list_pods.
 */
int kubelet_list_services(struct kubelet_client *k, char **ret_body,
			  size_t *ret_len);

/* One line describing the last failure ("" after a success). */
const char *kubelet_last_error(const struct kubelet_client *k);

/*
 * The kubelet URL to use: url when set, else https://$NODE_IP:10250 when
 * node_ip is set (brackets for IPv6), else NULL. Writes into buf.
 */
const char *kubelet_default_url(const char *url, const char *node_ip,
				char *buf, size_t bufsz);

/*
 * The API server URL to use: url when set, else the in-cluster
 * https://HOST:PORT (KUBERNETES_SERVICE_HOST / _PORT, carried by the
 * config; port "" or NULL: 443; brackets for IPv6), else NULL. Writes
 * into buf.
 */
const char *kubelet_apiserver_url(const char *url, const char *host,
				  const char *port, char *buf, size_t bufsz);

#endif
