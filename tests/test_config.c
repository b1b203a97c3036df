// SPDX-License-Identifier: MIT
#include "cli/probe_options.h"
#include "core/config.h"
#include "core/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *const shawk_env[] = {
	"SHAWK_CMDB_URL",	  "SHAWK_PROBE_MODE",
	"SHAWK_PROBE_INTERVAL",	  "SHAWK_FLUSH_INTERVAL",
	"SHAWK_LOG_LEVEL",	  "SHAWK_HOST_PROC",
	"SHAWK_CGROUP_ROOT",	  "SHAWK_KUBELET_URL",
	"SHAWK_KUBELET_TOKEN_FILE", "SHAWK_KUBELET_CA_FILE",
	"SHAWK_KUBELET_INSECURE", "SHAWK_NODE_NAME",
	"SHAWK_MAX_FLOWS",	  "SHAWK_MAX_PENDING_FLOWS",
	"SHAWK_APISERVER_URL",
};

/* Every test starts from an environment without SHAWK_* variables. */
static int clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(shawk_env) / sizeof(shawk_env[0]); i++)
		unsetenv(shawk_env[i]);
	return 0;
}

static int count_args(char **argv)
{
	int n = 0;
	while (argv[n])
		n++;
	return n;
}

/* Parses "probe ARGS..."; err is always NUL-terminated afterwards. */
#define PARSE(cfg, err, ...)                                                   \
	parse_argv((cfg), (err), (char *[]){ "probe", __VA_ARGS__ NULL })

static int parse_argv(struct probe_config *cfg, char *err, char **argv)
{
	memset(err, 0, CONFIG_ERR_MAX);
	return probe_config_parse(count_args(argv), argv, cfg, err);
}

/* A configuration error is one line naming what was wrong. */
static void assert_one_line(const char *err)
{
	size_t n = strlen(err);
	assert_true(n > 0);
	assert_true(n < CONFIG_ERR_MAX);
	assert_null(strchr(err, '\n'));
}

static void assert_mentions(const char *err, const char *what)
{
	if (!strstr(err, what)) {
		print_error("error '%s' does not mention '%s'\n", err, what);
		fail();
	}
}

