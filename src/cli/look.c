// SPDX-License-Identifier: MIT
/*
 * shawk look: flags and environment -> a look_query -> cmdb_look() -> the
 * renderer of the chosen --format.
 */
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "cmdb/query.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/duration.h"
#include "core/graph.h"
#include "core/util.h"
#include "k8s/podref.h"
#include "render/graph.h"
#include "render/svg.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char look_usage[] =
	"Usage: shawk look [ADDRESS | [NS/]POD | SELECTOR] [OPTIONS]\n"
	"\n"
	"Print the dependency tree around an address or pod from the CMDB:\n"
	"its callers (<--) and callees (-->), and theirs down to --depth.\n"
	"Without a selector: the whole map, one tree per listening endpoint.\n"
	"(shawk list shows the addresses and pods the CMDB knows.)\n"
	"\n"
	"Selectors (at most one):\n"
	"  ADDRESS                        as --host ADDRESS\n"
	"  NS/NAME or NAME                as --pod\n"
	"  --ipv4 A, --ipv6 A, --host A   an address (--host: either family)\n"
	"  --pod [NS/]NAME                a pod's endpoints (no NS/: any namespace,\n"
	"                                 if only one has that name)\n"
	"  --namespace NS                 the endpoints of a namespace's pods\n"
	"Options:\n"
	"  --depth N          levels to follow, 1 to 10 (default 1)\n"
	"  --since D          only edges seen since D: a duration ago (10m, 2h)\n"
	"                     or an RFC 3339 time\n"
	"  --until D          only edges seen until D (same forms)\n"
	"                     With --since/--until the history is read: an edge\n"
	"                     is shown if active in a bucket of the window, its\n"
	"                     connections are those started in it.\n"
	"  --diff-since D, --diff-until D\n"
	"                     compare the window (--since/--until; --since\n"
	"                     defaults to --diff-until, --until to now) with this\n"
	"                     earlier baseline: edges added (+, green), removed\n"
	"                     (-, red dashed) or unchanged, and the count change\n"
	"  --changed-only     with a diff, leave unchanged edges out\n"
	"  -o, --output F     tree (default), json, dot or svg (--format: the\n"
	"                     same)\n"
	"  --stale D          tree: mark edges last seen more than D ago as\n"
	"                     stale (default 1m)\n"
	"  --cmdb URL         libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  -h, --help         show this help\n";

/* Tree lines say "last seen 5m ago, stale" past this age. */
#define LOOK_STALE_DEFAULT_MS 60000

/* --format NAME picks a renderer (render/graph.h). */
struct look_format {
	const char *name;
	int (*render)(FILE *out, struct graph *g, int depth);
	/* Nothing to print is an error (exit 1), not an empty document. */
	bool empty_is_error;
};

static const struct look_format look_formats[] = {
	{ "tree", render_tree, true },
	{ "json", render_json, false },
	{ "dot", render_dot, false },
	{ "svg", render_svg, false },
};

/* What the command line asks for. q's pod strings point into pod_ns and
 * pod_name or into argv. */
struct look_args {
	struct look_query q;
	const char *url;
	const char *sel_flag; /* the selector given, for messages */
	const struct look_format *fmt;
	bool help;
	bool changed_only;
	bool diff_since_set, diff_until_set;
	int64_t stale_ms; /* --stale */
	char pod_ns[254], pod_name[254];
};

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_usage_error("look", "%s", msg);
}

static int set_selector(struct look_args *a, const char *flag,
			enum look_selector s)
{
	if (a->sel_flag)
		return usage_error("%s and %s: give exactly one selector",
				   a->sel_flag, flag);
	a->sel_flag = flag;
	a->q.sel = s;
	return 0;
}

/* --ipv4 (c '4'), --ipv6 ('6') or --host ('H') A. */
static int opt_address(struct look_args *a, int c, const char *arg)
{
	const char *flag = c == '4' ? "--ipv4" : c == '6' ? "--ipv6" : "--host";
	int want = c == '4' ? AF_INET : c == '6' ? AF_INET6 : AF_UNSPEC;
	int r;
	if ((r = set_selector(a, flag, LOOK_SEL_HOST)))
		return r;
	if (addr_parse(arg, want, &a->q.family, a->q.addr) < 0)
		return usage_error("invalid %s '%s': expected an address", flag,
				   arg);
	return 0;
}

static int opt_pod(struct look_args *a, const char *arg)
{
	int r;
	if ((r = set_selector(a, "--pod", LOOK_SEL_POD)))
		return r;
	if (pod_ref_parse(arg, a->pod_ns, sizeof(a->pod_ns), a->pod_name,
			   sizeof(a->pod_name)) < 0)
		return usage_error("invalid %s '%s': expected "
				   "[NAMESPACE/]NAME",
				   "--pod", arg);
	a->q.pod_namespace = a->pod_ns;
	a->q.pod_name = a->pod_name;
	return 0;
}

