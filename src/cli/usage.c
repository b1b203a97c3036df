// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "shawk %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

int cli_option_error(const char *cmd, int c, char **argv, int ind)
{
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value",
				       argv[ind - 1]);
	return cli_usage_error(cmd, "unknown option '%s'", argv[ind - 1]);
}
