// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "agent/agent.h"
#include "agent/stage_k8s.h"
#include "cli/probe_options.h"
#include "cmdb/pg.h"
#include "core/config.h"
#include "core/log.h"
#include "core/util.h"

#include <errno.h>
#include <stdio.h>

/*
 * Before writing to the CMDB: a URL that cannot be one is a usage error
 * (exit 2); a CMDB without the schema ends a --once run with what to do
 * (exit 1) and is warned about once by the daemon, which keeps retrying.
 * An unreachable CMDB is the sink's business (it buffers); the check
 * gives up at the CMDB deadline (--cmdb-timeout).
 */
static int probe_cmdb_check(const struct probe_config *cfg)
{
	_cleanup_(cmdb_freep) struct cmdb *db = NULL;
	int r = cli_cmdb_url_check("probe", cfg->cmdb_url);
	if (r)
		return r;
	/* Within the flush's own deadline: an unreachable CMDB (SYNs
	 * dropped) must not hold the first scan for libpq's 2 s. */
	struct cmdb_limits lim = { .timeout_ms = cfg->cmdb_timeout_ms,
				   .cancel_fd = -1 };
	if (cmdb_connect_limited(cfg->cmdb_url,
				 cfg->cmdb_timeout_ms > 0 ? &lim : NULL, &db,
				 NULL, 0) < 0)
		return 0;
	if (cmdb_schema_check(db) != -ENOENT)
		return 0;
	if (cfg->once) {
		fprintf(stderr, "shawk probe: %s\n", cmdb_last_error(db));
		return 1;
	}
	log_warn("%s (flows are kept in memory until then)",
		 cmdb_last_error(db));
	return 0;
}

int cli_probe(int argc, char **argv)
{
	struct probe_config cfg;
	char err[CONFIG_ERR_MAX];

	if (probe_config_parse(argc, argv, &cfg, err) < 0) {
		return cli_usage_error("probe", "%s", err);
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
	if (cfg.output == OUTPUT_UNSET) {
		int r = probe_cmdb_check(&cfg);
		if (r)
			return r;
		if (cfg.once)
			fputs("shawk probe: --once: writing the flows to the "
			      "CMDB, not printing them\n",
			      stderr);
	}
	return agent_run(&cfg) < 0 ? 1 : 0;
}