static void test_defaults(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(PARSE(&cfg, err, "--cmdb", "postgres:///shawk", ), 0);
	assert_string_equal(cfg.cmdb_url, "postgres:///shawk");
	assert_int_equal(cfg.mode, PROBE_MODE_AUTO);
	assert_int_equal(cfg.interval_ms, 1000);
	assert_int_equal(cfg.flush_interval_ms, 10000);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_string_equal(cfg.host_proc, "/proc");
	assert_string_equal(cfg.cgroup_root, "/sys/fs/cgroup");
	assert_null(cfg.kubelet_url);
	assert_string_equal(
		cfg.kubelet_token_file,
		"/var/run/secrets/kubernetes.io/serviceaccount/token");
	assert_string_equal(
		cfg.kubelet_ca_file,
		"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	assert_false(cfg.kubelet_insecure);
	assert_null(cfg.node_name);
	assert_string_equal(cfg.run_netns_dir, "/run/netns");
	assert_false(cfg.once);
	assert_int_equal(cfg.output, OUTPUT_UNSET);
	assert_false(cfg.include_loopback);
	assert_int_equal(cfg.max_flows, 1u << 20);
	assert_int_equal(cfg.max_pending_flows, 1u << 20);
	assert_false(cfg.help);
	assert_string_equal(probe_mode_name(cfg.mode), "auto");
}

static void test_env(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	setenv("SHAWK_CMDB_URL", "postgres://env/db", 1);
	setenv("SHAWK_PROBE_MODE", "polling", 1);
	setenv("SHAWK_PROBE_INTERVAL", "500ms", 1);
	setenv("SHAWK_FLUSH_INTERVAL", "1m", 1);
	setenv("SHAWK_LOG_LEVEL", "debug", 1);
	setenv("SHAWK_HOST_PROC", "/host/proc", 1);
	setenv("SHAWK_CGROUP_ROOT", "/host/cgroup", 1);
	setenv("SHAWK_KUBELET_URL", "https://10.0.0.1:10250", 1);
	setenv("SHAWK_KUBELET_TOKEN_FILE", "/tok", 1);
	setenv("SHAWK_KUBELET_CA_FILE", "/ca", 1);
	setenv("SHAWK_KUBELET_INSECURE", "yes", 1);
	setenv("SHAWK_NODE_NAME", "n1", 1);
	setenv("SHAWK_MAX_FLOWS", "1000", 1);
	setenv("SHAWK_MAX_PENDING_FLOWS", "2000", 1);

	int r = PARSE(&cfg, err, );
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_string_equal(cfg.cmdb_url, "postgres://env/db");
	assert_int_equal(cfg.mode, PROBE_MODE_POLLING);
	assert_int_equal(cfg.interval_ms, 500);
	assert_int_equal(cfg.flush_interval_ms, 60000);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_string_equal(cfg.host_proc, "/host/proc");
	assert_string_equal(cfg.cgroup_root, "/host/cgroup");
	assert_string_equal(cfg.kubelet_url, "https://10.0.0.1:10250");
	assert_string_equal(cfg.kubelet_token_file, "/tok");
	assert_string_equal(cfg.kubelet_ca_file, "/ca");
	assert_true(cfg.kubelet_insecure);
	assert_string_equal(cfg.node_name, "n1");
	assert_int_equal(cfg.max_flows, 1000);
	assert_int_equal(cfg.max_pending_flows, 2000);

	/* An empty variable counts as unset. */
	setenv("SHAWK_PROBE_MODE", "", 1);
	setenv("SHAWK_HOST_PROC", "", 1);
	assert_int_equal(PARSE(&cfg, err, ), 0);
	assert_int_equal(cfg.mode, PROBE_MODE_AUTO);
	assert_string_equal(cfg.host_proc, "/proc");
}

static void test_flags_override_env(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	setenv("SHAWK_CMDB_URL", "postgres://env/db", 1);
	setenv("SHAWK_PROBE_MODE", "polling", 1);
	setenv("SHAWK_PROBE_INTERVAL", "5s", 1);
	setenv("SHAWK_FLUSH_INTERVAL", "1m", 1);
	setenv("SHAWK_LOG_LEVEL", "debug", 1);
	setenv("SHAWK_HOST_PROC", "/host/proc", 1);
	setenv("SHAWK_CGROUP_ROOT", "/host/cgroup", 1);
	setenv("SHAWK_KUBELET_URL", "https://env:10250", 1);
	setenv("SHAWK_NODE_NAME", "env-node", 1);
	setenv("SHAWK_MAX_FLOWS", "1000", 1);
	setenv("SHAWK_MAX_PENDING_FLOWS", "2000", 1);

	int r = PARSE(&cfg, err, "--cmdb", "postgres://flag/db", "--mode",
		      "streaming", "--interval", "2s", "--flush-interval=20s",
		      "--log-level", "error", "--host-proc", "/p",
		      "--cgroup-root", "/c", "--kubelet-url", "https://flag",
		      "--kubelet-insecure", "--node-name", "flag-node",
		      "--max-flows", "10", "--max-pending-flows", "20",
		      "--include-loopback", "--netns-dir", "/tmp/netns", );
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	assert_string_equal(cfg.cmdb_url, "postgres://flag/db");
	assert_int_equal(cfg.mode, PROBE_MODE_STREAMING);
	assert_string_equal(probe_mode_name(cfg.mode), "streaming");
	assert_int_equal(cfg.interval_ms, 2000);
	assert_int_equal(cfg.flush_interval_ms, 20000);
	assert_int_equal(cfg.log_level, LOG_ERROR);
	assert_string_equal(cfg.host_proc, "/p");
	assert_string_equal(cfg.cgroup_root, "/c");
	assert_string_equal(cfg.kubelet_url, "https://flag");
	assert_true(cfg.kubelet_insecure);
	assert_string_equal(cfg.node_name, "flag-node");
	assert_int_equal(cfg.max_flows, 10);
	assert_int_equal(cfg.max_pending_flows, 20);
	assert_true(cfg.include_loopback);
	assert_string_equal(cfg.run_netns_dir, "/tmp/netns");

	/* The last occurrence of a flag wins. */
	assert_int_equal(PARSE(&cfg, err, "--interval", "1s", "--interval",
			       "3s", ),
			 0);
	assert_int_equal(cfg.interval_ms, 3000);
	assert_int_equal(cfg.mode, PROBE_MODE_POLLING); /* env still used */
}

struct invalid_case {
	const char *env_name; /* set to env_value before parsing, or NULL */
	const char *env_value;
	char *argv[8];	     /* after "probe", NULL-terminated */
	const char *what[3]; /* substrings the message must hold */
};

static const struct invalid_case invalid_cases[] = {
	/* Durations. */
	{ NULL, NULL, { "--interval", "banana" }, { "--interval", "banana" } },
	{ NULL, NULL, { "--interval", "-1s" }, { "--interval", "-1s" } },
	{ NULL, NULL, { "--interval=-1s" }, { "--interval", "-1s" } },
	{ NULL, NULL, { "--interval", "10" }, { "--interval", "1s" } },
	{ NULL, NULL, { "--interval", "0s" }, { "--interval", "positive" } },
	{ NULL, NULL, { "--interval", "" }, { "--interval", "500ms" } },
	{ NULL, NULL, { "--flush-interval", "-5m" },
	  { "--flush-interval", "-5m" } },
	{ NULL, NULL, { "--flush-interval", "soon" },
	  { "--flush-interval", "duration" } },
	{ "SHAWK_PROBE_INTERVAL", "banana", { NULL },
	  { "SHAWK_PROBE_INTERVAL", "banana", "500ms" } },
	{ "SHAWK_PROBE_INTERVAL", "-1s", { NULL },
	  { "SHAWK_PROBE_INTERVAL" } },
	{ "SHAWK_FLUSH_INTERVAL", "-10s", { NULL },
	  { "SHAWK_FLUSH_INTERVAL", "-10s" } },
	/* Scan interval longer than the flush interval. */
	{ NULL, NULL, { "--interval", "20s" },
	  { "--interval", "--flush-interval" } },
	{ NULL, NULL, { "--interval", "2s", "--flush-interval", "1s" },
	  { "--interval", "--flush-interval" } },
	{ "SHAWK_PROBE_INTERVAL", "1m", { NULL }, { "--flush-interval" } },
	/* Modes and enumerations. */
	{ NULL, NULL, { "--mode", "bogus" },
	  { "--mode", "bogus", "polling, streaming or auto" } },
	{ NULL, NULL, { "--mode", "Polling" }, { "--mode" } },
	{ "SHAWK_PROBE_MODE", "bogus", { NULL },
	  { "SHAWK_PROBE_MODE", "bogus", "polling" } },
	{ NULL, NULL, { "--output", "xml" }, { "--output", "xml", "json" } },
	{ NULL, NULL, { "--log-level", "loud" },
	  { "--log-level", "loud", "debug" } },
	{ "SHAWK_LOG_LEVEL", "loud", { NULL }, { "SHAWK_LOG_LEVEL", "loud" } },
	{ "SHAWK_KUBELET_INSECURE", "maybe", { NULL },
	  { "SHAWK_KUBELET_INSECURE", "maybe", "true or false" } },
	/* Integers. */
	{ NULL, NULL, { "--max-flows", "0" }, { "--max-flows", "integer" } },
	{ NULL, NULL, { "--max-flows", "-1" }, { "--max-flows", "-1" } },
	{ NULL, NULL, { "--max-flows", "many" }, { "--max-flows", "many" } },
	{ NULL, NULL, { "--max-pending-flows", "99999999999999" },
	  { "--max-pending-flows" } },
	{ "SHAWK_MAX_FLOWS", "0", { NULL }, { "SHAWK_MAX_FLOWS" } },
	{ "SHAWK_MAX_PENDING_FLOWS", "1e6", { NULL },
	  { "SHAWK_MAX_PENDING_FLOWS", "1e6" } },
	/* Unknown flags, missing values, stray arguments. */
	{ NULL, NULL, { "--bogus" }, { "unknown option", "--bogus" } },
	{ NULL, NULL, { "--bogus=1" }, { "unknown option", "--bogus" } },
	{ NULL, NULL, { "-x" }, { "unknown option", "-x" } },
	{ NULL, NULL, { "--once=yes" }, { "--once" } },
	{ NULL, NULL, { "--interval" }, { "--interval", "needs a value" } },
	{ NULL, NULL, { "--once", "--cmdb" }, { "--cmdb", "needs a value" } },
	{ NULL, NULL, { "--mode" }, { "--mode", "needs a value" } },
	{ NULL, NULL, { "--once", "extra" }, { "unexpected", "extra" } },
	/* Nowhere to send flows. */
	{ NULL, NULL, { NULL }, { "--cmdb", "SHAWK_CMDB_URL", "--output" } },
	{ NULL, NULL, { "--interval", "2s" }, { "--cmdb", "SHAWK_CMDB_URL" } },
};

static void test_invalid(void **state)
{
	for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
	     i++) {
		const struct invalid_case *c = &invalid_cases[i];
		char *argv[10] = { "probe" };
		struct probe_config cfg;
		char err[CONFIG_ERR_MAX];

		clear_env(state);
		if (c->env_name)
			setenv(c->env_name, c->env_value, 1);
		for (int a = 0; c->argv[a]; a++)
			argv[a + 1] = c->argv[a];
		int r = parse_argv(&cfg, err, argv);
		if (r != -EINVAL)
			print_error("case %zu (%s%s%s %s): r=%d err='%s'\n", i,
				    c->env_name ? c->env_name : "",
				    c->env_name ? "=" : "",
				    c->env_value ? c->env_value : "",
				    c->argv[0] ? c->argv[0] : "", r, err);
		assert_int_equal(r, -EINVAL);
		assert_one_line(err);
		for (size_t w = 0; w < 3 && c->what[w]; w++)
			assert_mentions(err, c->what[w]);
	}
}

