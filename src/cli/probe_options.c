// SPDX-License-Identifier: MIT
/*
 * The options of `shawk probe`, each declared once: its flag, its
 * environment variable, its default, how its value is checked and its
 * line in --help all come from one row of probe_options[].
 */
#include "cli/probe_options.h"

#include "core/util.h"
#include "http/http.h"

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum opt_type {
	OPT_STR,       /* the value as is */
	OPT_SWITCH,    /* flag without a value sets true; env: true or false */
	OPT_DURATION,  /* 500ms, 1s, ...; positive */
	OPT_COUNT,     /* integer from 1 to MAX_FLOWS_LIMIT */
	OPT_MODE,      /* enum probe_mode */
	OPT_BACKEND,   /* enum poll_backend */
	OPT_OUTPUT,    /* enum output_format */
	OPT_LOG_LEVEL, /* int, enum log_level */
	OPT_ENV_IS,    /* env only: true when the variable equals `is` */
	OPT_ONOFF,     /* on or off: a bool */
};

struct probe_option {
	const char *flag; /* without "--"; NULL: environment only */
	const char *env;  /* NULL: flag only */
	enum opt_type type;
	size_t off;	  /* of the field in struct probe_config */
	const char *def;  /* default, parsed like a value; NULL: none */
	const char *arg;  /* the value's name in --help */
	/* --help text; NULL: not listed (for tests). For OPT_ENV_IS, the
	 * value that sets the field (NULL: any, even empty). */
	const char *help;
	const char *is;
	/* The environment as is: an empty variable counts as set. */
	bool raw_env;
};

#define MAX_FLOWS_LIMIT (64ULL << 20)
#define F(field) offsetof(struct probe_config, field)

