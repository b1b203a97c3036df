// SPDX-License-Identifier: MIT
#include "core/config.h"

#include "core/duration.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

static int fail(char *err, const char *fmt, ...) _printf_(2, 3);
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, CONFIG_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int config_parse_duration(const char *what, const char *value,
			  bool allow_zero, int64_t *ret_ms, char *err)
{
	int64_t ms;
	if (duration_parse_ms(value, &ms) < 0 || (!allow_zero && ms == 0))
		return fail(err,
			    "invalid %s '%s': expected a %sduration such as "
			    "500ms, 1s, 10m, 2h or 1d",
			    what, value, allow_zero ? "" : "positive ");
	*ret_ms = ms;
	return 0;
}

int config_parse_bool(const char *what, const char *value, bool *ret,
		      char *err)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcasecmp(value, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (strcasecmp(value, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	return fail(err, "invalid %s '%s': expected true or false", what,
		    value);
}

int config_parse_uint(const char *what, const char *value, uint64_t min,
		      uint64_t max, uint64_t *ret, char *err)
{
	char *end;
	errno = 0;
	/* strtoull skips blanks and takes a sign: " -1" would wrap. */
	if (!isdigit((unsigned char)*value))
		goto bad;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	return fail(err, "invalid %s '%s': expected an integer from %llu to %llu",
		    what, value, (unsigned long long)min,
		    (unsigned long long)max);
}

static const char *const mode_names[] = {
	[PROBE_MODE_AUTO] = "auto",
	[PROBE_MODE_POLLING] = "polling",
	[PROBE_MODE_STREAMING] = "streaming",
};

const char *probe_mode_name(enum probe_mode m)
{
	return mode_names[m];
}

int config_parse_mode(const char *what, const char *value,
		      enum probe_mode *ret, char *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(value, mode_names[i]) == 0) {
			*ret = (enum probe_mode)i;
			return 0;
		}
	return fail(err,
		    "invalid %s '%s': expected polling, streaming or auto",
		    what, value);
}

static const char *const backend_names[] = {
	[POLL_BACKEND_AUTO] = "auto",
	[POLL_BACKEND_BPF_ITER] = "bpf-iter",
	[POLL_BACKEND_SOCKDIAG] = "sockdiag",
};

const char *poll_backend_name(enum poll_backend b)
{
	return (size_t)b < ARRAY_SIZE(backend_names) ? backend_names[b] : "?";
}

int config_parse_poll_backend(const char *what, const char *value,
			      enum poll_backend *ret, char *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(backend_names); i++)
		if (strcmp(value, backend_names[i]) == 0) {
			*ret = (enum poll_backend)i;
			return 0;
		}
	return fail(err,
		    "invalid %s '%s': expected auto, bpf-iter or sockdiag",
		    what, value);
}

int config_parse_output(const char *what, const char *value,
			enum output_format *ret, char *err)
{
	static const struct {
		const char *name;
		enum output_format f;
	} outs[] = { { "none", OUTPUT_NONE },
		     { "text", OUTPUT_TEXT },
		     { "json", OUTPUT_JSON } };
	for (size_t i = 0; i < ARRAY_SIZE(outs); i++)
		if (strcmp(value, outs[i].name) == 0) {
			*ret = outs[i].f;
			return 0;
		}
	return fail(err, "invalid %s '%s': expected text, json or none", what,
		    value);
}