static void test_once_output(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	/* --once without a CMDB prints text. */
	assert_int_equal(PARSE(&cfg, err, "--once", ), 0);
	assert_true(cfg.once);
	assert_int_equal(cfg.output, OUTPUT_TEXT);

	/* ...unless told otherwise. */
	assert_int_equal(PARSE(&cfg, err, "--once", "--output", "json", ), 0);
	assert_int_equal(cfg.output, OUTPUT_JSON);
	assert_int_equal(PARSE(&cfg, err, "--output=none", "--once", ), 0);
	assert_int_equal(cfg.output, OUTPUT_NONE);

	/* -o is --output. */
	assert_int_equal(PARSE(&cfg, err, "--once", "-o", "json", ), 0);
	assert_int_equal(cfg.output, OUTPUT_JSON);
	assert_int_equal(PARSE(&cfg, err, "--once", "-ojson", ), 0);
	assert_int_equal(cfg.output, OUTPUT_JSON);

	/* --once writes to the CMDB only when told to: --cmdb... */
	assert_int_equal(PARSE(&cfg, err, "--once", "--cmdb", "postgres://x", ),
			 0);
	assert_int_equal(cfg.output, OUTPUT_UNSET);
	/* ...not SHAWK_CMDB_URL alone (issue 17: it prints)... */
	setenv("SHAWK_CMDB_URL", "postgres://env", 1);
	assert_int_equal(PARSE(&cfg, err, "--once", ), 0);
	assert_int_equal(cfg.output, OUTPUT_TEXT);
	/* ...or --output cmdb with it. */
	assert_int_equal(PARSE(&cfg, err, "--once", "--output", "cmdb", ), 0);
	assert_int_equal(cfg.output, OUTPUT_UNSET);
	assert_string_equal(cfg.cmdb_url, "postgres://env");
	/* The daemon still writes with the variable alone. */
	assert_int_equal(PARSE(&cfg, err, ), 0);
	assert_int_equal(cfg.output, OUTPUT_UNSET);
	unsetenv("SHAWK_CMDB_URL");
	/* --output cmdb needs a CMDB. */
	assert_int_equal(PARSE(&cfg, err, "--once", "--output", "cmdb", ),
			 -EINVAL);
	assert_non_null(strstr(err, "no CMDB"));

	/* A daemon with --output needs no CMDB. */
	assert_int_equal(PARSE(&cfg, err, "--output", "text", ), 0);
	assert_false(cfg.once);
	assert_int_equal(cfg.output, OUTPUT_TEXT);
	assert_null(cfg.cmdb_url);
}

