// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "version.h" /* generated: SHAWK_VERSION */

static const char usage[] =
	"Usage: shawk COMMAND [OPTIONS]\n"
	"\n"
	"Discover network dependencies between processes, containers and pods\n"
	"from the kernel's sockets, and keep them in PostgreSQL.\n"
	"\n"
	"Commands:\n"
	"  probe          trace sockets on this host and record flows\n"
	"  look           print the dependency tree around an address or pod\n"
	"  create-scheme  create or upgrade the CMDB schema\n"
	"  prune          apply the CMDB's retention now\n"
	"  health         check the probe's heartbeat (liveness probes)\n"
	"  serve          serve the dependency map as web pages\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (also: shawk COMMAND --help)\n"
	"  -V, --version  show the version\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "probe", cli_probe },
	{ "look", cli_look },
	{ "create-scheme", cli_create_scheme },
	{ "prune", cli_prune },
	{ "health", cli_health },
	{ "serve", cli_serve },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("shawk %s\n", SHAWK_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "shawk: unknown command '%s' (see 'shawk --help')\n",
		cmd);
	return EXIT_USAGE;
}
