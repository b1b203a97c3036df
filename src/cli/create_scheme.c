// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char create_scheme_usage[] =
	"Usage: shawk create-scheme [--cmdb URL]\n"
	"\n"
	"Create or upgrade the CMDB schema in PostgreSQL [SHAWK_CMDB_URL].\n";

int cli_create_scheme(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(create_scheme_usage, stdout);
			return 0;
		}
	fputs("shawk create-scheme: not implemented yet\n", stderr);
	return EXIT_USAGE;
}