static void test_help(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	/* Help wins over everything, a missing CMDB included. */
	assert_int_equal(PARSE(&cfg, err, "--help", ), 0);
	assert_true(cfg.help);
	assert_int_equal(PARSE(&cfg, err, "-h", ), 0);
	assert_true(cfg.help);
	assert_non_null(strstr(probe_usage(), "--interval"));
	assert_non_null(strstr(probe_usage(), "SHAWK_PROBE_MODE"));
}

/*
 * probe_config_parse must not carry getopt state from one call to the
 * next: "-hx" stops after 'h', and a later parse must not resume at 'x'.
 */
static void test_reparse(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(PARSE(&cfg, err, "-hx", ), 0);
	assert_true(cfg.help);
	int r = PARSE(&cfg, err, "--once", );
	if (r)
		print_error("second parse: %s\n", err);
	assert_int_equal(r, 0);
	assert_false(cfg.help);
	assert_true(cfg.once);

	assert_int_equal(PARSE(&cfg, err, "--bogus", ), -EINVAL);
	assert_int_equal(PARSE(&cfg, err, "--output", "json", ), 0);
	assert_int_equal(cfg.output, OUTPUT_JSON);
}

static void test_parse_bool(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int r;
		bool v;
	} cases[] = {
		{ "1", 0, true },	 { "true", 0, true },
		{ "TRUE", 0, true },	 { "Yes", 0, true },
		{ "on", 0, true },	 { "0", 0, false },
		{ "false", 0, false },	 { "False", 0, false },
		{ "no", 0, false },	 { "OFF", 0, false },
		{ "", 0, false },	 { "maybe", -EINVAL, false },
		{ "2", -EINVAL, false }, { "tru", -EINVAL, false },
		{ "yes ", -EINVAL, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[CONFIG_ERR_MAX] = "";
		bool v = !cases[i].v; /* must be overwritten on success */
		bool before = v;
		int r = config_parse_bool("--flag", cases[i].in, &v, err);
		if (r != cases[i].r)
			print_error("case '%s': r=%d\n", cases[i].in, r);
		assert_int_equal(r, cases[i].r);
		if (r == 0) {
			assert_int_equal(v, cases[i].v);
		} else {
			assert_int_equal(v, before);
			assert_one_line(err);
			assert_mentions(err, "--flag");
			assert_mentions(err, cases[i].in);
		}
	}
}

