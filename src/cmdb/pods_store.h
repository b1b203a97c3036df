/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_PODS_STORE_H
#define SHAWK_CMDB_PODS_STORE_H

#include "cmdb/pg.h"
#include "cmdb/sqlarray.h"
#include "k8s/pods.h"
#include "k8s/services.h"

#include <stddef.h>
#include <stdint.h>

/*
 * This node's pods in the CMDB pods table, written in one statement
 * whatever their number: per-pod columns, plus (pod index, value) pairs for
 * the IPs, labels and containers, spread by unnest() and regrouped by
 * array_agg / jsonb_object_agg on the server.
 */
#define CMDB_POD_COLUMNS 14

struct cmdb_pod_rows {
	struct sql_array col[CMDB_POD_COLUMNS];
	size_t n;   /* pods added */
	size_t max; /* bound on n (0: PODS_DEFAULT_MAX) */
};

void cmdb_pod_rows_init(struct cmdb_pod_rows *r, size_t max);
void cmdb_pod_rows_clear(struct cmdb_pod_rows *r);

/* Copies what the table keeps of p. Returns 0, -ENOSPC beyond the bound,
 * -ENOMEM (sticky, also reported by cmdb_store_pods). */
int cmdb_pod_rows_add(struct cmdb_pod_rows *r, const struct pod *p);

/*
 * Upserts the pods in r (one statement, its own transaction) as seen on
 * node_name at now_ms: last_seen becomes now, first_seen the pod's start
 * time (or now) unless an earlier one is known; IPs and containers are
 * kept when the kubelet no longer reports any (a finished pod).
 * Returns the number of pods written (0: nothing to do), -ENOMEM,
 * -ENOTCONN or -EIO (see cmdb_last_error).
 */
int cmdb_store_pods(struct cmdb *db, const char *node_name,
		    struct cmdb_pod_rows *r, int64_t now_ms);

/*
 * The cluster's Services in the CMDB services table, the same way: one
 * statement whatever their number, per-Service columns plus (index,
 * value) pairs for the cluster IPs and the ports. The parser validated
 * every address, so one bad Service cannot fail the batch (it was skipped
 * there).
 */
#define CMDB_SERVICE_COLUMNS 10

struct cmdb_service_rows {
	struct sql_array col[CMDB_SERVICE_COLUMNS];
	size_t n;
	size_t max; /* bound on n (0: SERVICES_DEFAULT_MAX) */
};

void cmdb_service_rows_init(struct cmdb_service_rows *r, size_t max);
void cmdb_service_rows_clear(struct cmdb_service_rows *r);

/* Copies what the table keeps of s. Returns 0, -ENOSPC beyond the bound,
 * -ENOMEM (sticky, also reported by cmdb_store_services). */
int cmdb_service_rows_add(struct cmdb_service_rows *r,
			  const struct service *s);

/*
 * Upserts the Services in r (one statement, its own transaction) as seen
 * at now_ms: last_seen becomes now, first_seen now unless known; cluster
 * IPs, ports and type are replaced. Services no agent has seen for 30
 * days are deleted by the same statement (the table stays bounded).
 * Returns the number written (0: nothing to do), -ENOMEM, -ENOTCONN or
 * -EIO (see cmdb_last_error).
 */
int cmdb_store_services(struct cmdb *db, struct cmdb_service_rows *r,
			int64_t now_ms);

#endif