/* A positional selector: an address, else a [NS/]NAME pod. */
static int opt_positional(struct look_args *a, const char *arg)
{
	int family;
	uint8_t addr[16];
	if (addr_parse(arg, AF_UNSPEC, &family, addr) == 0)
		return opt_address(a, 'H', arg);
	if (!*arg || arg[0] == '-' || strchr(arg, ':'))
		return usage_error("invalid selector '%s': expected an address "
				   "or [NAMESPACE/]POD",
				   arg);
	return opt_pod(a, arg);
}

static int opt_namespace(struct look_args *a, const char *arg)
{
	int r;
	if ((r = set_selector(a, "--namespace", LOOK_SEL_NAMESPACE)))
		return r;
	if (!*arg || strchr(arg, '/'))
		return usage_error("invalid %s '%s': expected a namespace name",
				   "--namespace", arg);
	a->q.pod_namespace = arg;
	return 0;
}

static int opt_format(struct look_args *a, const char *arg)
{
	char names[128] = "";
	size_t n = ARRAY_SIZE(look_formats);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(arg, look_formats[i].name)) {
			a->fmt = &look_formats[i];
			return 0;
		}
		/* "tree, json or dot" for the message below. */
		size_t l = strlen(names);
		snprintf(names + l, sizeof(names) - l, "%s%s",
			 i == 0 ? "" : i + 1 < n ? ", " : " or ",
			 look_formats[i].name);
	}
	return usage_error("invalid %s '%s': expected %s", "--output", arg,
			   names);
}

/* Applies option c (its getopt value) with argument arg. Returns 0,
 * EXIT_USAGE after saying why, or -1 for an option it does not know. */
static int look_option_apply(struct look_args *a, int c, const char *arg,
			     int64_t now)
{
	char err[CONFIG_ERR_MAX];
	uint64_t depth;

	switch (c) {
	case '4':
	case '6':
	case 'H':
		return opt_address(a, c, arg);
	case 'p':
		return opt_pod(a, arg);
	case 'n':
		return opt_namespace(a, arg);
	case 'd':
		if (config_parse_uint("--depth", arg, 1, LOOK_MAX_DEPTH, &depth,
				      err) < 0)
			return usage_error("%s", err);
		a->q.depth = (int)depth;
		return 0;
	case 's':
	case 'u':
		if (duration_time_point_parse_ms(arg, now,
					c == 's' ? &a->q.since_ms
						 : &a->q.until_ms) < 0)
			return usage_error("invalid %s '%s': expected a duration "
					   "ago (10m, 2h, 1d) or an RFC 3339 time",
					   c == 's' ? "--since" : "--until", arg);
		return 0;
	case 'B': /* the baseline's bounds */
	case 'E':
		if (duration_time_point_parse_ms(arg, now,
					c == 'B' ? &a->q.diff_since_ms
						 : &a->q.diff_until_ms) < 0)
			return usage_error("invalid %s '%s': expected a duration "
					   "ago (10m, 2h, 1d) or an RFC 3339 time",
					   c == 'B' ? "--diff-since"
						    : "--diff-until",
					   arg);
		if (c == 'B')
			a->diff_since_set = true;
		else
			a->diff_until_set = true;
		a->q.diff = true;
		return 0;
	case 'C':
		a->changed_only = true;
		return 0;
	case 'f':
		return opt_format(a, arg);
	case 'c':
		a->url = arg;
		return 0;
	case 'S':
		if (config_parse_duration("--stale", arg, false, &a->stale_ms,
					  err) < 0)
			return usage_error("%s", err);
		return 0;
	case 'h':
		a->help = true;
		return 0;
	}
	return -1;
}

/* The baseline window of a diff: complete it from the window, and refuse
 * one that is empty or overlaps the window. Returns 0 or EXIT_USAGE. */
static int look_diff_check(struct look_args *a)
{
	struct look_query *q = &a->q;
	if (!q->diff)
		return a->changed_only ? usage_error("--changed-only needs "
						     "--diff-since")
				       : 0;
	if (!a->diff_since_set)
		return usage_error("--diff-until needs --diff-since");
	if (!a->diff_until_set) {
		if (q->since_ms == INT64_MIN)
			return usage_error("--diff-since needs --diff-until "
					   "or --since");
		q->diff_until_ms = q->since_ms;
	}
	if (q->since_ms == INT64_MIN)
		q->since_ms = q->diff_until_ms;
	if (q->diff_since_ms > q->diff_until_ms)
		return usage_error("--diff-since is later than --diff-until");
	if (q->since_ms > q->until_ms)
		return usage_error("--since is later than --until");
	if (q->diff_since_ms < q->until_ms && q->since_ms < q->diff_until_ms)
		return usage_error("the --diff-since/--diff-until window "
				   "overlaps the --since/--until window");
	return 0;
}

/* Fills a from argv and the environment. Returns 0 (a->help: print the
 * usage) or EXIT_USAGE after saying why. */