static void test_parse_uint(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		uint64_t min, max;
		int r;
		uint64_t v;
	} cases[] = {
		{ "1", 1, 100, 0, 1 },
		{ "100", 1, 100, 0, 100 },
		{ "0", 0, 100, 0, 0 },
		{ "007", 0, 100, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "0", 1, 100, -EINVAL, 0 },
		{ "101", 1, 100, -EINVAL, 0 },
		{ "18446744073709551616", 0, UINT64_MAX, -EINVAL, 0 },
		{ "-1", 0, UINT64_MAX, -EINVAL, 0 },
		{ "", 0, 100, -EINVAL, 0 },
		{ "12abc", 0, 100, -EINVAL, 0 },
		{ "0x10", 0, 100, -EINVAL, 0 },
		{ "1.5", 0, 100, -EINVAL, 0 },
		/* strtoull would skip blanks and accept a sign after them:
		 * " -1" must not wrap to UINT64_MAX. */
		{ " -1", 0, UINT64_MAX, -EINVAL, 0 },
		{ " 5", 0, 100, -EINVAL, 0 },
		{ "+5", 0, 100, -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[CONFIG_ERR_MAX] = "";
		uint64_t v = 4242;
		int r = config_parse_uint("SHAWK_X", cases[i].in, cases[i].min,
					  cases[i].max, &v, err);
		if (r != cases[i].r)
			print_error("case '%s': r=%d v=%llu\n", cases[i].in, r,
				    (unsigned long long)v);
		assert_int_equal(r, cases[i].r);
		if (r == 0) {
			assert_true(v == cases[i].v);
		} else {
			assert_true(v == 4242);
			assert_one_line(err);
			assert_mentions(err, "SHAWK_X");
		}
	}
}

