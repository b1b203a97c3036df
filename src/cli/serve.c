// SPDX-License-Identifier: MIT
#include "cli/cli.h"

#include "cmdb/pg.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "serve/app.h"

#include <getopt.h>
#include <signal.h>
#include <string.h>

static const char serve_usage[] =
	"Usage: shawk serve [--listen ADDR:PORT] [--cmdb URL]\n"
	"\n"
	"Serve a read-only web view of the CMDB: the dependency map of the\n"
	"cluster (workloads, or pods and processes), a page per workload, pod\n"
	"and host with its callers and callees, and /api/look (the JSON of\n"
	"`shawk look --format json`). Works with the shawk_reader role.\n"
	"\n"
	"  --listen ADDR:PORT  where to listen, [V6]:PORT for IPv6\n"
	"                      [SHAWK_SERVE_LISTEN] (default 127.0.0.1:8080)\n"
	"  --cmdb URL          libpq URI of the CMDB [SHAWK_CMDB_URL]\n"
	"  --log-level L       error, warn, info or debug [SHAWK_LOG_LEVEL]\n"
	"  -h, --help          show this help\n";

#define usage_error(...) cli_usage_error("serve", __VA_ARGS__)

/* Each request, with its answer, in the debug log; 5xx are warned about
 * by the app itself. */
static void handle_logged(void *ud, const struct http_request *req,
			  struct http_response *resp)
{
	serve_app_handle(ud, req, resp);
	log_debug("serve: GET %s -> %d (%zu bytes)", http_request_path(req),
		  resp->status, resp->len);
}

struct serve_args {
	const char *listen_at;
	const char *url;
};

/* Flags over environment. Returns 0, 1 after --help, or EXIT_USAGE. */
static int serve_args_parse(int argc, char **argv, struct serve_args *a)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "cmdb", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *level = getenv("SHAWK_LOG_LEVEL");
	const char *level_what = "SHAWK_LOG_LEVEL";
	struct sockaddr_storage ss;
	socklen_t sl;
	int c;

	a->listen_at = getenv("SHAWK_SERVE_LISTEN");
	a->url = getenv("SHAWK_CMDB_URL");
	if (!a->listen_at || !*a->listen_at)
		a->listen_at = "127.0.0.1:8080";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			a->listen_at = optarg;
			break;
		case 'c':
			a->url = optarg;
			break;
		case 'L':
			level = optarg;
			level_what = "--log-level";
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return 1;
		default:
			return cli_option_error("serve", c, argv, optind);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (http_listen_parse(a->listen_at, &ss, &sl) < 0)
		return usage_error("invalid --listen '%s': expected ADDR:PORT "
				   "or [IPV6]:PORT",
				   a->listen_at);
	if (level && *level) {
		int l = log_level_parse(level);
		if (l < 0)
			return usage_error("invalid %s '%s': expected error, "
					   "warn, info or debug",
					   level_what, level);
		log_set_level((enum log_level)l);
	}
	if (!a->url || !*a->url)
		return usage_error("no CMDB: set --cmdb or SHAWK_CMDB_URL");
	int r = cli_cmdb_url_check("serve", a->url);
	return r == 1 ? EXIT_USAGE : r; /* 1 means --help here */
}

int cli_serve(int argc, char **argv)
{
	struct serve_args a;
	int r = serve_args_parse(argc, argv, &a);
	if (r)
		return r == 1 ? 0 : r;

	/* Blocked before the server's thread starts, so it inherits the
	 * mask and only sigwait() below sees them. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct serve_app app = { .cmdb_url = a.url };
	char err[256] = "";
	r = cmdb_connect(a.url, &app.db, err, sizeof(err));
	if (r == 0 && cmdb_schema_check(app.db) == -ENOENT) {
		fprintf(stderr, "shawk serve: %s\n", cmdb_last_error(app.db));
		serve_app_clear(&app);
		return 1;
	}
	if (r < 0)
		log_warn("serve: the CMDB is unreachable for now (%s); pages "
			 "say so until it answers",
			 r == -ENOMEM ? "out of memory" : err);

	_cleanup_(http_server_freep) struct http_server *srv = NULL;
	struct http_config cfg = { .listen = a.listen_at };
	r = http_server_start(&cfg, handle_logged, &app, &srv, err,
			      sizeof(err));
	if (r < 0) {
		fprintf(stderr, "shawk serve: %s\n", err);
		serve_app_clear(&app);
		return 1;
	}
	log_info("serve: listening on %s (port %u)", a.listen_at,
		 http_server_port(srv));
	int sig = 0;
	sigwait(&mask, &sig);
	log_info("serve: %s, stopping", strsignal(sig));
	http_server_free(TAKE_PTR(srv));
	serve_app_clear(&app);
	return 0;
}
