// SPDX-License-Identifier: MIT
/*
 * shawk prune: retention now (the agents also run it, at most hourly).
 */
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "cmdb/prune.h"
#include "core/config.h"
#include "core/util.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static const char prune_usage[] =
	"Usage: shawk prune [--cmdb URL] [--retention D]\n"
	"\n"
	"Apply the CMDB's retention now: drop the history partitions older\n"
	"than the retention and delete the flows, nodes and pods not seen\n"
	"within it, in batches. The agents do the same at most once an hour.\n"
	"\n"
	"  --cmdb URL          libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  --retention D       keep this much, e.g. 30d, 12h [SHAWK_RETENTION,\n"
	"                      default 30d]; not shorter than the history bucket\n"
	"  --history-bucket D  the agents' bucket, for that check\n"
	"                      [SHAWK_HISTORY_BUCKET, default 1m]\n"
	"  -h, --help          show this help\n";

/* Rows per table and statement: a batch takes well under a second. */
#define PRUNE_BATCH 10000

struct prune_args {
	const char *url;
	const char *ret_what; /* the source of the retention, for errors */
	int64_t retention, bucket;
};

/* Flags and environment. Returns 0, 1 after --help, or EXIT_USAGE. */
static int prune_args_parse(int argc, char **argv, struct prune_args *a)
{
	static const struct option opts[] = {
		{ "cmdb", required_argument, NULL, 'c' },
		{ "retention", required_argument, NULL, 'r' },
		{ "history-bucket", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ret_s = getenv("SHAWK_RETENTION");
	const char *bucket_s = getenv("SHAWK_HISTORY_BUCKET");
	const char *bucket_what = "SHAWK_HISTORY_BUCKET";
	char err[CONFIG_ERR_MAX];
	int c;

	*a = (struct prune_args){ .url = getenv("SHAWK_CMDB_URL"),
				  .ret_what = "SHAWK_RETENTION",
				  .retention = 30LL * 86400 * 1000,
				  .bucket = 60 * 1000 };
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->url = optarg;
			break;
		case 'r':
			ret_s = optarg;
			a->ret_what = "--retention";
			break;
		case 'b':
			bucket_s = optarg;
			bucket_what = "--history-bucket";
			break;
		case 'h':
			fputs(prune_usage, stdout);
			return 1;
		default:
			return cli_option_error("prune", c, argv, optind);
		}
	}
	if (optind < argc)
		return cli_usage_error("prune", "unexpected argument '%s'",
				       argv[optind]);
	if ((ret_s && *ret_s &&
	     config_parse_duration(a->ret_what, ret_s, false, &a->retention,
				   err) < 0) ||
	    (bucket_s && *bucket_s &&
	     config_parse_duration(bucket_what, bucket_s, false, &a->bucket,
				   err) < 0))
		return cli_usage_error("prune", "%s", err);
	return 0;
}

/* What the arguments say together. Returns 0 or EXIT_USAGE. */
static int prune_args_check(const struct prune_args *a)
{
	if (a->retention < a->bucket)
		return cli_usage_error("prune",
				       "invalid %s: shorter than the history "
				       "bucket (%" PRId64 "ms)",
				       a->ret_what, a->bucket);
	if (!a->url || !*a->url)
		return cli_usage_error("prune",
				       "no CMDB: set --cmdb or SHAWK_CMDB_URL");
	return 0;
}

/*
 * Batches until nothing is left to prune, then prints the totals. Returns
 * the exit code: 0, or 1 (error printed).
 */
static int prune_run(struct cmdb *db, int64_t retention)
{
	int partitions = 0;
	int64_t deleted = 0;
	struct cmdb_prune_result res;
	do {
		if (cmdb_prune(db, retention, PRUNE_BATCH, 0, &res) < 0) {
			fprintf(stderr, "shawk prune: %s\n", cmdb_last_error(db));
			return 1;
		}
		if (res.skipped) {
			fputs("shawk prune: another session is pruning; try "
			      "again later\n",
			      stderr);
			return 1;
		}
		partitions += res.partitions;
		deleted += res.deleted;
	} while (res.more && (res.partitions || res.deleted));
	printf("pruned: %d history partitions dropped, %" PRId64
	       " rows deleted\n",
	       partitions, deleted);
	return 0;
}

int cli_prune(int argc, char **argv)
{
	struct prune_args a;
	int r = prune_args_parse(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;
	if ((r = prune_args_check(&a)))
		return r;

	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	if ((r = cli_cmdb_connect("prune", a.url, &db)))
		return r;
	return prune_run(db, a.retention);
}