static void test_parse_helpers(void **state)
{
	(void)state;
	char err[CONFIG_ERR_MAX];
	int64_t ms = -1;
	enum probe_mode m = PROBE_MODE_AUTO;
	enum output_format o = OUTPUT_UNSET;

	assert_int_equal(config_parse_duration("--since", "0s", true, &ms, err),
			 0);
	assert_int_equal(ms, 0);
	assert_int_equal(
		config_parse_duration("--since", "0s", false, &ms, err),
		-EINVAL);
	assert_mentions(err, "--since");
	assert_int_equal(config_parse_duration("--since", "1h30m", false, &ms,
					       err),
			 0);
	assert_int_equal(ms, 5400000);

	assert_int_equal(config_parse_mode("--mode", "polling", &m, err), 0);
	assert_int_equal(m, PROBE_MODE_POLLING);
	assert_int_equal(config_parse_mode("--mode", "auto", &m, err), 0);
	assert_int_equal(m, PROBE_MODE_AUTO);
	assert_int_equal(config_parse_mode("--mode", "", &m, err), -EINVAL);
	assert_int_equal(config_parse_output("--output", "none", &o, err), 0);
	assert_int_equal(o, OUTPUT_NONE);
	assert_int_equal(config_parse_output("--output", "JSON", &o, err),
			 -EINVAL);
	assert_int_equal(o, OUTPUT_NONE);
	assert_one_line(err);
}

/* Read into the config so that library code needs no getenv(). */
static const char *const agent_env[] = {
	"SHAWK_BPF_CLASSIC", "SHAWK_BPF_AGGREGATE", "SHAWK_BPF_VERBOSE",
	"NODE_IP",	     "SHAWK_KUBELET_REFRESH", "SHAWK_HEARTBEAT_FILE",
	"SHAWK_POLL_BACKEND", "SHAWK_POLL_SKIP_UNCHANGED",
	"SHAWK_SERVICES_REFRESH", "SHAWK_APISERVER_CA_FILE",
	"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
};

static int clear_agent_env(void **state)
{
	for (size_t i = 0; i < sizeof(agent_env) / sizeof(agent_env[0]); i++)
		unsetenv(agent_env[i]);
	return clear_env(state);
}