static const struct probe_option probe_options[] = {
	{ "cmdb", "SHAWK_CMDB_URL", OPT_STR, F(cmdb_url), NULL, "URL",
	  "PostgreSQL URI of the CMDB", NULL, false },
	{ "mode", "SHAWK_PROBE_MODE", OPT_MODE, F(mode), "auto", "MODE",
	  "polling, streaming or auto (auto: streaming when BPF works)", NULL,
	  false },
	{ "interval", "SHAWK_PROBE_INTERVAL", OPT_DURATION, F(interval_ms),
	  "1s", "D", "time between socket scans, e.g. 500ms, 1s", NULL,
	  false },
	{ "flush-interval", "SHAWK_FLUSH_INTERVAL", OPT_DURATION,
	  F(flush_interval_ms), "10s", "D",
	  "time between writes of aggregated flows", NULL, false },
	{ "once", NULL, OPT_SWITCH, F(once), NULL, NULL,
	  "scan once, print the flows (text unless --output) and exit; "
	  "with --cmdb or --output cmdb, write them to the CMDB instead",
	  NULL, false },
	{ "output", NULL, OPT_OUTPUT, F(output), NULL, "FORMAT",
	  "text, json or none: print flows instead of writing to the CMDB; "
	  "cmdb: write (the default without --once); also -o FORMAT",
	  NULL, false },
	{ "include-loopback", "SHAWK_INCLUDE_LOOPBACK", OPT_SWITCH,
	  F(include_loopback), NULL, NULL,
	  "also write flows over loopback to the CMDB", NULL, false },
	{ "max-flows", "SHAWK_MAX_FLOWS", OPT_COUNT, F(max_flows), "1048576",
	  "N", "flows kept per interval", NULL, false },
	{ "max-pending-flows", "SHAWK_MAX_PENDING_FLOWS", OPT_COUNT,
	  F(max_pending_flows), "1048576", "N",
	  "flows buffered while the CMDB is down", NULL, false },
	{ "conntrack", "SHAWK_CONNTRACK", OPT_ONOFF, F(conntrack), "on",
	  "on|off",
	  "resolve Service addresses (DNAT) to the backend reached and "
	  "source-NATed peers to the original client, from conntrack",
	  NULL, false },
	{ "metrics-listen", "SHAWK_METRICS_LISTEN", OPT_STR, F(metrics_listen),
	  NULL, "ADDR:PORT",
	  "serve /metrics (Prometheus) and /healthz there, e.g. "
	  "127.0.0.1:9464 or [::1]:9464 (default: off)",
	  NULL, false },
	{ "metrics-max-series", "SHAWK_METRICS_MAX_SERIES", OPT_COUNT,
	  F(metrics_max_series), "10000", "N",
	  "series of shawk_connections_total at most; connections of "
	  "further series are counted as dropped",
	  NULL, false },
	{ "health-stall", "SHAWK_HEALTH_STALL", OPT_DURATION,
	  F(health_stall_ms), "30s", "D",
	  "/healthz answers 503 when no scan completed for --interval plus "
	  "this, or a flush has been running this long",
	  NULL, false },
	{ "log-level", "SHAWK_LOG_LEVEL", OPT_LOG_LEVEL, F(log_level), "info",
	  "LEVEL", "error, warn, info or debug", NULL, false },
	{ "host-proc", "SHAWK_HOST_PROC", OPT_STR, F(host_proc), "/proc",
	  "DIR", "procfs of the host", NULL, false },
	{ "cgroup-root", "SHAWK_CGROUP_ROOT", OPT_STR, F(cgroup_root),
	  "/sys/fs/cgroup", "DIR", "cgroup filesystem root", NULL, false },
	{ "kubelet-url", "SHAWK_KUBELET_URL", OPT_STR, F(kubelet_url), NULL,
	  "URL", "kubelet API (in a pod: https://$NODE_IP:10250)", NULL,
	  false },
	{ "kubelet-insecure", "SHAWK_KUBELET_INSECURE", OPT_SWITCH,
	  F(kubelet_insecure), NULL, NULL, "skip kubelet TLS verification",
	  NULL, false },
	{ "apiserver-url", "SHAWK_APISERVER_URL", OPT_STR, F(apiserver_url),
	  NULL, "URL",
	  "API server for Service names (in a pod: from "
	  "KUBERNETES_SERVICE_HOST and _PORT)",
	  NULL, false },
	{ "node-name", "SHAWK_NODE_NAME", OPT_STR, F(node_name), NULL, "NAME",
	  "this node's name (default: hostname)", NULL, false },
	/* For tests: where named network namespaces live. */
	{ "netns-dir", NULL, OPT_STR, F(run_netns_dir), "/run/netns", "DIR",
	  NULL, NULL, false },
	/* Environment only. */
	{ NULL, "SHAWK_POLL_BACKEND", OPT_BACKEND, F(poll_backend), "auto",
	  NULL, "auto, bpf-iter or sockdiag: how polling reads sockets", NULL,
	  false },
	{ NULL, "SHAWK_POLL_SKIP_UNCHANGED", OPT_SWITCH,
	  F(poll_skip_unchanged), "true", NULL,
	  "polling reuses a netns whose socket counters did not move", NULL,
	  false },
	{ NULL, "SHAWK_KUBELET_TOKEN_FILE", OPT_STR, F(kubelet_token_file),
	  "/var/run/secrets/kubernetes.io/serviceaccount/token", NULL,
	  "bearer token for the kubelet and the API server", NULL, false },
	{ NULL, "SHAWK_KUBELET_CA_FILE", OPT_STR, F(kubelet_ca_file),
	  "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", NULL,
	  "CA of the kubelet's certificate", NULL, false },
	{ NULL, "SHAWK_KUBELET_REFRESH", OPT_STR, F(kubelet_refresh), NULL,
	  NULL, "period of the pod list refresh (default 30s)", NULL, false },
	{ NULL, "SHAWK_APISERVER_CA_FILE", OPT_STR, F(apiserver_ca_file),
	  "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", NULL,
	  "CA of the API server's certificate", NULL, false },
	{ NULL, "SHAWK_SERVICES_REFRESH", OPT_STR, F(services_refresh), NULL,
	  NULL, "period of the Services list refresh (default 60s)", NULL,
	  false },
	{ NULL, "KUBERNETES_SERVICE_HOST", OPT_STR, F(kube_service_host), NULL,
	  NULL, "the API server's address in a pod (the default of "
	  "--apiserver-url)", NULL, true },
	{ NULL, "KUBERNETES_SERVICE_PORT", OPT_STR, F(kube_service_port), NULL,
	  NULL, "the API server's port in a pod", NULL, true },
	{ NULL, "SHAWK_HEARTBEAT_FILE", OPT_STR, F(heartbeat_file), NULL, NULL,
	  "touched after every scan, for `shawk health`", NULL, false },
	{ NULL, "NODE_IP", OPT_STR, F(node_ip), NULL, NULL,
	  "the node's address (the kubelet URL's default)", NULL, true },
	{ NULL, "SHAWK_BPF_CLASSIC", OPT_ENV_IS, F(bpf_classic), NULL, NULL,
	  "1: streaming uses sockops and the classic tracepoint", "1", false },
	{ NULL, "SHAWK_BPF_AGGREGATE", OPT_ENV_IS, F(bpf_no_aggregate), NULL,
	  NULL, "0: streaming reports every TCP connection as an event", "0",
	  false },
	{ NULL, "SHAWK_BPF_VERBOSE", OPT_ENV_IS, F(bpf_verbose), NULL, NULL,
	  "set: libbpf's warnings and verifier logs on stderr", NULL, true },
	/* Tests: comma list of BPF programs to switch off as if refused. */
	{ NULL, "SHAWK_BPF_DENY", OPT_STR, F(bpf_deny), NULL, NULL, NULL,
	  NULL, false },
};

