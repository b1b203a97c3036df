// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "agent/agent.h"
#include "agent/stage_k8s.h"
#include "cli/probe_options.h"
#include "core/config.h"
#include "core/log.h"

#include <stdio.h>

int cli_probe(int argc, char **argv)
{
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	if (probe_config_parse(argc, argv, &cfg, err) < 0) {
		fprintf(stderr, "shawk probe: %s\n", err);
		return EXIT_USAGE;
	}
	if (cfg.help) {
		fputs(probe_usage(), stdout);
		return 0;
	}
	if (stage_k8s_check(&cfg, err) < 0) {
		fprintf(stderr, "shawk probe: %s\n", err);
		return EXIT_USAGE;
	}
	log_set_level((enum log_level)cfg.log_level);
	return agent_run(&cfg) < 0 ? 1 : 0;
}
