// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "cmdb/sql_embed.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "version.h" /* generated: SHAWK_VERSION, SHAWK_COMMIT */

static const char usage[] =
	"Usage: shawk COMMAND [OPTIONS]\n"
	"\n"
	"Discover network dependencies between processes, containers and pods\n"
	"from the kernel's sockets, and keep them in PostgreSQL.\n"
	"\n"
	"Commands:\n"
	"  probe          trace sockets on this host and record flows\n"
	"  look           print the dependency tree around an address or pod\n"
	"                 (no selector: the whole map)\n"
	"  list           what the CMDB knows: hosts, pods, namespaces,\n"
	"                 workloads, with last-seen times\n"
	"  create-scheme  create or upgrade the CMDB schema\n"
	"  health         check the probe's heartbeat (liveness probes)\n"
	"  serve          serve the dependency map as web pages\n"
	"  help [COMMAND] show this help, or a command's\n"
	"  version        show the version, commit and what this kernel offers\n"
	"  completion bash|zsh  a shell completion script (eval \"$(shawk\n"
	"                 completion bash)\")\n"
	"\n"
	"Options:\n"
	"  -h, --help     show this help (also: shawk COMMAND --help)\n"
	"  -V, --version  show the version\n"
	"\n"
	"First steps: shawk create-scheme; shawk probe --once --cmdb URL;\n"
	"shawk list; shawk look (SHAWK_CMDB_URL names the CMDB).\n";

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{ "probe", cli_probe },
	{ "look", cli_look },
	{ "list", cli_list },
	{ "create-scheme", cli_create_scheme },
	{ "health", cli_health },
	{ "serve", cli_serve },
};

/*
 * `shawk completion bash|zsh`: commands from the table below, each
 * command's flags from its own --help (itself generated from its option
 * table), so the script never falls behind the binary.
 */
static const char completion_bash[] =
	"_shawk() {\n"
	"\tlocal cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}\n"
	"\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n"
	"\t\tCOMPREPLY=($(compgen -W '%s help version completion "
	"--help --version' -- \"$cur\"))\n"
	"\t\treturn\n"
	"\tfi\n"
	"\tcase $cmd in\n"
	"\thelp) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n"
	"\tcompletion) COMPREPLY=($(compgen -W 'bash zsh' -- \"$cur\")); "
	"return ;;\n"
	"\tesac\n"
	"\tcase $cur in\n"
	"\t-*) COMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" \"$cmd\" "
	"--help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)\" "
	"-- \"$cur\")) ;;\n"
	"\t*) [ \"$cmd\" = list ] && COMPREPLY=($(compgen -W 'hosts pods "
	"namespaces workloads' -- \"$cur\")) ;;\n"
	"\tesac\n"
	"}\n"
	"complete -F _shawk shawk\n";

static int print_completion(const char *shell)
{
	char names[256] = "";
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
			 "%s%s", i ? " " : "", commands[i].name);
	if (!shell || (strcmp(shell, "bash") && strcmp(shell, "zsh")))
		return cli_usage_error("completion", "expected bash or zsh");
	if (!strcmp(shell, "zsh"))
		puts("autoload -U +X bashcompinit && bashcompinit");
	printf(completion_bash, names, names);
	return 0;
}

/* `shawk version`: what a bug report needs. */
static int print_version(void)
{
	struct utsname u;
	printf("shawk %s (commit %s)\n", SHAWK_VERSION, SHAWK_COMMIT);
	printf("built: %s %s, C compiler %s\n", __DATE__, __TIME__,
	       __VERSION__);
	printf("CMDB schema: writes version %zu\n", sql_files_count);
	if (uname(&u) == 0)
		printf("kernel: %s %s %s\n", u.sysname, u.release, u.machine);
	/* What the probe's BPF paths need from this kernel (it says at
	 * start-up which ones loaded). */
	printf("kernel BTF (/sys/kernel/btf/vmlinux): %s\n",
	       access("/sys/kernel/btf/vmlinux", R_OK) == 0 ? "yes"
							   : "no (polling via "
							     "sock_diag only)");
	printf("cgroup v2 (/sys/fs/cgroup/cgroup.controllers): %s\n",
	       access("/sys/fs/cgroup/cgroup.controllers", R_OK) == 0 ? "yes"
									  : "no");
	return 0;
}

static int run_command(const char *cmd, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].run(argc, argv);
	return cli_usage_error("", "unknown command '%s' (see 'shawk --help')",
			       cmd);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    (!strcmp(cmd, "help") && argc == 2)) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(cmd, "help")) {
		/* shawk help CMD == shawk CMD --help */
		char help[] = "--help";
		char *av[] = { argv[2], help, NULL };
		return run_command(argv[2], 2, av);
	}
	if (!strcmp(cmd, "completion"))
		return print_completion(argc > 2 ? argv[2] : NULL);
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") ||
	    !strcmp(cmd, "version"))
		return print_version();
	return run_command(cmd, argc - 1, argv + 1);
}
