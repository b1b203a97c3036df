/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CLI_CLI_H
#define SHAWK_CLI_CLI_H

/* Exit codes: 0 ok, 1 runtime failure, 2 usage / invalid configuration. */
#define EXIT_USAGE 2

/* Each takes argv with argv[0] == subcommand name; returns an exit code. */
int cli_probe(int argc, char **argv);
int cli_look(int argc, char **argv);
int cli_list(int argc, char **argv);
int cli_create_scheme(int argc, char **argv);
int cli_health(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_prune(int argc, char **argv);

/* "shawk CMD: <message>" on stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Checks a --cmdb / SHAWK_CMDB_URL value (a libpq URI or key=value
 * string) before connecting. Returns 0, or EXIT_USAGE after one line. */
int cli_cmdb_url_check(const char *cmd, const char *url);

struct cmdb;
/* Connects to the CMDB at url. Returns 0 with *ret (cmdb_free() it), or
 * the exit code 1 after "shawk CMD: cannot connect to the CMDB: why". */
int cli_cmdb_connect(const char *cmd, const char *url, struct cmdb **ret);

/* The message for getopt_long's ':' (missing value) or '?' (unknown
 * option) at argv[ind - 1] (ind: optind); returns EXIT_USAGE. */
int cli_option_error(const char *cmd, int c, char **argv, int ind);

#endif