#undef F

/* Sets o's field from value; what names the flag or variable. */
static int opt_set(const struct probe_option *o, struct probe_config *cfg,
		   const char *what, const char *value, char *err)
{
	void *p = (char *)cfg + o->off;
	switch (o->type) {
	case OPT_STR:
		*(const char **)p = value;
		return 0;
	case OPT_SWITCH:
		/* A flag takes no value: its presence says true. */
		if (!value) {
			*(bool *)p = true;
			return 0;
		}
		return config_parse_bool(what, value, p, err);
	case OPT_DURATION:
		return config_parse_duration(what, value, false, p, err);
	case OPT_COUNT:
		return config_parse_uint(what, value, 1, MAX_FLOWS_LIMIT, p,
					 err);
	case OPT_MODE:
		return config_parse_mode(what, value, p, err);
	case OPT_BACKEND:
		return config_parse_poll_backend(what, value, p, err);
	case OPT_OUTPUT:
		return config_parse_output(what, value, p, err);
	case OPT_LOG_LEVEL:
		return config_parse_log_level(what, value, p, err);
	case OPT_ENV_IS:
		*(bool *)p = !o->is || strcmp(value, o->is) == 0;
		return 0;
	case OPT_ONOFF:
		if (strcmp(value, "on") == 0 || strcmp(value, "off") == 0) {
			*(bool *)p = value[1] == 'n';
			return 0;
		}
		return config_error(err, "invalid %s '%s': expected on or off",
				    what, value);
	}
	return -EINVAL;
}

static int apply_defaults(struct probe_config *cfg, char *err)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++) {
		const struct probe_option *o = &probe_options[i];
		int r;
		if (o->def && (r = opt_set(o, cfg, "default", o->def, err)) < 0)
			return r;
	}
	return 0;
}

static int apply_env(struct probe_config *cfg, char *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++) {
		const struct probe_option *o = &probe_options[i];
		const char *v = o->env ? getenv(o->env) : NULL;
		int r;
		/* An empty variable counts as unset. */
		if (!v || (!*v && !o->raw_env))
			continue;
		if ((r = opt_set(o, cfg, o->env, v, err)) < 0)
			return r;
	}
	return 0;
}

