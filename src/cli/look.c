// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "cmdb/query.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/duration.h"
#include "core/graph.h"
#include "core/util.h"
#include "render/look.h"
#include "render/svg.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char look_usage[] =
	"Usage: shawk look SELECTOR [OPTIONS]\n"
	"\n"
	"Print the dependency tree around an address or pod from the CMDB:\n"
	"its callers (<--) and callees (-->), and theirs down to --depth.\n"
	"\n"
	"Selectors (exactly one):\n"
	"  --ipv4 A, --ipv6 A, --host A   an address (--host: either family)\n"
	"  --pod [NS/]NAME                a pod's endpoints (no NS/: any namespace,\n"
	"                                 if only one has that name)\n"
	"  --namespace NS                 the endpoints of a namespace's pods\n"
	"Options:\n"
	"  --depth N          levels to follow, 1 to 10 (default 1)\n"
	"  --since D          only edges seen since D: a duration ago (10m, 2h)\n"
	"                     or an RFC 3339 time\n"
	"  --until D          only edges seen until D (same forms)\n"
	"  --format F         tree (default), json, dot or svg\n"
	"  --cmdb URL         libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  -h, --help         show this help\n";

enum look_format { FMT_TREE, FMT_JSON, FMT_DOT, FMT_SVG };

static int usage_error(const char *fmt, ...) _printf_(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("shawk look: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

static int set_selector(struct look_query *q, const char **sel_flag,
			const char *flag, enum look_selector s)
{
	if (*sel_flag)
		return usage_error("%s and %s: give exactly one selector",
				   *sel_flag, flag);
	*sel_flag = flag;
	q->sel = s;
	return 0;
}

int cli_look(int argc, char **argv)
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
		{ "format", required_argument, NULL, 'f' },
		{ "cmdb", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct look_query q = {
		.depth = 1,
		.since_ms = INT64_MIN,
		.until_ms = INT64_MAX,
	};
	const char *url = getenv("SHAWK_CMDB_URL");
	const char *sel_flag = NULL;
	enum look_format fmt = FMT_TREE;
	char pod_ns[254], pod_name[254], err[CONFIG_ERR_MAX];
	int64_t now = now_realtime_ms();
	uint64_t depth;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case '4':
		case '6':
		case 'H': {
			const char *flag = c == '4'	  ? "--ipv4"
					   : c == '6' ? "--ipv6"
						      : "--host";
			int want = c == '4'	? AF_INET
				   : c == '6' ? AF_INET6
					      : AF_UNSPEC;
			if ((r = set_selector(&q, &sel_flag, flag,
					      LOOK_SEL_HOST)))
				return r;
			if (addr_parse(optarg, want, &q.family, q.addr) < 0)
				return usage_error(
					"invalid %s '%s': expected an address",
					flag, optarg);
			break;
		}
		case 'p':
			if ((r = set_selector(&q, &sel_flag, "--pod",
					      LOOK_SEL_POD)))
				return r;
			if (look_pod_parse(optarg, pod_ns, sizeof(pod_ns),
					   pod_name, sizeof(pod_name)) < 0)
				return usage_error("invalid %s '%s': expected "
						   "[NAMESPACE/]NAME",
						   "--pod", optarg);
			q.pod_namespace = pod_ns;
			q.pod_name = pod_name;
			break;
		case 'n':
			if ((r = set_selector(&q, &sel_flag, "--namespace",
					      LOOK_SEL_NAMESPACE)))
				return r;
			if (!*optarg || strchr(optarg, '/'))
				return usage_error("invalid %s '%s': expected "
						   "a namespace name",
						   "--namespace", optarg);
			q.pod_namespace = optarg;
			break;
		case 'd':
			if (config_parse_uint("--depth", optarg, 1,
					      LOOK_MAX_DEPTH, &depth, err) < 0)
				return usage_error("%s", err);
			q.depth = (int)depth;
			break;
		case 's':
		case 'u':
			if (time_point_parse_ms(optarg, now,
						c == 's' ? &q.since_ms
							 : &q.until_ms) < 0)
				return usage_error(
					"invalid %s '%s': expected a duration "
					"ago (10m, 2h, 1d) or an RFC 3339 time",
					c == 's' ? "--since" : "--until",
					optarg);
			break;
		case 'f':
			if (!strcmp(optarg, "tree"))
				fmt = FMT_TREE;
			else if (!strcmp(optarg, "json"))
				fmt = FMT_JSON;
			else if (!strcmp(optarg, "dot"))
				fmt = FMT_DOT;
			else if (!strcmp(optarg, "svg"))
				fmt = FMT_SVG;
			else
				return usage_error("invalid %s '%s': expected "
						   "tree, json, dot or svg",
						   "--format", optarg);
			break;
		case 'c':
			url = optarg;
			break;
		case 'h':
			fputs(look_usage, stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs a value",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!sel_flag)
		return usage_error("no selector: give one of --ipv4, --ipv6, "
				   "--host, --pod or --namespace");
	if (q.since_ms != INT64_MIN && q.until_ms != INT64_MAX &&
	    q.since_ms > q.until_ms)
		return usage_error("--since is later than --until");
	if (!url || !*url)
		return usage_error("no CMDB: set --cmdb or SHAWK_CMDB_URL");

	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	char cerr[256] = "";
	r = cmdb_connect(url, &db, cerr, sizeof(cerr));
	if (r < 0) {
		fprintf(stderr, "shawk look: cannot connect to the CMDB: %s\n",
			r == -ENOMEM ? "out of memory" : cerr);
		return 1;
	}
	if (q.sel == LOOK_SEL_POD && !*q.pod_namespace) {
		/* A name without NS/ is any namespace, if only one has it. */
		char list[512];
		r = cmdb_pod_namespaces(db, &q, list, sizeof(list));
		if (r < 0) {
			fprintf(stderr, "shawk look: %s\n", cmdb_last_error(db));
			return 1;
		}
		if (r > 1) {
			fprintf(stderr,
				"shawk look: pod %s is in several namespaces "
				"(%s%s): give --pod NS/%s\n",
				q.pod_name, list, r >= 20 ? ", ..." : "",
				q.pod_name);
			return 1;
		}
	}
	_cleanup_(graph_clear) struct graph g;
	graph_init(&g, 0);
	r = cmdb_look(db, &q, &g);
	if (r == -ENOENT) {
		fprintf(stderr, "shawk look: no such %s in the CMDB\n",
			q.sel == LOOK_SEL_POD ? "pod" : "namespace");
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
	if (r == 0 && fmt == FMT_TREE) {
		fputs("shawk look: no flow known for this selector in the "
		      "CMDB\n",
		      stderr);
		return 1;
	}
	switch (fmt) {
	case FMT_TREE:
		r = render_tree(stdout, &g, q.depth);
		break;
	case FMT_JSON:
		r = render_json(stdout, &g, q.depth);
		break;
	case FMT_DOT:
		r = render_dot(stdout, &g, q.depth);
		break;
	case FMT_SVG:
		r = render_svg(stdout, &g, q.depth);
		break;
	}
	if (fflush(stdout) != 0 && r == 0)
		r = -EIO;
	if (r < 0) {
		fprintf(stderr, "shawk look: cannot print: %s\n", strerror(-r));
		return 1;
	}
	return 0;
}
