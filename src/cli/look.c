// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const char look_usage[] =
	"Usage: shawk look SELECTOR [OPTIONS]\n"
	"\n"
	"Print the dependency tree around an address or pod from the CMDB.\n"
	"\n"
	"Selectors: --ipv4 A, --ipv6 A, --host A, --pod [NS/]NAME, --namespace NS\n"
	"Options:   --depth N (default 1, at most 10), --since D, --until D,\n"
	"           --format tree|json|dot, --cmdb URL [SHAWK_CMDB_URL]\n";

int cli_look(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(look_usage, stdout);
			return 0;
		}
	fputs("shawk look: not implemented yet\n", stderr);
	return EXIT_USAGE;
}