const char probe_usage[] =
	"Usage: shawk probe [OPTIONS]\n"
	"\n"
	"Trace TCP and UDP sockets of every network namespace on this host,\n"
	"aggregate them into flows between processes and write them to the\n"
	"CMDB (or print them with --output).\n"
	"\n"
	"Options (flags override the environment variable in brackets):\n"
	"  --cmdb URL             PostgreSQL URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  --mode MODE            polling, streaming or auto [SHAWK_PROBE_MODE]\n"
	"                         (default auto: streaming when BPF works)\n"
	"  --interval D           time between socket scans, e.g. 500ms, 1s\n"
	"                         [SHAWK_PROBE_INTERVAL] (default 1s)\n"
	"  --flush-interval D     time between writes of aggregated flows\n"
	"                         [SHAWK_FLUSH_INTERVAL] (default 10s)\n"
	"  --once                 scan once, print the flows and exit\n"
	"  --output FORMAT        text, json or none: print flows instead of\n"
	"                         writing to the CMDB\n"
	"  --include-loopback     also write flows over loopback to the CMDB\n"
	"                         [SHAWK_INCLUDE_LOOPBACK]\n"
	"  --max-flows N          flows kept per interval [SHAWK_MAX_FLOWS]\n"
	"                         (default 1048576)\n"
	"  --max-pending-flows N  flows buffered while the CMDB is down\n"
	"                         [SHAWK_MAX_PENDING_FLOWS] (default 1048576)\n"
	"  --log-level LEVEL      error, warn, info or debug [SHAWK_LOG_LEVEL]\n"
	"  --host-proc DIR        procfs of the host [SHAWK_HOST_PROC]\n"
	"                         (default /proc)\n"
	"  --cgroup-root DIR      cgroup filesystem root [SHAWK_CGROUP_ROOT]\n"
	"                         (default /sys/fs/cgroup)\n"
	"  --kubelet-url URL      kubelet API [SHAWK_KUBELET_URL]\n"
	"                         (in a pod: https://$NODE_IP:10250)\n"
	"  --kubelet-insecure     skip kubelet TLS verification\n"
	"                         [SHAWK_KUBELET_INSECURE]\n"
	"  --node-name NAME       this node's name [SHAWK_NODE_NAME]\n"
	"                         (default: hostname)\n"
	"  -h, --help             show this help\n"
	"\n"
	"Also read: SHAWK_KUBELET_TOKEN_FILE, SHAWK_KUBELET_CA_FILE, and\n"
	"SHAWK_HEARTBEAT_FILE (touched after every scan, for `shawk health`).\n";

enum {
	OPT_CMDB = 256,
	OPT_MODE,
	OPT_INTERVAL,
	OPT_FLUSH,
	OPT_ONCE,
	OPT_OUTPUT,
	OPT_LOOPBACK,
	OPT_MAX_FLOWS,
	OPT_MAX_PENDING,
	OPT_LOG_LEVEL,
	OPT_HOST_PROC,
	OPT_CGROUP_ROOT,
	OPT_KUBELET_URL,
	OPT_KUBELET_INSECURE,
	OPT_NODE_NAME,
	OPT_NETNS_DIR,
};

