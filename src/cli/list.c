// SPDX-License-Identifier: MIT
/*
 * shawk list [hosts|pods|namespaces|workloads]: what the CMDB knows, with
 * last-seen times, so a newcomer has an address or a pod to give `look`.
 */
#include "cli/cli.h"

#include "cmdb/list.h"
#include "cmdb/pg.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/util.h"
#include "render/table.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char list_usage[] =
	"Usage: shawk list [hosts|pods|namespaces|workloads] [OPTIONS]\n"
	"\n"
	"What the CMDB knows, with when it was last seen: addresses with their\n"
	"processes and listening ports (hosts), pods, namespaces, workloads\n"
	"(Deployments, StatefulSets, ... from the kubelet's pod list). Without\n"
	"a kind: every kind that has something. Then: shawk look ADDRESS or\n"
	"shawk look NS/NAME.\n"
	"\n"
	"Options:\n"
	"  -o, --output F     text (default) or json (--format: the same)\n"
	"  --since D          only what was seen since D (10m, 2h, RFC 3339)\n"
	"  --cmdb URL         libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  -h, --help         show this help\n";

static const struct {
	const char *name;
	enum cmdb_list_kind kind;
} list_kinds[] = {
	{ "hosts", CMDB_LIST_HOSTS },
	{ "pods", CMDB_LIST_PODS },
	{ "namespaces", CMDB_LIST_NAMESPACES },
	{ "workloads", CMDB_LIST_WORKLOADS },
};

struct list_args {
	const char *url;
	int64_t now, since;
	bool json, all;
	bool want[ARRAY_SIZE(list_kinds)];
};

/* Flags and kinds. Returns 0, 1 after --help, or EXIT_USAGE. */
static int list_args_parse(int argc, char **argv, struct list_args *a)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'o' },
		{ "since", required_argument, NULL, 's' },
		{ "cmdb", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*a = (struct list_args){ .url = getenv("SHAWK_CMDB_URL"),
				 .now = now_realtime_ms(),
				 .since = INT64_MIN };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "text") && strcmp(optarg, "json"))
				return cli_usage_error("list",
						       "invalid --output '%s': "
						       "expected text or json",
						       optarg);
			a->json = !strcmp(optarg, "json");
			break;
		case 's':
			if (duration_time_point_parse_ms(optarg, a->now,
							 &a->since) < 0)
				return cli_usage_error(
					"list",
					"invalid --since '%s': expected a "
					"duration ago (10m, 2h, 1d) or an RFC "
					"3339 time",
					optarg);
			break;
		case 'c':
			a->url = optarg;
			break;
		case 'h':
			fputs(list_usage, stdout);
			return 1;
		default:
			return cli_option_error("list", c, argv, optind);
		}
	}
	a->all = optind >= argc;
	for (; optind < argc; optind++) {
		size_t k = 0;
		while (k < ARRAY_SIZE(list_kinds) &&
		       strcmp(argv[optind], list_kinds[k].name))
			k++;
		if (k == ARRAY_SIZE(list_kinds))
			return cli_usage_error("list",
					       "unknown kind '%s': expected "
					       "hosts, pods, namespaces or "
					       "workloads",
					       argv[optind]);
		a->want[k] = true;
	}
	if (!a->url || !*a->url)
		return cli_usage_error("list",
				       "no CMDB: set --cmdb or SHAWK_CMDB_URL");
	return cli_cmdb_url_check("list", a->url);
}

/* The n tables as JSON or text sections. 0 or -errno. */
static int list_print(const struct list_args *a, struct render_table *rt,
		      size_t n)
{
	if (a->json)
		return render_table_json(stdout, rt, n, a->all);
	size_t shown = 0;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (a->all && !rt[i].nrows)
			continue;
		if (a->all)
			printf("%s== %s\n", shown++ ? "\n" : "", rt[i].section);
		r = render_table_text(stdout, &rt[i], a->now);
	}
	return r;
}

int cli_list(int argc, char **argv)
{
	struct list_args a;
	int r = list_args_parse(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;

	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	if ((r = cli_cmdb_connect("list", a.url, &db)))
		return r;
	struct cmdb_table tabs[ARRAY_SIZE(list_kinds)] = { 0 };
	struct render_table rt[ARRAY_SIZE(list_kinds)];
	size_t n = 0, total = 0;
	int ret = 0;
	for (size_t k = 0; k < ARRAY_SIZE(list_kinds) && !ret; k++) {
		if (!a.all && !a.want[k])
			continue;
		r = cmdb_list(db, list_kinds[k].kind, a.since, &tabs[n]);
		if (r < 0) {
			fprintf(stderr, "shawk list: %s\n",
				r == -ENOMEM ? "out of memory"
					     : cmdb_last_error(db));
			ret = 1;
			break;
		}
		if (tabs[n].truncated)
			fprintf(stderr, "shawk list: %s cut at %d rows; "
					"narrow with --since\n",
				list_kinds[k].name, CMDB_LIST_MAX_ROWS);
		total += tabs[n].nrows;
		rt[n] = (struct render_table){
			.section = list_kinds[k].name,
			.names = tabs[n].names,
			.ncols = tabs[n].ncols,
			.nrows = tabs[n].nrows,
			.cells = tabs[n].cells,
		};
		n++;
	}
	r = ret ? 0 : list_print(&a, rt, n);
	for (size_t i = 0; i < ARRAY_SIZE(tabs); i++)
		cmdb_table_clear(&tabs[i]);
	if (!ret && r < 0) {
		fprintf(stderr, "shawk list: cannot print: %s\n", strerror(-r));
		ret = 1;
	}
	if (ret)
		return ret;
	if (!a.json && total == 0) {
		fputs("shawk list: the CMDB knows nothing yet: run shawk probe "
		      "(--once --cmdb URL for one scan)\n",
		      stderr);
		return 1;
	}
	if (!a.json && a.all)
		puts("\nnext: shawk look ADDRESS, shawk look NAMESPACE/POD, "
		     "or shawk look (the whole map)");
	return 0;
}
