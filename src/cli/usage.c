// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "render/common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char msg[1024], safe[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The message echoes the user's own arguments: no control
	 * characters reach the terminal. */
	escape_terminal_buf(safe, sizeof(safe), msg);
	fprintf(stderr, "shawk%s%s: %s\n", *cmd ? " " : "", cmd, safe);
	return EXIT_USAGE;
}

int cli_cmdb_url_check(const char *cmd, const char *url)
{
	char err[256];
	int r = cmdb_url_check(url, err, sizeof(err));
	if (r == -ENOMEM) {
		fprintf(stderr, "shawk %s: out of memory\n", cmd);
		return 1;
	}
	if (r < 0)
		return cli_usage_error(cmd, "invalid --cmdb/SHAWK_CMDB_URL: %s",
				       err);
	return 0;
}

int cli_cmdb_connect(const char *cmd, const char *url, struct cmdb **ret)
{
	char cerr[256] = "";
	int r = cmdb_connect(url, ret, cerr, sizeof(cerr));
	if (r < 0) {
		fprintf(stderr, "shawk %s: cannot connect to the CMDB: %s\n", cmd,
			r == -ENOMEM ? "out of memory" : cerr);
		return 1;
	}
	return 0;
}

int cli_option_error(const char *cmd, int c, char **argv, int ind)
{
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs a value",
				       argv[ind - 1]);
	return cli_usage_error(cmd, "unknown option '%s'", argv[ind - 1]);
}