static void test_env_only(void **state)
{
	(void)state;
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	assert_int_equal(PARSE(&cfg, err, "--once", ), 0);
	assert_false(cfg.bpf_classic);
	assert_false(cfg.bpf_no_aggregate);
	assert_false(cfg.bpf_verbose);
	assert_null(cfg.node_ip);
	assert_null(cfg.kubelet_refresh);
	assert_null(cfg.heartbeat_file);
	assert_true(cfg.poll_skip_unchanged);
	assert_int_equal(cfg.poll_backend, POLL_BACKEND_AUTO);

	setenv("SHAWK_BPF_CLASSIC", "1", 1);
	setenv("SHAWK_BPF_AGGREGATE", "0", 1);
	setenv("SHAWK_BPF_VERBOSE", "", 1); /* set at all: verbose */
	setenv("NODE_IP", "192.0.2.1", 1);
	setenv("SHAWK_KUBELET_REFRESH", "5s", 1);
	setenv("SHAWK_HEARTBEAT_FILE", "/run/hb", 1);
	setenv("SHAWK_POLL_BACKEND", "sockdiag", 1);
	setenv("SHAWK_POLL_SKIP_UNCHANGED", "false", 1);
	assert_int_equal(PARSE(&cfg, err, "--once", ), 0);
	assert_true(cfg.bpf_classic);
	assert_true(cfg.bpf_no_aggregate);
	assert_true(cfg.bpf_verbose);
	assert_string_equal(cfg.node_ip, "192.0.2.1");
	assert_string_equal(cfg.kubelet_refresh, "5s");
	assert_string_equal(cfg.heartbeat_file, "/run/hb");
	assert_int_equal(cfg.poll_backend, POLL_BACKEND_SOCKDIAG);
	assert_false(cfg.poll_skip_unchanged);

	/* Only these values switch the BPF paths. */
	setenv("SHAWK_BPF_CLASSIC", "yes", 1);
	setenv("SHAWK_BPF_AGGREGATE", "1", 1);
	assert_int_equal(PARSE(&cfg, err, "--once", ), 0);
	assert_false(cfg.bpf_classic);
	assert_false(cfg.bpf_no_aggregate);

	setenv("SHAWK_POLL_BACKEND", "ebpf", 1);
	assert_int_equal(PARSE(&cfg, err, "--once", ), -EINVAL);
	assert_one_line(err);
	assert_mentions(err, "SHAWK_POLL_BACKEND");
	clear_agent_env(state);
}

/* --help comes from the option table: every flag and variable is in it. */
static void test_help_lists_options(void **state)
{
	(void)state;
	static const char *const names[] = {
		"--cmdb", "--mode", "--interval", "--flush-interval", "--once",
		"--output", "--include-loopback", "--max-flows",
		"--max-pending-flows", "--log-level", "--host-proc",
		"--cgroup-root", "--kubelet-url", "--kubelet-insecure",
		"--node-name", "--apiserver-url", "--help",
	};
	const char *u = probe_usage();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_mentions(u, names[i]);
	for (size_t i = 0; i < sizeof(shawk_env) / sizeof(shawk_env[0]); i++)
		assert_mentions(u, shawk_env[i]);
	for (size_t i = 0; i < sizeof(agent_env) / sizeof(agent_env[0]); i++)
		assert_mentions(u, agent_env[i]);
	/* Defaults come from the same rows the parser applies. */
	assert_mentions(u, "(default 1s)");
	assert_mentions(u, "(default 10s)");
	/* Test-only flags stay out of the help. */
	assert_null(strstr(u, "--netns-dir"));
	/* No line runs past 80 columns. */
	for (const char *l = u; *l;) {
		size_t n = strcspn(l, "\n");
		assert_true(n <= 80);
		l += n + (l[n] == '\n');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clear_env),
		cmocka_unit_test_setup(test_env, clear_env),
		cmocka_unit_test_setup(test_flags_override_env, clear_env),
		cmocka_unit_test_setup(test_invalid, clear_env),
		cmocka_unit_test_setup(test_once_output, clear_env),
		cmocka_unit_test_setup(test_help, clear_env),
		cmocka_unit_test_setup(test_reparse, clear_env),
		cmocka_unit_test_setup(test_parse_bool, clear_env),
		cmocka_unit_test_setup(test_parse_uint, clear_env),
		cmocka_unit_test_setup(test_parse_helpers, clear_env),
		cmocka_unit_test_setup(test_env_only, clear_agent_env),
		cmocka_unit_test_setup(test_help_lists_options, clear_env),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