static const struct option probe_options[] = {
	{ "cmdb", required_argument, NULL, OPT_CMDB },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "flush-interval", required_argument, NULL, OPT_FLUSH },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "include-loopback", no_argument, NULL, OPT_LOOPBACK },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "max-pending-flows", required_argument, NULL, OPT_MAX_PENDING },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "host-proc", required_argument, NULL, OPT_HOST_PROC },
	{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
	{ "kubelet-url", required_argument, NULL, OPT_KUBELET_URL },
	{ "kubelet-insecure", no_argument, NULL, OPT_KUBELET_INSECURE },
	{ "node-name", required_argument, NULL, OPT_NODE_NAME },
	/* For tests: where named network namespaces live. */
	{ "netns-dir", required_argument, NULL, OPT_NETNS_DIR },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* Reports an unknown or malformed option the way every subcommand does. */
static int bad_option(char **argv, int idx, int opt, char *err)
{
	const char *arg = idx > 0 ? argv[idx - 1] : "?";
	if (opt == ':')
		return fail(err, "option '%s' needs a value", arg);
	/* A long option given a value it does not take ("--once=yes"):
	 * getopt_long sets optopt to its val, which is >= 256 here. */
	if (optopt >= 256)
		return fail(err, "option '%.*s' takes no value",
			    (int)strcspn(arg, "="), arg);
	if (optopt && optopt != '?')
		return fail(err, "unknown option '-%c'", optopt);
	return fail(err, "unknown option '%s'", arg);
}

#define MAX_FLOWS_LIMIT (64ULL << 20)

int probe_config_parse(int argc, char **argv, struct probe_config *cfg,
		       char *err)
{
	const char *v;
	int r;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = PROBE_MODE_AUTO;
	cfg->interval_ms = 1000;
	cfg->flush_interval_ms = 10000;
	cfg->log_level = LOG_INFO;
	cfg->host_proc = "/proc";
	cfg->cgroup_root = "/sys/fs/cgroup";
	cfg->kubelet_token_file =
		"/var/run/secrets/kubernetes.io/serviceaccount/token";
	cfg->kubelet_ca_file =
		"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
	cfg->run_netns_dir = "/run/netns";
	cfg->max_flows = 1u << 20;
	cfg->max_pending_flows = 1u << 20;
	cfg->poll_skip_unchanged = true;

	/* Environment first... */
	cfg->cmdb_url = env("SHAWK_CMDB_URL");
	if ((v = env("SHAWK_PROBE_MODE")) &&
	    (r = config_parse_mode("SHAWK_PROBE_MODE", v, &cfg->mode, err)) < 0)
		return r;
	if ((v = env("SHAWK_POLL_BACKEND")) &&
	    (r = config_parse_poll_backend("SHAWK_POLL_BACKEND", v,
					   &cfg->poll_backend, err)) < 0)
		return r;
	if ((v = env("SHAWK_PROBE_INTERVAL")) &&
	    (r = config_parse_duration("SHAWK_PROBE_INTERVAL", v, false,
				       &cfg->interval_ms, err)) < 0)
		return r;
	if ((v = env("SHAWK_FLUSH_INTERVAL")) &&
	    (r = config_parse_duration("SHAWK_FLUSH_INTERVAL", v, false,
				       &cfg->flush_interval_ms, err)) < 0)
		return r;
	if ((v = env("SHAWK_LOG_LEVEL"))) {
		cfg->log_level = log_level_parse(v);
		if (cfg->log_level < 0)
			return fail(err,
				    "invalid SHAWK_LOG_LEVEL '%s': expected "
				    "error, warn, info or debug",
				    v);
	}
	if ((v = env("SHAWK_HOST_PROC")))
		cfg->host_proc = v;
	if ((v = env("SHAWK_CGROUP_ROOT")))
		cfg->cgroup_root = v;
	cfg->kubelet_url = env("SHAWK_KUBELET_URL");
	if ((v = env("SHAWK_KUBELET_TOKEN_FILE")))
		cfg->kubelet_token_file = v;
	if ((v = env("SHAWK_KUBELET_CA_FILE")))
		cfg->kubelet_ca_file = v;
	if ((v = env("SHAWK_KUBELET_INSECURE")) &&
	    (r = config_parse_bool("SHAWK_KUBELET_INSECURE", v,
				   &cfg->kubelet_insecure, err)) < 0)
		return r;
	cfg->node_name = env("SHAWK_NODE_NAME");
	cfg->heartbeat_file = env("SHAWK_HEARTBEAT_FILE");
	/* Read by the agent's stages and sources, never by library code. */
	cfg->node_ip = getenv("NODE_IP");
	cfg->kubelet_refresh = getenv("SHAWK_KUBELET_REFRESH");
	cfg->bpf_verbose = getenv("SHAWK_BPF_VERBOSE") != NULL;
	cfg->bpf_classic = (v = getenv("SHAWK_BPF_CLASSIC")) && !strcmp(v, "1");
	cfg->bpf_no_aggregate =
		(v = getenv("SHAWK_BPF_AGGREGATE")) && !strcmp(v, "0");
	if ((v = env("SHAWK_INCLUDE_LOOPBACK")) &&
	    (r = config_parse_bool("SHAWK_INCLUDE_LOOPBACK", v,
				   &cfg->include_loopback, err)) < 0)
		return r;
	if ((v = env("SHAWK_POLL_SKIP_UNCHANGED")) &&
	    (r = config_parse_bool("SHAWK_POLL_SKIP_UNCHANGED", v,
				   &cfg->poll_skip_unchanged, err)) < 0)
		return r;
	if ((v = env("SHAWK_MAX_FLOWS")) &&
	    (r = config_parse_uint("SHAWK_MAX_FLOWS", v, 1, MAX_FLOWS_LIMIT,
				   &cfg->max_flows, err)) < 0)
		return r;
	if ((v = env("SHAWK_MAX_PENDING_FLOWS")) &&
	    (r = config_parse_uint("SHAWK_MAX_PENDING_FLOWS", v, 1,
				   MAX_FLOWS_LIMIT, &cfg->max_pending_flows,
				   err)) < 0)
		return r;

	/* ...then flags. */
	/* 0, not 1: also resets glibc's position inside a cluster of short
	 * options ("-hx" returns after 'h'), so a second parse starts clean. */
	optind = 0;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":h", probe_options, NULL)) != -1) {
		switch (c) {
		case OPT_CMDB:
			cfg->cmdb_url = optarg;
			break;
		case OPT_MODE:
			if ((r = config_parse_mode("--mode", optarg,
						   &cfg->mode, err)) < 0)
				return r;
			break;
		case OPT_INTERVAL:
			if ((r = config_parse_duration("--interval", optarg,
						       false, &cfg->interval_ms,
						       err)) < 0)
				return r;
			break;
		case OPT_FLUSH:
			if ((r = config_parse_duration(
				     "--flush-interval", optarg, false,
				     &cfg->flush_interval_ms, err)) < 0)
				return r;
			break;
		case OPT_ONCE:
			cfg->once = true;
			break;
		case OPT_OUTPUT:
			if ((r = config_parse_output("--output", optarg,
						     &cfg->output, err)) < 0)
				return r;
			break;
		case OPT_LOOPBACK:
			cfg->include_loopback = true;
			break;
		case OPT_MAX_FLOWS:
			if ((r = config_parse_uint("--max-flows", optarg, 1,
						   MAX_FLOWS_LIMIT,
						   &cfg->max_flows, err)) < 0)
				return r;
			break;
		case OPT_MAX_PENDING:
			if ((r = config_parse_uint("--max-pending-flows",
						   optarg, 1, MAX_FLOWS_LIMIT,
						   &cfg->max_pending_flows,
						   err)) < 0)
				return r;
			break;
		case OPT_LOG_LEVEL:
			cfg->log_level = log_level_parse(optarg);
			if (cfg->log_level < 0)
				return fail(err,
					    "invalid --log-level '%s': expected "
					    "error, warn, info or debug",
					    optarg);
			break;
		case OPT_HOST_PROC:
			cfg->host_proc = optarg;
			break;
		case OPT_CGROUP_ROOT:
			cfg->cgroup_root = optarg;
			break;
		case OPT_KUBELET_URL:
			cfg->kubelet_url = optarg;
			break;
		case OPT_KUBELET_INSECURE:
			cfg->kubelet_insecure = true;
			break;
		case OPT_NODE_NAME:
			cfg->node_name = optarg;
			break;
		case OPT_NETNS_DIR:
			cfg->run_netns_dir = optarg;
			break;
		case 'h':
			cfg->help = true;
			return 0;
		default:
			return bad_option(argv, optind, c, err);
		}
	}
	if (optind < argc)
		return fail(err, "unexpected argument '%s'", argv[optind]);

	if (cfg->interval_ms > cfg->flush_interval_ms)
		return fail(err,
			    "invalid --interval/SHAWK_PROBE_INTERVAL: the scan "
			    "interval (%lldms) must not exceed "
			    "--flush-interval/SHAWK_FLUSH_INTERVAL (%lldms)",
			    (long long)cfg->interval_ms,
			    (long long)cfg->flush_interval_ms);
	if (!cfg->once && cfg->output == OUTPUT_UNSET && !cfg->cmdb_url)
		return fail(err, "no CMDB: set --cmdb or SHAWK_CMDB_URL, or "
				 "use --output text|json|none");
	if (cfg->once && cfg->output == OUTPUT_UNSET && !cfg->cmdb_url)
		cfg->output = OUTPUT_TEXT;
	return 0;
}
