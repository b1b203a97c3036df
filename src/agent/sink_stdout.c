// SPDX-License-Identifier: MIT
#include "agent/sink_stdout.h"

#include "core/clock.h"
#include "core/util.h"
#include "render/flows.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* `ip netns` names (bind mounts in run_netns_dir) by nsfs inode. */
struct ns_name {
	uint64_t ino;
	char name[64];
};

struct stdout_sink {
	struct sink base;
	enum output_format fmt;
	bool once;
	const char *netns_dir;
	char node[256];
	int64_t window_start_ms;
	struct ns_name *names;
	size_t nnames;
	uint64_t writes, flows;
};

/* Reads the names again at each write: netns come and go. */
static void names_load(struct stdout_sink *o)
{
	o->nnames = 0;
	if (!o->netns_dir)
		return;
	DIR *d = opendir(o->netns_dir);
	if (!d)
		return;
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) < 0)
			continue;
		if (o->nnames == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct ns_name *n = realloc(o->names, nc * sizeof(*n));
			if (!n)
				break;
			o->names = n;
			cap = nc;
		}
		o->names[o->nnames].ino = st.st_ino;
		strscpy(o->names[o->nnames].name, e->d_name,
			sizeof(o->names[0].name));
		o->nnames++;
	}
	closedir(d);
}

static const char *name_of(uint64_t ino, void *ud)
{
	const struct stdout_sink *o = ud;
	for (size_t i = 0; i < o->nnames; i++)
		if (o->names[i].ino == ino)
			return o->names[i].name;
	return NULL;
}

static int stdout_write(struct sink *s, const struct flow *flows, size_t n,
			int64_t now_ms)
{
	struct stdout_sink *o = (struct stdout_sink *)s;
	int r = 0;
	if (o->fmt == OUTPUT_JSON) {
		names_load(o);
		struct render_flows_meta m = {
			.node = o->once ? NULL : o->node,
			.window_start_ms = o->window_start_ms,
			.window_end_ms = now_ms,
			.netns_name = name_of,
			.ud = o,
		};
		r = render_flows_json_meta(stdout, flows, n, &m);
	} else if (o->fmt == OUTPUT_TEXT) {
		r = render_flows_text(stdout, flows, n);
	}
	fflush(stdout);
	o->window_start_ms = now_ms;
	o->writes++;
	o->flows += n;
	return r;
}

static void stdout_stats(const struct sink *s, stat_fn fn, void *ud)
{
	const struct stdout_sink *o = (const struct stdout_sink *)s;
	fn("writes", STAT_COUNTER, o->writes, "intervals written", ud);
	fn("flows", STAT_COUNTER, o->flows, "flows written", ud);
}

static void stdout_free(struct sink *s)
{
	struct stdout_sink *o = (struct stdout_sink *)s;
	free(o->names);
	free(o);
}

struct sink *sink_stdout_new(const struct probe_config *cfg)
{
	struct stdout_sink *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->base.name = "stdout";
	o->base.write = stdout_write;
	o->base.stats = stdout_stats;
	o->base.free = stdout_free;
	o->fmt = cfg->output;
	o->once = cfg->once;
	o->netns_dir = cfg->run_netns_dir;
	o->window_start_ms = now_realtime_ms();
	if (cfg->node_name)
		strscpy(o->node, cfg->node_name, sizeof(o->node));
	else if (gethostname(o->node, sizeof(o->node) - 1) < 0)
		strscpy(o->node, "unknown", sizeof(o->node));
	return &o->base;
}
