/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_K8S_PODWATCH_H
#define SHAWK_K8S_PODWATCH_H

#include "core/util.h"

#include "k8s/kubelet.h"
#include "k8s/pods.h"
#include "k8s/services.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Keeps this node's pods from the kubelet, refreshed by a background thread
 * (periodically, and soon after a lookup misses, rate-limited), so the
 * probe loop never waits on the network. A failing kubelet leaves the last
 * good list in place until it is stale_ms old, then lookups miss: flows are
 * recorded without pod labels until the kubelet answers again.
 */

struct pod_watch_options {
	struct kubelet_options kubelet;
	int64_t refresh_ms;	/* periodic refresh; 0: 30 s */
	int64_t min_refresh_ms; /* at most one miss-driven refresh per; 0: 5 s */
	int64_t stale_ms;	/* drop the list this long after the last
				   success; 0: 5 min */
	size_t max_pods;	/* 0: PODS_DEFAULT_MAX */
	/*
	 * The cluster's Services from the API server (GET
	 * /api/v1/services), refreshed by the same thread every
	 * services_refresh_ms (0: 60 s). No apiserver.url: no Services.
	 */
	struct kubelet_options apiserver;
	int64_t services_refresh_ms;
	size_t max_services; /* 0: SERVICES_DEFAULT_MAX */
};

enum pod_watch_state {
	POD_WATCH_UNKNOWN = 0, /* no answer yet */
	POD_WATCH_OK,
	POD_WATCH_FAILING,
};

struct pod_watch_status {
	enum pod_watch_state state;
	int err;	     /* -errno of the last failure, 0 when OK */
	size_t n_pods;	     /* pods in the cache now */
	uint64_t changes;    /* bumped when state or err changes */
	uint64_t fetches;    /* completed refresh attempts */
	uint64_t failures;   /* of which failed */
	char message[512];   /* what failed, for the log */
	/* The Services list: err 0 when OK or not configured. */
	int services_err;
	size_t n_services;
	size_t services_skipped; /* bad items in the last list */
	uint64_t services_fetches;
	char services_message[512];
};

/* What a flow is labelled with; empty strings when unknown. */
struct pod_match {
	char namespace[64];
	char name[254];
	char uid[48];
	char node[254];
	char container_name[254];
	char workload_kind[32];
	char workload_name[254];
	bool host_network;
};

struct pod_watch;

/* Returns 0 and *ret, -EINVAL (no url), -ENOMEM. Nothing runs yet. */
int pod_watch_new(const struct pod_watch_options *o, struct pod_watch **ret);

/* Stops the thread (waiting for at most one request's timeout) and frees. */
void pod_watch_free(struct pod_watch *w);
DEFINE_FREEP(struct pod_watch, pod_watch_free)

/* Fetches now, in the caller's thread (before start, e.g. for --once).
 * Returns the number of pods or -errno (see kubelet_list_pods; -EINVAL
 * when the answer is not a PodList). */
int pod_watch_refresh(struct pod_watch *w);

/* Starts the background refresher. Returns 0 or -errno. */
int pod_watch_start(struct pod_watch *w);

/*
 * Finds the pod of container_id (preferred) or pod_uid (either may be NULL
 * or ""). Returns 0 and fills *ret, or -ENOENT; a miss on an id that no
 * refresh has been tried for since it was first missed asks the thread for
 * one.
 */
int pod_watch_find(struct pod_watch *w, const char *container_id,
		   const char *pod_uid, struct pod_match *ret);

/* Calls fn on each cached pod, under the cache lock (keep fn short). */
void pod_watch_foreach(struct pod_watch *w,
		       void (*fn)(const struct pod *p, void *ud), void *ud);

void pod_watch_get_status(struct pod_watch *w, struct pod_watch_status *ret);

/* Fetches the Services list now, in the caller's thread. Returns the
 * number of Services, -ENODEV when no API server is configured, or -errno
 * as pod_watch_refresh. */
int pod_watch_refresh_services(struct pod_watch *w);

/*
 * Calls fn on each cached Service, under the cache lock, and returns the
 * list's generation (bumped by every successful fetch; 0: none yet), so a
 * writer can skip a list it wrote already.
 */
uint64_t pod_watch_foreach_service(struct pod_watch *w,
				   void (*fn)(const struct service *s,
					      void *ud),
				   void *ud);

#endif
