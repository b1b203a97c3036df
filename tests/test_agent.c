// SPDX-License-Identifier: MIT
/*
 * The whole agent once, as `shawk probe --once --output none --mode
 * polling` runs it: built from a config, one scan through the stages into
 * the flow table and the stdout sink, then every part's counters through
 * agent_stats() (what a metrics sink reads).
 */
#include "agent/agent.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

#define MAX_SEEN 128

struct seen {
	char object[MAX_SEEN][32];
	char name[MAX_SEEN][48];
	uint64_t value[MAX_SEEN];
	size_t n;
};

static void collect(const char *object, const char *name,
		    enum stat_kind kind, uint64_t value, const char *help,
		    void *ud)
{
	struct seen *s = ud;
	assert_true(kind == STAT_COUNTER || kind == STAT_GAUGE);
	assert_non_null(help);
	assert_true(*help);
	assert_true(s->n < MAX_SEEN);
	snprintf(s->object[s->n], sizeof(s->object[0]), "%s", object);
	snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	s->value[s->n] = value;
	s->n++;
}

static const uint64_t *find(const struct seen *s, const char *object,
			    const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->object[i], object) && !strcmp(s->name[i], name))
			return &s->value[i];
	print_error("no counter %s %s\n", object, name);
	return NULL;
}

static void test_once(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		/* Polling every netns needs root. */
		print_message("SKIP - polling every netns needs root\n");
		skip();
	}
	/* One listener of our own: the scan sees at least one socket. */
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);

	struct probe_config cfg = {
		.mode = PROBE_MODE_POLLING,
		.poll_backend = POLL_BACKEND_SOCKDIAG,
		.interval_ms = 1000,
		.flush_interval_ms = 10000,
		.host_proc = "/proc",
		.cgroup_root = "/sys/fs/cgroup",
		.run_netns_dir = "/run/netns",
		.once = true,
		.output = OUTPUT_NONE,
		.max_flows = 1000,
		.max_pending_flows = 1000,
	};
	log_set_level(LOG_ERROR);
	struct agent *a = NULL;
	assert_int_equal(agent_new(&cfg, &a), 0);
	assert_non_null(a);
	assert_int_equal(agent_loop(a), 0);

	struct seen s = { .n = 0 };
	agent_stats(a, collect, &s);
	const uint64_t *v;
	/* The source: one scan that saw sockets. */
	assert_non_null(v = find(&s, "polling", "scans"));
	assert_int_equal(*v, 1);
	assert_non_null(v = find(&s, "polling", "sockets"));
	assert_true(*v >= 1);
	/* The stages, the flow table and the sink, each by its name. */
	assert_non_null(find(&s, "process", "walks"));
	assert_non_null(find(&s, "k8s", "kubelet_enabled"));
	assert_non_null(v = find(&s, "flow_table", "listeners"));
	assert_true(*v >= 1);
	assert_non_null(v = find(&s, "flow_table", "records"));
	assert_true(*v >= 1);
	/* The interval was flushed to the sink and ended. */
	assert_non_null(v = find(&s, "stdout", "writes"));
	assert_int_equal(*v, 1);
	assert_non_null(v = find(&s, "flow_table", "flows"));
	assert_int_equal(*v, 0);
	agent_freep(&a);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
