/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CLI_PROBE_OPTIONS_H
#define SHAWK_CLI_PROBE_OPTIONS_H

#include "core/config.h"

/*
 * Fills cfg from the defaults, then SHAWK_* environment variables, then
 * argv (flags win), all driven by one table of options (probe_options.c).
 * argv[0] is the subcommand name. Returns 0, or -EINVAL with one line in
 * err naming the flag or variable and what it accepts. Strings in cfg point
 * into argv/environ or are static.
 */
int probe_config_parse(int argc, char **argv, struct probe_config *cfg,
		       char *err);

/* `shawk probe --help`, generated from the same table (static buffer). */
const char *probe_usage(void);

#endif
