// SPDX-License-Identifier: MIT
#include "agent/stage_k8s.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "k8s/cgroup.h"
#include "k8s/cgroupfs.h"

#include <limits.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct stage_k8s {
	struct stage base;
	struct cgroupfs *cgfs;	/* NULL without a cgroup2 hierarchy */
	struct pod_watch *pods; /* NULL without a kubelet URL */
	const char *node_name;
	uint64_t reported_changes;
	bool reported_once;
	/* The Services list state last logged. */
	int services_err;
	bool services_reported;

	/* Last parsed path, to skip re-parsing the same process's cgroup. */
	char last_path[PATH_MAX];
	struct cgroup_identity last_id;
	int last_ret;

	struct pod_match match;
};

static int k8s_enrich(struct stage *st, uint32_t pid,
		      const struct sock_record *rec, struct flow_owner *o);
static void k8s_report(struct stage *st);
struct pod_watch_status;
static void k8s_report_services(struct stage_k8s *k,
				const struct pod_watch_status *st);
static void k8s_stats(const struct stage *st, stat_fn fn, void *ud);
static void k8s_free(struct stage *st);

/* What the pod watch polls: the kubelet at url, and the API server's
 * Services list when one is known (its URL in abuf). Returns that URL or
 * NULL. */
static const char *watch_options(const struct probe_config *cfg,
				 const char *url, char *abuf, size_t abufsz,
				 struct pod_watch_options *o)
{
	int64_t refresh_ms = cfg->kubelet_refresh_ms;
	*o = (struct pod_watch_options){
		.refresh_ms = refresh_ms,
		.min_refresh_ms = refresh_ms && refresh_ms < 5000 ? refresh_ms : 0,
		.kubelet = {
			.url = url,
			.token_file = cfg->kubelet_token_file,
			.ca_file = cfg->kubelet_ca_file,
			.insecure = cfg->kubelet_insecure,
			.allow_http_token = cfg->kubelet_allow_http,
		},
	};
	const char *aurl = kubelet_apiserver_url(cfg->apiserver_url,
						 cfg->kube_service_host,
						 cfg->kube_service_port, abuf,
						 abufsz);
	if (aurl) {
		o->apiserver = (struct kubelet_options){
			.url = aurl,
			.token_file = cfg->kubelet_token_file,
			.ca_file = cfg->apiserver_ca_file,
			.allow_http_token = cfg->kubelet_allow_http,
		};
		o->services_refresh_ms = cfg->services_refresh_ms;
	} else {
		log_debug("no API server (--apiserver-url or "
			  "KUBERNETES_SERVICE_HOST): Services are shown by "
			  "address only");
	}
	return aurl;
}

struct stage *stage_k8s_new(const struct probe_config *cfg, bool once)
{
	struct stage_k8s *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->base.name = "k8s";
	k->base.enrich = k8s_enrich;
	k->base.report = k8s_report;
	k->base.stats = k8s_stats;
	k->base.free = k8s_free;
	k->node_name = cfg->node_name;
	k->last_ret = -1;

	int r = cgroupfs_open(cfg->host_proc, cfg->cgroup_root, 0, &k->cgfs);
	if (r == -ENOMEM)
		goto oom;
	if (r < 0)
		log_info("no cgroup v2 hierarchy found (%s): containers are "
			 "told from process cgroups only",
			 strerror(-r));
	else
		log_debug("cgroup v2 hierarchy at %s", cgroupfs_mount(k->cgfs));

	char buf[128];
	const char *url = kubelet_default_url(cfg->kubelet_url,
					      cfg->node_ip, buf,
					      sizeof(buf));
	if (!url) {
		log_debug("no kubelet URL (--kubelet-url, SHAWK_KUBELET_URL "
			  "or NODE_IP): flows get container ids only");
		return &k->base;
	}
	struct pod_watch_options o;
	char abuf[160];
	const char *aurl = watch_options(cfg, url, abuf, sizeof(abuf), &o);
	if (cfg->kubelet_insecure)
		log_warn("kubelet TLS verification is off "
			 "(SHAWK_KUBELET_INSECURE): the pod list of %s is "
			 "trusted unverified",
			 url);
	r = pod_watch_new(&o, &k->pods);
	if (r == -ENOMEM)
		goto oom;
	if (r < 0) {
		log_warn("kubelet %s unusable: %s", url, strerror(-r));
		return &k->base;
	}
	/* One synchronous attempt, bounded by the client's timeouts: a
	 * --once scan and the first interval get pod labels. */
	(void)pod_watch_refresh(k->pods);
	if (aurl)
		(void)pod_watch_refresh_services(k->pods);
	k8s_report(&k->base);
	if (!once && (r = pod_watch_start(k->pods)) < 0)
		log_warn("cannot start the kubelet refresher: %s; pod labels "
			 "stay as first read",
			 strerror(-r));
	return &k->base;
oom:
	k8s_free(&k->base);
	return NULL;
}

