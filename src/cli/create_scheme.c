// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "core/config.h"
#include "core/util.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char create_scheme_usage[] =
	"Usage: shawk create-scheme [--cmdb URL] [--target N]\n"
	"\n"
	"Create or upgrade the CMDB schema in PostgreSQL. Applies the numbered\n"
	"schema files this binary carries, each in a transaction, and records\n"
	"them in shawk_schema_version: running it again changes nothing.\n"
	"\n"
	"  --cmdb URL    libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  --target N    stop at schema version N (default: the newest)\n"
	"  -h, --help    show this help\n";

int cli_create_scheme(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cmdb", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *url = getenv("SHAWK_CMDB_URL");
	uint64_t target = 0;
	char err[CONFIG_ERR_MAX];
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			url = optarg;
			break;
		case 't':
			if (config_parse_uint("--target", optarg, 1, 999,
					      &target, err) < 0) {
				return cli_usage_error("create-scheme", "%s",
						       err);
			}
			break;
		case 'h':
			fputs(create_scheme_usage, stdout);
			return 0;
		default:
			return cli_option_error("create-scheme", c, argv,
						optind);
		}
	}
	if (optind < argc)
		return cli_usage_error("create-scheme",
				       "unexpected argument '%s'", argv[optind]);
	if (!url || !*url) {
		fputs("shawk create-scheme: no CMDB: set --cmdb or "
		      "SHAWK_CMDB_URL\n",
		      stderr);
		return EXIT_USAGE;
	}

	int r;
	if ((r = cli_cmdb_url_check("create-scheme", url)))
		return r;
	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	if ((r = cli_cmdb_connect("create-scheme", url, &db)))
		return r;
	unsigned before = 0, after = 0;
	r = cmdb_schema_apply(db, (unsigned)target, &before, &after);
	if (r < 0) {
		fprintf(stderr, "shawk create-scheme: %s\n",
			cmdb_last_error(db));
		return r == -EINVAL ? EXIT_USAGE : 1;
	}
	if (r == 0)
		printf("schema is up to date at version %u\n", after);
	else
		printf("schema upgraded from version %u to %u\n", before, after);
	return 0;
}
