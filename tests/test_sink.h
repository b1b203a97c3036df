/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_TEST_SINK_H
#define SHAWK_TESTS_TEST_SINK_H

/*
 * What the sink tests share (test_sink_cmdb.c, test_sink_async.c): the
 * flows they write and a sink's counters read by name through its stats
 * callback. Include after <cmocka.h>.
 */
#include "core/flow.h"
#include "core/sink.h"
#include "core/stats.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* An active flow of curl (pid/pgid 100) from 198.18.40.1 to
 * 198.18.40.<peer>:80 with new_conns new connections. */
static inline struct flow sink_test_flow(uint8_t peer, uint32_t new_conns)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.key.dir = SOCK_DIR_ACTIVE;
	f.key.proto = IPPROTO_TCP;
	f.key.family = AF_INET;
	f.key.rport = 80;
	static const uint8_t net[3] = { 198, 18, 40 };
	memcpy(f.key.laddr, net, 3);
	f.key.laddr[3] = 1;
	memcpy(f.key.raddr, net, 3);
	f.key.raddr[3] = peer;
	f.key.netns = 4026531840u;
	f.key.pgid = 100;
	strcpy(f.key.comm, "curl");
	f.pid = 100;
	f.connections = new_conns;
	f.new_connections = new_conns;
	f.first_seen_ms = f.last_seen_ms = 1;
	return f;
}

struct sink_test_stat_probe {
	const char *name;
	uint64_t value;
	bool found;
};

static inline void sink_test_stat_find(const char *name, enum stat_kind kind,
				       uint64_t value, const char *help,
				       void *ud)
{
	struct sink_test_stat_probe *p = ud;
	(void)kind;
	assert_non_null(help); /* every counter says what it counts */
	if (strcmp(name, p->name) == 0) {
		p->value = value;
		p->found = true;
	}
}

/* The counter name of sink s; fails the test when it has none. */
static inline uint64_t sink_test_stat(const struct sink *s, const char *name)
{
	struct sink_test_stat_probe p = { .name = name };
	s->stats(s, sink_test_stat_find, &p);
	assert_true(p.found);
	return p.value;
}

#endif