/* The token file would be sent: it exists and is readable. */
static bool token_present(const char *path)
{
	return path && *path && access(path, R_OK) == 0;
}

/* One endpoint's URL scheme against the token, and its CA file (a named
 * one must exist; the service account's, absent outside a pod, means the
 * system store: *ca is then set to NULL). */
static int check_endpoint(const struct probe_config *cfg, const char *what,
			  const char *url, const char **ca,
			  const char *ca_var, char *err)
{
	bool http = strncasecmp(url, "http://", 7) == 0;
	if (!http && strncasecmp(url, "https://", 8) != 0)
		return config_error(err, "invalid %s '%s': expected "
				    "https://HOST:PORT", what, url);
	if (http && !cfg->kubelet_allow_http &&
	    token_present(cfg->kubelet_token_file))
		return config_error(err,
			    "refusing %s '%s': it would send the token of %s in "
			    "clear; use https:// or set "
			    "SHAWK_KUBELET_ALLOW_HTTP=true", what, url,
			    cfg->kubelet_token_file);
	if (*ca && **ca && !cfg->kubelet_insecure && access(*ca, R_OK) < 0) {
		if (errno == ENOENT && strcmp(*ca, PROBE_SA_CA_FILE) == 0) {
			*ca = NULL;
			return 0;
		}
		return config_error(err, "invalid %s '%s': %s", ca_var, *ca,
				    strerror(errno));
	}
	return 0;
}

int stage_k8s_check(struct probe_config *cfg, char *err)
{
	char buf[128], abuf[160];
	int r;
	const char *url = kubelet_default_url(cfg->kubelet_url, cfg->node_ip,
					      buf, sizeof(buf));
	if (!url)
		return 0;
	if ((r = check_endpoint(cfg, "kubelet URL (--kubelet-url/"
				"SHAWK_KUBELET_URL)", url,
				&cfg->kubelet_ca_file,
				"SHAWK_KUBELET_CA_FILE", err)) < 0)
		return r;
	const char *aurl = kubelet_apiserver_url(cfg->apiserver_url,
						 cfg->kube_service_host,
						 cfg->kube_service_port, abuf,
						 sizeof(abuf));
	if (aurl)
		return check_endpoint(cfg, "API server URL (--apiserver-url/"
				      "SHAWK_APISERVER_URL)", aurl,
				      &cfg->apiserver_ca_file,
				      "SHAWK_APISERVER_CA_FILE", err);
	return 0;
}

static void k8s_free(struct stage *st)
{
	struct stage_k8s *k = (struct stage_k8s *)st;
	pod_watch_free(k->pods);
	cgroupfs_free(k->cgfs);
	free(k);
}

struct pod_watch *stage_k8s_pods(struct stage *st)
{
	return st ? ((struct stage_k8s *)st)->pods : NULL;
}

static void k8s_report(struct stage *stage)
{
	struct stage_k8s *k = (struct stage_k8s *)stage;
	struct pod_watch_status st;
	if (!k->pods)
		return;
	pod_watch_get_status(k->pods, &st);
	k8s_report_services(k, &st);
	if (st.state == POD_WATCH_UNKNOWN ||
	    (k->reported_once && st.changes == k->reported_changes))
		return;
	if (st.state == POD_WATCH_OK && st.n_invalid)
		log_warn("kubelet: %zu pods on this node; %zu more skipped: "
			 "they break Kubernetes' own rules (an address that is "
			 "not one, a name or label too long or not UTF-8)",
			 st.n_pods, st.n_invalid);
	else if (st.state == POD_WATCH_OK)
		log_info("kubelet: %zu pods on this node%s", st.n_pods,
			 k->reported_once ? " (pod labels are back)" : "");
	else
		log_warn("kubelet: %s; %s", st.message,
			 st.n_pods ? "pod labels come from the last pod list "
				     "until it answers again (for at most 5m)" :
				     "flows are recorded without pod labels "
				     "until it answers again");
	k->reported_changes = st.changes;
	k->reported_once = true;
}