static int look_args_parse(int argc, char **argv, struct look_args *a)
{
	static const struct option opts[] = {
		{ "ipv4", required_argument, NULL, '4' },
		{ "ipv6", required_argument, NULL, '6' },
		{ "host", required_argument, NULL, 'H' },
		{ "pod", required_argument, NULL, 'p' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "depth", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "diff-since", required_argument, NULL, 'B' },
		{ "diff-until", required_argument, NULL, 'E' },
		{ "changed-only", no_argument, NULL, 'C' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'f' },
		{ "cmdb", required_argument, NULL, 'c' },
		{ "stale", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t now = now_realtime_ms();
	int c, r;

	a->q = (struct look_query){
		.depth = 1,
		.since_ms = INT64_MIN,
		.until_ms = INT64_MAX,
	};
	a->url = getenv("SHAWK_CMDB_URL");
	a->fmt = &look_formats[0];
	a->stale_ms = LOOK_STALE_DEFAULT_MS;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		if (c == 'o')
			c = 'f';
		if (c == ':')
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		if ((r = look_option_apply(a, c, optarg, now)) < 0)
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		if (r)
			return r;
		if (a->help)
			return 0;
	}
	if (optind < argc && (r = opt_positional(a, argv[optind])))
		return r;
	if (optind + 1 < argc)
		return usage_error("unexpected argument '%s'", argv[optind + 1]);
	if (!a->sel_flag) {
		/* The whole map: every listening endpoint is a root. */
		a->sel_flag = "(none)";
		a->q.sel = LOOK_SEL_ALL;
	}
	if (a->q.since_ms != INT64_MIN && a->q.until_ms != INT64_MAX &&
	    a->q.since_ms > a->q.until_ms)
		return usage_error("--since is later than --until");
	if ((r = look_diff_check(a)))
		return r;
	if (!a->url || !*a->url)
		return usage_error("no CMDB: set --cmdb or SHAWK_CMDB_URL");
	return cli_cmdb_url_check("look", a->url);
}

/* A --pod NAME without NS/ is any namespace, if only one has it. Returns
 * 0, or 1 after saying why not. */
static int look_pod_resolve(struct cmdb *db, const struct look_query *q)
{
	char list[512];
	int r = cmdb_pod_namespaces(db, q, list, sizeof(list));
	if (r < 0) {
		fprintf(stderr, "shawk look: %s\n", cmdb_last_error(db));
		return 1;
	}
	if (r > 1) {
		fprintf(stderr,
			"shawk look: pod %s is in several namespaces "
			"(%s%s): give --pod NS/%s\n",
			q->pod_name, list, r >= 20 ? ", ..." : "", q->pod_name);
		return 1;
	}
	return 0;
}

/* Runs the query into g. Returns 0 (*ret_empty: nothing found), or 1
 * after saying why not. */
static int look_graph_load(struct cmdb *db, const struct look_query *q,
			   struct graph *g, bool *ret_empty)
{
	int r = cmdb_look(db, q, g);
	if (r == -ENOENT) {
		fprintf(stderr, "shawk look: no such %s in the CMDB\n",
			q->sel == LOOK_SEL_POD ? "pod" : "namespace");
		return 1;
	}
	if (r == -E2BIG) {
		fputs("shawk look: the graph is too large; use a smaller "
		      "--depth or a time window\n",
		      stderr);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "shawk look: %s\n",
			r == -ENOMEM ? "out of memory" : cmdb_last_error(db));
		return 1;
	}
	*ret_empty = r == 0;
	return 0;
}

static int look_print(const struct look_format *fmt, struct graph *g,
		      int depth)
{
	int r = fmt->render(stdout, g, depth);
	if (fflush(stdout) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, "shawk look: cannot print: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}

int cli_look(int argc, char **argv)
{
	struct look_args a = { 0 };
	bool empty;
	int r;

	if ((r = look_args_parse(argc, argv, &a)))
		return r;
	if (a.help) {
		fputs(look_usage, stdout);
		return 0;
	}

	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	if ((r = cli_cmdb_connect("look", a.url, &db)))
		return r;
	if (a.q.sel == LOOK_SEL_POD && !*a.q.pod_namespace &&
	    (r = look_pod_resolve(db, &a.q)))
		return r;
	_cleanup_(graph_clear) struct graph g;
	graph_init(&g, 0);
	g.hide_unchanged = a.changed_only;
	g.now_ms = now_realtime_ms();
	g.stale_ms = a.stale_ms;
	if ((r = look_graph_load(db, &a.q, &g, &empty)))
		return r;
	if (empty && a.fmt->empty_is_error && look_query_windowed(&a.q)) {
		fputs("shawk look: no flow active in that time window\n", stderr);
		return 1;
	}
	if (empty && a.fmt->empty_is_error && a.q.sel == LOOK_SEL_ALL) {
		fputs("shawk look: the CMDB has no flow yet: run shawk probe "
		      "(--once --cmdb URL for one scan)\n",
		      stderr);
		return 1;
	}
	if (empty && a.fmt->empty_is_error) {
		fputs("shawk look: no flow known for this selector in the "
		      "CMDB\n",
		      stderr);
		return 1;
	}
	return look_print(a.fmt, &g, a.q.depth);
}
