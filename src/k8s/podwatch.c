// SPDX-License-Identifier: MIT
#include "k8s/podwatch.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/u64map.h"
#include "core/util.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

#define MISSED_MAX 4096

struct pod_watch {
	struct kubelet_client *kubelet;
	struct kubelet_client *apiserver; /* NULL: no Services */
	int64_t refresh_ms, min_refresh_ms, stale_ms, services_refresh_ms;
	size_t max_pods, max_services;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	pthread_t thread;
	bool started, stop, requested;

	/* Under lock. */
	struct pod_cache *cache;
	int64_t last_ok_ms;
	int64_t last_fetch_ms;
	struct pod_watch_status status;
	/* Missed ids -> status.fetches when first missed. */
	struct u64map missed;
	struct service_list *services;
	uint64_t services_gen;
	int64_t services_ok_ms, services_fetch_ms;
};

int pod_watch_new(const struct pod_watch_options *o, struct pod_watch **ret)
{
	struct pod_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	int r = kubelet_client_new(&o->kubelet, &w->kubelet);
	if (r < 0) {
		free(w);
		return r;
	}
	if (o->apiserver.url && *o->apiserver.url &&
	    (r = kubelet_client_new(&o->apiserver, &w->apiserver)) < 0) {
		kubelet_client_free(w->kubelet);
		free(w);
		return r;
	}
	if (u64map_init(&w->missed, MISSED_MAX) < 0) {
		kubelet_client_free(w->apiserver);
		kubelet_client_free(w->kubelet);
		free(w);
		return -ENOMEM;
	}
	w->services_refresh_ms =
		o->services_refresh_ms > 0 ? o->services_refresh_ms : 60000;
	w->max_services = o->max_services;
	w->refresh_ms = o->refresh_ms > 0 ? o->refresh_ms : 30000;
	w->min_refresh_ms = o->min_refresh_ms > 0 ? o->min_refresh_ms : 5000;
	w->stale_ms = o->stale_ms > 0 ? o->stale_ms : 300000;
	w->max_pods = o->max_pods;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	*ret = w;
	return 0;
}