/* The Services list: one line per change of its state. */
static void k8s_report_services(struct stage_k8s *k,
				const struct pod_watch_status *st)
{
	if (!st->services_fetches ||
	    (k->services_reported && st->services_err == k->services_err))
		return;
	if (!st->services_err)
		log_info("API server: %zu Services%s", st->n_services,
			 k->services_reported ? " (Service names are back)"
					      : "");
	else
		log_warn("API server: %s; %s", st->services_message,
			 st->n_services ? "Service names come from the last "
					  "list until it answers again"
					: "Services are shown by address only");
	k->services_err = st->services_err;
	k->services_reported = true;
}

static void k8s_stats(const struct stage *stage, stat_fn fn, void *ud)
{
	struct stage_k8s *k = (struct stage_k8s *)stage;
	struct pod_watch_status st;
	fn("kubelet_enabled", STAT_GAUGE, k->pods != NULL,
	   "1 when pods are read from a kubelet", ud);
	if (!k->pods)
		return;
	pod_watch_get_status(k->pods, &st);
	fn("kubelet_up", STAT_GAUGE, st.state == POD_WATCH_OK,
	   "1 when the last kubelet pod list request succeeded", ud);
	fn("pods", STAT_GAUGE, st.n_pods, "pods of this node known", ud);
	fn("kubelet_fetches", STAT_COUNTER, st.fetches,
	   "kubelet pod list requests completed", ud);
	fn("invalid_pods", STAT_COUNTER, st.invalid_total,
	   "pods skipped for breaking Kubernetes' limits, summed over lists",
	   ud);
	fn("kubelet_failures", STAT_COUNTER, st.failures,
	   "kubelet pod list requests that failed", ud);
	fn("services", STAT_GAUGE, st.n_services,
	   "Kubernetes Services known (API server list)", ud);
	fn("services_fetches", STAT_COUNTER, st.services_fetches,
	   "API server Services list requests completed", ud);
}

static int identify(struct stage_k8s *k, const char *path,
		    struct cgroup_identity *ret)
{
	if (strcmp(path, k->last_path) != 0 || k->last_ret < 0) {
		k->last_ret = cgroup_parse_path(path, strlen(path), &k->last_id);
		strscpy(k->last_path, path, sizeof(k->last_path));
	}
	*ret = k->last_id;
	return k->last_ret;
}

static int k8s_enrich(struct stage *st, uint32_t pid,
		      const struct sock_record *rec, struct flow_owner *o)
{
	struct stage_k8s *k = (struct stage_k8s *)st;
	struct cgroup_identity id;
	int r = -1;

	(void)pid;
	if (o->cgroup && *o->cgroup)
		r = identify(k, o->cgroup, &id);
	/* The socket's own cgroup: for owners whose /proc entry is gone
	 * (streaming) or not readable. */
	if (r <= 0 && rec->cgroup_id && k->cgfs) {
		const char *path;
		if (cgroupfs_lookup(k->cgfs, rec->cgroup_id,
				    now_monotonic_ms(), &path) == 0) {
			if (!o->cgroup)
				o->cgroup = path;
			r = identify(k, path, &id);
		}
	}
	if (r <= 0)
		return 0;
	if (id.container_id[0])
		o->container_id = k->last_id.container_id;
	if (!k->pods || (!id.container_id[0] && !id.pod_uid[0]))
		return 0;
	if (pod_watch_find(k->pods, id.container_id, id.pod_uid, &k->match) <
	    0)
		return 0;
	struct pod_match *m = &k->match;
	if (m->container_name[0])
		o->container_name = m->container_name;
	o->pod_namespace = m->namespace;
	o->pod_name = m->name;
	o->pod_uid = m->uid;
	if (m->node[0])
		o->node = m->node;
	else if (!o->node)
		o->node = k->node_name;
	return 0;
}
