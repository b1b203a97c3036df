// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "core/config.h"
#include "core/util.h"

#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char health_usage[] =
	"Usage: shawk health [--file PATH] [--max-age D]\n"
	"\n"
	"Exit 0 when the probe's heartbeat file (written after every scan,\n"
	"see SHAWK_HEARTBEAT_FILE) is younger than --max-age, 1 otherwise.\n"
	"For liveness probes: the image has no shell.\n"
	"\n"
	"  --file PATH    heartbeat file [SHAWK_HEARTBEAT_FILE]\n"
	"                 (default /run/shawk/heartbeat)\n"
	"  --max-age D    e.g. 30s, 2m (default 60s)\n";

int cli_health(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "max-age", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = getenv("SHAWK_HEARTBEAT_FILE");
	int64_t max_age_ms = 60000;
	char err[CONFIG_ERR_MAX];
	int c;

	if (!file || !*file)
		file = "/run/shawk/heartbeat";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'a':
			if (config_parse_duration("--max-age", optarg, false,
						  &max_age_ms, err) < 0) {
				return cli_usage_error("health", "%s", err);
			}
			break;
		case 'h':
			fputs(health_usage, stdout);
			return 0;
		default:
			return cli_option_error("health", c, argv, optind);
		}
	}

	struct stat st;
	if (stat(file, &st) < 0) {
		fprintf(stderr, "shawk health: %s: %s\n", file, strerror(errno));
		return 1;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t age_ms = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
			 (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
	if (age_ms > max_age_ms) {
		fprintf(stderr,
			"shawk health: last scan %lldms ago (max %lldms)\n",
			(long long)age_ms, (long long)max_age_ms);
		return 1;
	}
	printf("ok: last scan %lldms ago\n", (long long)age_ms);
	return 0;
}
