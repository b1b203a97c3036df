// SPDX-License-Identifier: MIT
#include "agent/source.h"

#include "core/log.h"

#include <errno.h>
#include <string.h>

int agent_source_open(const struct probe_config *cfg, struct procmap *pm,
		      struct agent_source **ret)
{
	/* One scan needs no event stream: --once always polls. */
	if (cfg->mode == PROBE_MODE_STREAMING ||
	    (cfg->mode == PROBE_MODE_AUTO && !cfg->once)) {
		char why[256] = "";
		int r = source_stream_open(cfg, pm, ret, why, sizeof(why));
		if (r == 0) {
			log_info("mode %s: streaming from eBPF",
				 probe_mode_name(cfg->mode));
			return 0;
		}
		if (r == -ENOMEM || cfg->mode == PROBE_MODE_STREAMING) {
			log_error("streaming mode cannot start: %s",
				  r == -ENOMEM ? strerror(ENOMEM) : why);
			return r;
		}
		log_info("mode auto: using polling (streaming cannot start: "
			 "%s)", why);
	}
	return source_poll_open(cfg, pm, ret);
}
