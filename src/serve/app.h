/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_SERVE_APP_H
#define SHAWK_SERVE_APP_H

#include "http/http.h"

#include <stddef.h>

/*
 * The routes of `shawk serve`, read-only over the CMDB:
 *   /                          the map (level=workload|pod, ns, since, until)
 *   /workload/NS/KIND/NAME     a workload, its callers and callees (depth)
 *   /pod/NS/NAME, /host/ADDR   a pod, the processes at an address
 *   /api/look?host=|pod=|namespace=  `shawk look --format json`
 *   /healthz                   200 "ok" (the server answers)
 * Unknown paths 404, bad parameters 400 with a one-line reason, CMDB
 * unreachable 503 (the page says so). Requests are served one at a time
 * (the HTTP module's single thread), so one CMDB connection serves all;
 * it is reopened when it broke.
 */
struct serve_app {
	const char *cmdb_url;
	struct cmdb *db;
	size_t max_nodes; /* per map; 0: the depmap default */
};

void serve_app_handle(void *userdata, const struct http_request *req,
		      struct http_response *resp);

/* Closes the CMDB connection. */
void serve_app_clear(struct serve_app *app);

#endif