/* Reports an unknown or malformed option the way every subcommand does. */
static int bad_option(char **argv, int idx, int opt, char *err)
{
	const char *arg = idx > 0 ? argv[idx - 1] : "?";
	if (opt == ':')
		return config_error(err, "option '%s' needs a value", arg);
	/* A long option given a value it does not take ("--once=yes"):
	 * getopt_long sets optopt to its val, which is >= 256 here. */
	if (optopt >= 256)
		return config_error(err, "option '%.*s' takes no value",
			    (int)strcspn(arg, "="), arg);
	if (optopt && optopt != '?')
		return config_error(err, "unknown option '-%c'", optopt);
	return config_error(err, "unknown option '%s'", arg);
}

/* getopt_long's table: val is 256 + the row in probe_options[]. */
static void build_longopts(struct option *lo)
{
	size_t n = 0;
	for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++) {
		const struct probe_option *o = &probe_options[i];
		if (!o->flag)
			continue;
		lo[n++] = (struct option){
			.name = o->flag,
			.has_arg = o->type == OPT_SWITCH ? no_argument
							 : required_argument,
			.val = 256 + (int)i,
		};
	}
	lo[n++] = (struct option){ .name = "help", .val = 'h' };
	lo[n] = (struct option){ 0 };
}

static int apply_flags(int argc, char **argv, struct probe_config *cfg,
		       char *err)
{
	struct option lo[ARRAY_SIZE(probe_options) + 2];
	char what[64];
	int c, r;

	build_longopts(lo);
	/* 0, not 1: also resets glibc's position inside a cluster of short
	 * options ("-hx" returns after 'h'), so a second parse starts clean. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", lo, NULL)) != -1) {
		if (c == 'h') {
			cfg->help = true;
			return 0;
		}
		if (c == 'o') /* -o: --output */
			for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++)
				if (probe_options[i].flag &&
				    !strcmp(probe_options[i].flag, "output"))
					c = 256 + (int)i;
		if (c < 256 || c >= 256 + (int)ARRAY_SIZE(probe_options))
			return bad_option(argv, optind, c, err);
		const struct probe_option *o = &probe_options[c - 256];
		snprintf(what, sizeof(what), "--%s", o->flag);
		if ((r = opt_set(o, cfg, what, optarg, err)) < 0)
			return r;
		if (o->off == offsetof(struct probe_config, cmdb_url))
			cfg->cmdb_flag = true;
	}
	if (optind < argc)
		return config_error(err, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* What no single option can check. */
static int check(struct probe_config *cfg, char *err)
{
	if (cfg->interval_ms > cfg->flush_interval_ms)
		return config_error(err,
			    "invalid --interval/SHAWK_PROBE_INTERVAL: the scan "
			    "interval (%lldms) must not exceed "
			    "--flush-interval/SHAWK_FLUSH_INTERVAL (%lldms)",
			    (long long)cfg->interval_ms,
			    (long long)cfg->flush_interval_ms);
	bool to_cmdb = cfg->output == OUTPUT_CMDB;
	if (to_cmdb && !cfg->cmdb_url)
		return config_error(err, "--output cmdb: no CMDB: set --cmdb or "
				 "SHAWK_CMDB_URL");
	if (to_cmdb)
		cfg->output = OUTPUT_UNSET;
	if (!cfg->once && cfg->output == OUTPUT_UNSET && !cfg->cmdb_url)
		return config_error(err, "no CMDB: set --cmdb or SHAWK_CMDB_URL, or "
				 "use --output text|json|none");
	/* --once prints unless told to write: SHAWK_CMDB_URL alone (set for
	 * look and serve) does not make a one-off scan write. */
	if (cfg->once && cfg->output == OUTPUT_UNSET && !to_cmdb &&
	    !cfg->cmdb_flag)
		cfg->output = OUTPUT_TEXT;
	struct sockaddr_storage ss;
	socklen_t sl;
	if (cfg->metrics_listen &&
	    http_listen_parse(cfg->metrics_listen, &ss, &sl) < 0)
		return config_error(err,
			    "invalid --metrics-listen/SHAWK_METRICS_LISTEN '%s': "
			    "expected ADDR:PORT, [IPV6]:PORT or :PORT",
			    cfg->metrics_listen);
	return 0;
}

int probe_config_parse(int argc, char **argv, struct probe_config *cfg,
		       char *err)
{
	int r;
	if ((r = apply_defaults(cfg, err)) < 0 || (r = apply_env(cfg, err)) < 0 ||
	    (r = apply_flags(argc, argv, cfg, err)) < 0)
		return r;
	return cfg->help ? 0 : check(cfg, err);
}

/* ---- --help ------------------------------------------------------------ */

#define HELP_COL 25
#define HELP_WIDTH 76

struct text {
	char *buf;
	size_t len, size;
	size_t col; /* of the current line */
};

static void put(struct text *t, const char *s, size_t n)
{
	for (size_t i = 0; i < n && t->len + 1 < t->size; i++) {
		t->buf[t->len++] = s[i];
		t->col = s[i] == '\n' ? 0 : t->col + 1;
	}
	t->buf[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

/* Words of s from column HELP_COL, wrapped at HELP_WIDTH. */
static void put_wrapped(struct text *t, const char *s)
{
	while (*s) {
		size_t w = strcspn(s, " ");
		if (t->col > HELP_COL && t->col + 1 + w > HELP_WIDTH)
			puts_(t, "\n");
		while (t->col < HELP_COL)
			puts_(t, " ");
		if (t->col > HELP_COL)
			puts_(t, " ");
		put(t, s, w);
		s += w;
		s += strspn(s, " ");
	}
}

static void put_option(struct text *t, const struct probe_option *o)
{
	char head[64], tail[160] = "";
	snprintf(head, sizeof(head), "  --%s%s%s", o->flag,
		 o->arg ? " " : "", o->arg ? o->arg : "");
	puts_(t, head);
	if (t->col + 1 > HELP_COL)
		puts_(t, "\n");
	put_wrapped(t, o->help);
	if (o->env && o->def && o->type != OPT_SWITCH)
		snprintf(tail, sizeof(tail), "[%s] (default %s)", o->env,
			 o->def);
	else if (o->env)
		snprintf(tail, sizeof(tail), "[%s]", o->env);
	if (*tail)
		put_wrapped(t, tail);
	puts_(t, "\n");
}

const char *probe_usage(void)
{
	static char buf[8192];
	struct text t = { .buf = buf, .size = sizeof(buf) };

	if (buf[0])
		return buf;
	puts_(&t, "Usage: shawk probe [OPTIONS]\n"
		  "\n"
		  "Trace TCP and UDP sockets of every network namespace on "
		  "this host,\naggregate them into flows between processes "
		  "and write them to the\nCMDB (or print them with "
		  "--output).\n"
		  "\n"
		  "Options (flags override the environment variable in "
		  "brackets):\n");
	for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++)
		if (probe_options[i].flag && probe_options[i].help)
			put_option(&t, &probe_options[i]);
	puts_(&t, "  -h, --help             show this help\n"
		  "\n"
		  "Environment only:\n");
	for (size_t i = 0; i < ARRAY_SIZE(probe_options); i++) {
		const struct probe_option *o = &probe_options[i];
		if (o->flag || !o->help)
			continue;
		char tail[160];
		puts_(&t, "  ");
		puts_(&t, o->env);
		if (t.col + 1 > HELP_COL)
			puts_(&t, "\n");
		put_wrapped(&t, o->help);
		if (o->def) {
			snprintf(tail, sizeof(tail), "(default %s)", o->def);
			put_wrapped(&t, tail);
		}
		puts_(&t, "\n");
	}
	return buf;
}
