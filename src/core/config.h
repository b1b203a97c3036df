/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_CONFIG_H
#define SHAWK_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of the buffer that receives a one-line configuration error. */
#define CONFIG_ERR_MAX 256

enum probe_mode {
	PROBE_MODE_AUTO = 0,
	PROBE_MODE_POLLING,
	PROBE_MODE_STREAMING,
};

/* How polling reads the socket table (SHAWK_POLL_BACKEND). */
enum poll_backend {
	POLL_BACKEND_AUTO = 0, /* BPF iterators when they load, else sockdiag */
	POLL_BACKEND_BPF_ITER,
	POLL_BACKEND_SOCKDIAG,
};

enum output_format {
	OUTPUT_UNSET = 0, /* write to the CMDB */
	OUTPUT_NONE,
	OUTPUT_TEXT,
	OUTPUT_JSON,
	OUTPUT_CMDB, /* --output cmdb: parsed, then OUTPUT_UNSET */
};

struct probe_config {
	const char *cmdb_url;
	enum probe_mode mode;
	enum poll_backend poll_backend;
	int64_t interval_ms;
	int64_t flush_interval_ms;
	int log_level;
	const char *host_proc;
	const char *cgroup_root;
	const char *kubelet_url;
	const char *kubelet_token_file;
	const char *kubelet_ca_file;
	bool kubelet_insecure;
	const char *node_name;
	const char *node_ip;	     /* NODE_IP: the kubelet URL's default */
	const char *kubelet_refresh; /* SHAWK_KUBELET_REFRESH, unparsed */
	/* The API server for the Services list: apiserver_url, else the
	 * in-cluster KUBERNETES_SERVICE_HOST / _PORT; the service account's
	 * token and CA (kubelet_token_file, kubelet_ca_file). */
	const char *apiserver_url;
	const char *kube_service_host;
	const char *kube_service_port;
	const char *apiserver_ca_file;
	const char *services_refresh; /* SHAWK_SERVICES_REFRESH, unparsed */
	bool bpf_verbose;	     /* SHAWK_BPF_VERBOSE set */
	const char *bpf_deny;	     /* SHAWK_BPF_DENY: programs refused on purpose (tests) */
	bool bpf_classic;	     /* SHAWK_BPF_CLASSIC=1 */
	bool bpf_no_aggregate;	     /* SHAWK_BPF_AGGREGATE=0 */
	const char *run_netns_dir;
	const char *heartbeat_file; /* touched after every scan; NULL: none */
	bool once;
	enum output_format output;
	bool include_loopback;
	bool poll_skip_unchanged; /* polling daemon: reuse unchanged netns */
	bool conntrack;		  /* the conntrack stage (--conntrack on) */
	uint64_t max_flows;
	uint64_t max_pending_flows;
	/* Endpoints /metrics and /healthz ("ADDR:PORT"); NULL: none. */
	const char *metrics_listen;
	uint64_t metrics_max_series; /* shawk_connections_total series */
	int64_t health_stall_ms;     /* /healthz: longest tolerated stall */
	bool cmdb_flag; /* --cmdb given (not only SHAWK_CMDB_URL) */
	bool help;
};

/*
 * The agent's configuration. cli/probe_options.c fills it from flags and
 * the environment; nothing below cli/ reads either.
 *
 * Option lookup helpers shared by all subcommands. Each returns 0 or
 * -EINVAL and then writes one line to err naming the flag or variable and
 * what it accepts. `what` is the flag ("--interval") or the variable name.
 */
int config_parse_duration(const char *what, const char *value,
			  bool allow_zero, int64_t *ret_ms, char *err);
int config_parse_bool(const char *what, const char *value, bool *ret,
		      char *err);
int config_parse_uint(const char *what, const char *value, uint64_t min,
		      uint64_t max, uint64_t *ret, char *err);
int config_parse_mode(const char *what, const char *value,
		      enum probe_mode *ret, char *err);
int config_parse_poll_backend(const char *what, const char *value,
			      enum poll_backend *ret, char *err);
int config_parse_output(const char *what, const char *value,
			enum output_format *ret, char *err);
/* error, warn, info or debug: an enum log_level. */
int config_parse_log_level(const char *what, const char *value, int *ret,
			   char *err);

/* Writes the one-line message to err (CONFIG_ERR_MAX); returns -EINVAL. */
int config_error(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

const char *probe_mode_name(enum probe_mode m);
const char *poll_backend_name(enum poll_backend b);

#endif
