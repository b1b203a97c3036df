// SPDX-License-Identifier: MIT
#include "agent/sink_stdout.h"

#include "render/flows.h"

#include <stdio.h>
#include <stdlib.h>

struct stdout_sink {
	struct sink base;
	enum output_format fmt;
	uint64_t writes, flows;
};

static int stdout_write(struct sink *s, const struct flow *flows, size_t n,
			int64_t now_ms)
{
	struct stdout_sink *o = (struct stdout_sink *)s;
	int r = 0;
	(void)now_ms;
	if (o->fmt == OUTPUT_JSON)
		r = render_flows_json(stdout, flows, n);
	else if (o->fmt == OUTPUT_TEXT)
		r = render_flows_text(stdout, flows, n);
	fflush(stdout);
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
	free(s);
}

struct sink *sink_stdout_new(enum output_format fmt)
{
	struct stdout_sink *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->base.name = "stdout";
	o->base.write = stdout_write;
	o->base.stats = stdout_stats;
	o->base.free = stdout_free;
	o->fmt = fmt;
	return &o->base;
}