void pod_watch_free(struct pod_watch *w)
{
	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	pod_cache_free(w->cache);
	service_list_free(w->services);
	u64map_free(&w->missed);
	kubelet_client_free(w->kubelet);
	kubelet_client_free(w->apiserver);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

/* Under lock. */
static void set_status(struct pod_watch *w, enum pod_watch_state st, int err,
		       const char *msg)
{
	if (w->status.state != st || w->status.err != err)
		w->status.changes++;
	w->status.state = st;
	w->status.err = err;
	snprintf(w->status.message, sizeof(w->status.message), "%s", msg);
}

int pod_watch_refresh(struct pod_watch *w)
{
	char *body = NULL;
	size_t len = 0;
	struct pod_list *list = NULL;
	char msg[sizeof(w->status.message)];

	int r = kubelet_list_pods(w->kubelet, &body, &len);
	if (r == 0) {
		r = pods_parse(body, len, w->max_pods, &list);
		if (r == -EINVAL)
			snprintf(msg, sizeof(msg),
				 "kubelet answered with something that is not "
				 "a PodList (%zu bytes)",
				 len);
		free(body);
	} else {
		snprintf(msg, sizeof(msg), "%s", kubelet_last_error(w->kubelet));
	}
	struct pod_cache *fresh = NULL;
	if (r == 0 && !(fresh = pod_cache_new(list)))
		r = -ENOMEM;

	int64_t now = now_monotonic_ms();
	pthread_mutex_lock(&w->lock);
	w->last_fetch_ms = now;
	w->status.fetches++;
	struct pod_cache *old = NULL;
	if (r == 0) {
		old = w->cache;
		w->cache = fresh;
		w->last_ok_ms = now;
		w->status.n_pods = pod_cache_count(fresh);
		set_status(w, POD_WATCH_OK, 0, "");
		r = (int)w->status.n_pods;
	} else {
		if (r == -ENOMEM)
			snprintf(msg, sizeof(msg), "out of memory");
		w->status.failures++;
		if (w->cache && now - w->last_ok_ms >= w->stale_ms) {
			old = w->cache;
			w->cache = NULL;
			w->status.n_pods = 0;
		}
		set_status(w, POD_WATCH_FAILING, r, msg);
	}
	pthread_mutex_unlock(&w->lock);
	pod_cache_free(old);
	log_debug("kubelet refresh: %d", r);
	return r;
}

int pod_watch_refresh_services(struct pod_watch *w)
{
	char *body = NULL;
	size_t len = 0;
	struct service_list *list = NULL;
	char msg[sizeof(w->status.services_message)];

	if (!w->apiserver)
		return -ENODEV;
	int r = kubelet_list_services(w->apiserver, &body, &len);
	if (r == 0) {
		r = services_parse(body, len, w->max_services, &list);
		if (r == -EINVAL)
			snprintf(msg, sizeof(msg),
				 "API server answered with something that is "
				 "not a ServiceList (%zu bytes)",
				 len);
		free(body);
	} else {
		snprintf(msg, sizeof(msg), "%s",
			 kubelet_last_error(w->apiserver));
	}
	if (r == -ENOMEM)
		snprintf(msg, sizeof(msg), "out of memory");

	int64_t now = now_monotonic_ms();
	struct service_list *old = NULL;
	pthread_mutex_lock(&w->lock);
	w->services_fetch_ms = now;
	w->status.services_fetches++;
	if (r == 0) {
		old = w->services;
		w->services = list;
		w->services_gen++;
		w->services_ok_ms = now;
		w->status.services_err = 0;
		w->status.n_services = list->n;
		w->status.services_skipped = list->skipped;
		w->status.services_message[0] = '\0';
		r = (int)list->n;
	} else {
		/* The last good list names addresses until it is stale. */
		if (w->services && now - w->services_ok_ms >= w->stale_ms) {
			old = w->services;
			w->services = NULL;
			w->status.n_services = 0;
		}
		w->status.services_err = r;
		snprintf(w->status.services_message,
			 sizeof(w->status.services_message), "%s", msg);
	}
	pthread_mutex_unlock(&w->lock);
	service_list_free(old);
	log_debug("services refresh: %d", r);
	return r;
}

static void *watch_main(void *arg)
{
	struct pod_watch *w = arg;
	pthread_mutex_lock(&w->lock);
	int64_t next = w->last_fetch_ms + w->refresh_ms;
	for (;;) {
		int64_t now = now_monotonic_ms();
		int64_t due = next;
		int64_t svc_due = w->services_fetch_ms + w->services_refresh_ms;
		if (w->apiserver && svc_due < due)
			due = svc_due;
		if (w->requested) {
			int64_t soonest = w->last_fetch_ms + w->min_refresh_ms;
			if (soonest < due)
				due = soonest;
		}
		if (w->stop)
			break;
		if (now < due) {
			struct timespec ts = {
				.tv_sec = due / 1000,
				.tv_nsec = (due % 1000) * 1000000,
			};
			pthread_cond_timedwait(&w->cond, &w->lock, &ts);
			continue;
		}
		/* Whichever is due: the Services list is a second
		 * request on its own schedule, never in a scan's way. */
		if (w->apiserver && now >= svc_due) {
			pthread_mutex_unlock(&w->lock);
			(void)pod_watch_refresh_services(w);
			pthread_mutex_lock(&w->lock);
			continue;
		}
		w->requested = false;
		pthread_mutex_unlock(&w->lock);
		(void)pod_watch_refresh(w);
		pthread_mutex_lock(&w->lock);
		next = w->last_fetch_ms + w->refresh_ms;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int pod_watch_start(struct pod_watch *w)
{
	if (w->started)
		return 0;
	/* Refresh timing starts now when nothing was fetched yet. */
	if (!w->last_fetch_ms)
		w->last_fetch_ms = now_monotonic_ms() - w->refresh_ms;
	if (!w->services_fetch_ms)
		w->services_fetch_ms =
			now_monotonic_ms() - w->services_refresh_ms;
	/* Signals belong to the caller's loop (signalfd): the thread must
	 * not take a SIGTERM whose default action ends the process. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&w->thread, NULL, watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	w->started = true;
	return 0;
}

static void copy(char *dst, size_t sz, const char *s)
{
	strscpy(dst, s ? s : "", sz);
}

static void fill(struct pod_match *m, const struct pod *p,
		 const struct pod_container *c)
{
	memset(m, 0, sizeof(*m));
	copy(m->namespace, sizeof(m->namespace), p->namespace);
	copy(m->name, sizeof(m->name), p->name);
	copy(m->uid, sizeof(m->uid), p->uid);
	copy(m->node, sizeof(m->node), p->node);
	copy(m->container_name, sizeof(m->container_name), c ? c->name : NULL);
	copy(m->workload_kind, sizeof(m->workload_kind), p->workload_kind);
	copy(m->workload_name, sizeof(m->workload_name), p->workload_name);
	m->host_network = p->host_network;
}

static uint64_t id_key(const char *s)
{
	return hash_bytes(s, strlen(s), 0x51) | 1;
}

int pod_watch_find(struct pod_watch *w, const char *container_id,
		   const char *pod_uid, struct pod_match *ret)
{
	const struct pod_container *c = NULL;
	const struct pod *p = NULL;
	int r = -ENOENT;

	pthread_mutex_lock(&w->lock);
	if (container_id && *container_id)
		p = pod_cache_by_container(w->cache, container_id, &c);
	if (!p && pod_uid && *pod_uid)
		p = pod_cache_by_uid(w->cache, pod_uid);
	if (p) {
		fill(ret, p, c);
		r = 0;
	} else {
		/* Ask for one refresh per unknown id: a new pod shows up
		 * quickly, a container the kubelet never knew (docker run)
		 * costs nothing after that. */
		const char *key = pod_uid && *pod_uid ? pod_uid : container_id;
		if (key && *key) {
			uint64_t k = id_key(key);
			if (!u64map_get(&w->missed, k)) {
				if (u64map_put(&w->missed, k,
					       w->status.fetches) == -ENOSPC) {
					u64map_clear(&w->missed);
					(void)u64map_put(&w->missed, k,
							 w->status.fetches);
				}
				w->requested = true;
				pthread_cond_signal(&w->cond);
			}
		}
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

void pod_watch_foreach(struct pod_watch *w,
		       void (*fn)(const struct pod *p, void *ud), void *ud)
{
	pthread_mutex_lock(&w->lock);
	if (w->cache) {
		const struct pod_list *l = pod_cache_list(w->cache);
		for (size_t i = 0; i < l->n; i++)
			fn(&l->pods[i], ud);
	}
	pthread_mutex_unlock(&w->lock);
}

void pod_watch_get_status(struct pod_watch *w, struct pod_watch_status *ret)
{
	pthread_mutex_lock(&w->lock);
	*ret = w->status;
	pthread_mutex_unlock(&w->lock);
}

uint64_t pod_watch_foreach_service(struct pod_watch *w,
				   void (*fn)(const struct service *s,
					      void *ud),
				   void *ud)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; w->services && i < w->services->n; i++)
		fn(&w->services->items[i], ud);
	uint64_t gen = w->services ? w->services_gen : 0;
	pthread_mutex_unlock(&w->lock);
	return gen;
}
