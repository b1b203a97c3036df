// SPDX-License-Identifier: MIT
/*
 * The stage contract (core/stage.h) as the agent runs it (agent/stages.c):
 * order, the chain ending at the first error, optional callbacks, the list
 * bound; and the two stages behind it: process (real /proc, this test's
 * own process) and k8s (cgroup path -> container id, no kubelet).
 */
#include "agent/stage_k8s.h"
#include "agent/stage_process.h"
#include "agent/stages.h"
#include "core/log.h"
#include "core/util.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"

/* ---- fake stages ---------------------------------------------------------- */

static char calls[64]; /* one letter per callback run, in order */
static int frees;

static void called(char c)
{
	size_t n = strlen(calls);
	assert_true(n + 1 < sizeof(calls));
	calls[n] = c;
	calls[n + 1] = '\0';
}

struct fake_stage {
	struct stage base;
	char letter;
	uint32_t refuse_pid; /* enrich() says -ESRCH for it */
	int scan_ret;
	size_t scanned;
};

static int fake_scan(struct stage *st, const struct sock_record *recs,
		     size_t n)
{
	struct fake_stage *f = (struct fake_stage *)st;
	(void)recs;
	called(f->letter);
	f->scanned += n;
	return f->scan_ret;
}

static int fake_enrich(struct stage *st, uint32_t pid,
		       const struct sock_record *rec, struct flow_owner *o)
{
	struct fake_stage *f = (struct fake_stage *)st;
	(void)rec;
	called(f->letter);
	if (pid == f->refuse_pid)
		return -ESRCH;
	/* Each stage sees what the earlier ones filled in. */
	size_t n = strlen(o->comm);
	if (n + 1 < sizeof(o->comm))
		o->comm[n] = f->letter;
	return 0;
}

static void fake_report(struct stage *st)
{
	called(((struct fake_stage *)st)->letter);
}

static void fake_free(struct stage *st)
{
	frees++;
	free(st);
}

static struct stage *fake_new(char letter, bool with_callbacks)
{
	struct fake_stage *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->letter = letter;
	f->base.name = "fake";
	if (with_callbacks) {
		f->base.scan = fake_scan;
		f->base.enrich = fake_enrich;
		f->base.report = fake_report;
	}
	f->base.free = fake_free;
	return &f->base;
}

/* translate(): claims records whose local port is its letter. */
static bool fake_translate(struct stage *st, const struct sock_record *rec,
			   uint8_t dir, struct flow_nat *ret)
{
	struct fake_stage *f = (struct fake_stage *)st;
	(void)dir;
	called(f->letter);
	if (rec->lport != (uint16_t)f->letter)
		return false;
	ret->svc_port = (uint16_t)f->letter;
	return true;
}

static void test_translate_order(void **state)
{
	(void)state;
	struct stage_list l = { .n = 0 };
	struct sock_record rec = { .proto = IPPROTO_TCP };
	struct flow_nat nat;

	assert_int_equal(stage_list_add(&l, fake_new('a', true)), 0);
	assert_int_equal(stage_list_add(&l, fake_new('-', false)), 0);
	assert_int_equal(stage_list_add(&l, fake_new('b', true)), 0);
	/* No stage translates yet: the agent installs nothing. */
	assert_false(stage_list_translates(&l));
	l.v[0]->translate = fake_translate;
	l.v[2]->translate = fake_translate;
	assert_true(stage_list_translates(&l));

	/* Nobody claims it: every translate() asked, in order. */
	memset(&nat, 0, sizeof(nat));
	assert_false(stage_list_translate(&rec, SOCK_DIR_ACTIVE, &nat, &l));
	assert_string_equal(calls, "ab");
	/* The first that claims it wins; later ones are not asked. */
	calls[0] = '\0';
	rec.lport = 'a';
	assert_true(stage_list_translate(&rec, SOCK_DIR_ACTIVE, &nat, &l));
	assert_string_equal(calls, "a");
	assert_int_equal(nat.svc_port, 'a');
	calls[0] = '\0';
	rec.lport = 'b';
	memset(&nat, 0, sizeof(nat));
	assert_true(stage_list_translate(&rec, SOCK_DIR_PASSIVE, &nat, &l));
	assert_string_equal(calls, "ab");
	assert_int_equal(nat.svc_port, 'b');
	stage_list_clear(&l);
}

static int reset(void **state)
{
	(void)state;
	calls[0] = '\0';
	frees = 0;
	log_set_level(LOG_ERROR);
	return 0;
}

static void test_chain_order(void **state)
{
	(void)state;
	struct stage_list l = { .n = 0 };
	struct sock_record rec = { .proto = IPPROTO_TCP };
	struct flow_owner o;

	assert_int_equal(stage_list_add(&l, fake_new('a', true)), 0);
	/* A stage without the optional callbacks is skipped, not called. */
	assert_int_equal(stage_list_add(&l, fake_new('-', false)), 0);
	assert_int_equal(stage_list_add(&l, fake_new('b', true)), 0);
	((struct fake_stage *)l.v[2])->refuse_pid = 9;

	memset(&o, 0, sizeof(o));
	assert_int_equal(stage_list_enrich(7, &rec, &o, &l), 0);
	assert_string_equal(calls, "ab");
	assert_string_equal(o.comm, "ab");

	/* The first error ends the chain and is passed up. */
	((struct fake_stage *)l.v[0])->refuse_pid = 8;
	calls[0] = '\0';
	memset(&o, 0, sizeof(o));
	assert_int_equal(stage_list_enrich(8, &rec, &o, &l), -ESRCH);
	assert_string_equal(calls, "a");
	calls[0] = '\0';
	assert_int_equal(stage_list_enrich(9, &rec, &o, &l), -ESRCH);
	assert_string_equal(calls, "ab");

	calls[0] = '\0';
	stage_list_report(&l);
	assert_string_equal(calls, "ab");

	stage_list_clear(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(frees, 3);
}

static void test_scan(void **state)
{
	(void)state;
	struct stage_list l = { .n = 0 };
	struct sock_record recs[3];

	memset(recs, 0, sizeof(recs));
	assert_int_equal(stage_list_add(&l, fake_new('a', true)), 0);
	assert_int_equal(stage_list_add(&l, fake_new('b', true)), 0);
	assert_int_equal(stage_list_scan(&l, recs, 3), 0);
	assert_string_equal(calls, "ab");
	assert_int_equal(((struct fake_stage *)l.v[1])->scanned, 3);

	/* An error stops the scan before the later stages. */
	((struct fake_stage *)l.v[0])->scan_ret = -ENOMEM;
	calls[0] = '\0';
	assert_int_equal(stage_list_scan(&l, recs, 3), -ENOMEM);
	assert_string_equal(calls, "a");
	stage_list_clear(&l);
}

static void test_bound(void **state)
{
	(void)state;
	struct stage_list l = { .n = 0 };

	/* A failed constructor: -ENOMEM, nothing added. */
	assert_int_equal(stage_list_add(&l, NULL), -ENOMEM);
	assert_int_equal(l.n, 0);
	for (size_t i = 0; i < STAGES_MAX; i++)
		assert_int_equal(stage_list_add(&l, fake_new('x', true)), 0);
	/* Full: the stage is freed, not leaked. */
	assert_int_equal(stage_list_add(&l, fake_new('y', true)), -E2BIG);
	assert_int_equal(frees, 1);
	assert_int_equal(l.n, STAGES_MAX);
	stage_list_clear(&l);
	assert_int_equal(frees, STAGES_MAX + 1);
}

/* ---- the real stages ------------------------------------------------------ */

static void stat_count(const char *name, enum stat_kind kind, uint64_t value,
		       const char *help, void *ud)
{
	(void)kind, (void)value;
	assert_non_null(name);
	assert_non_null(help);
	(*(int *)ud)++;
}

/* This test's own process, from the real /proc: no root needed. */
static void test_process_stage(void **state)
{
	(void)state;
	struct procmap *pm = NULL;
	assert_int_equal(procmap_new("/proc", 0, 0, &pm), 0);
	struct stage_list l = { .n = 0 };
	struct sock_record rec = { .proto = IPPROTO_TCP };
	struct flow_owner o;

	assert_int_equal(stage_list_add(&l, stage_process_new(pm, "node-a")),
			 0);
	memset(&o, 0, sizeof(o));
	assert_int_equal(stage_list_enrich((uint32_t)getpid(), &rec, &o, &l),
			 0);
	assert_int_equal(o.pid, (uint32_t)getpid());
	assert_int_equal(o.pgid, (uint32_t)getpgrp());
	assert_string_equal(o.comm, "test_stages");
	assert_string_equal(o.node, "node-a");

	/* A pid that does not exist ends the chain: empty identity. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(stage_list_enrich(0x3fffffff, &rec, &o, &l), -ESRCH);

	int n = 0;
	l.v[0]->stats(l.v[0], stat_count, &n);
	assert_true(n > 0);
	stage_list_clear(&l);
	procmap_free(pm);
}

#define CID "e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8"

/* Without a kubelet the stage still names the container from the path. */
static void test_k8s_stage(void **state)
{
	(void)state;
	struct probe_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.host_proc = "/proc";
	cfg.cgroup_root = "/nonexistent-cgroup-root";
	cfg.node_name = "node-a";

	_cleanup_(stage_freep) struct stage *k8s = stage_k8s_new(&cfg, true);
	assert_non_null(k8s);
	assert_null(stage_k8s_pods(k8s));
	struct sock_record rec = { .proto = IPPROTO_TCP };
	struct flow_owner o;

	memset(&o, 0, sizeof(o));
	o.cgroup = "/kubepods/burstable/"
		   "pod7d3e1f2a-9b8c-4d7e-a6f5-1e2d3c4b5a69/" CID;
	assert_int_equal(k8s->enrich(k8s, 1, &rec, &o), 0);
	assert_non_null(o.container_id);
	assert_string_equal(o.container_id, CID);
	assert_null(o.pod_name); /* no kubelet: no pod */

	/* Not a container: nothing added, never an error. */
	memset(&o, 0, sizeof(o));
	o.cgroup = "/user.slice/user-0.slice/session-1.scope";
	assert_int_equal(k8s->enrich(k8s, 1, &rec, &o), 0);
	assert_null(o.container_id);
	memset(&o, 0, sizeof(o));
	assert_int_equal(k8s->enrich(k8s, 1, &rec, &o), 0);
	assert_null(o.container_id);

	int n = 0;
	k8s->stats(k8s, stat_count, &n);
	assert_true(n > 0);
	k8s->report(k8s); /* no kubelet: nothing to say, no crash */
}

/* plain_peer(): vouches for peers on port 80; nat_sources(): one address,
 * or "cannot tell" when the letter is 'u'. */
static bool fake_plain(struct stage *st, const struct sock_record *rec)
{
	(void)st;
	return rec->rport == 80;
}

static const struct net_addr fake_nat = { .family = AF_INET,
					  .addr = { 198, 18, 0, 1 } };

static ssize_t fake_nat_sources(struct stage *st, const struct net_addr **ret)
{
	if (((struct fake_stage *)st)->letter == 'u')
		return -1;
	*ret = &fake_nat;
	return 1;
}

static void test_plain_and_nat(void **state)
{
	(void)state;
	struct stage_list l = { 0 };
	struct sock_record r80 = { .proto = IPPROTO_TCP, .rport = 80 };
	struct sock_record r81 = { .proto = IPPROTO_TCP, .rport = 81 };
	const struct net_addr *v = NULL;

	/* No translating stage: nobody vouches, nobody tells. */
	assert_int_equal(stage_list_add(&l, fake_new('a', true)), 0);
	assert_false(stage_list_plain_peer(&l, &r80));
	assert_int_equal(stage_list_nat_sources(&l, &v), -1);

	/* A translating stage without the callbacks: never sure. */
	struct stage *b = fake_new('b', false);
	b->translate = fake_translate;
	assert_int_equal(stage_list_add(&l, b), 0);
	assert_false(stage_list_plain_peer(&l, &r80));
	assert_int_equal(stage_list_nat_sources(&l, &v), -1);
	stage_list_clear(&l);

	/* One that has them: its word. */
	struct stage *c = fake_new('c', false);
	c->translate = fake_translate;
	c->plain_peer = fake_plain;
	c->nat_sources = fake_nat_sources;
	assert_int_equal(stage_list_add(&l, c), 0);
	assert_true(stage_list_plain_peer(&l, &r80));
	assert_false(stage_list_plain_peer(&l, &r81));
	assert_int_equal(stage_list_nat_sources(&l, &v), 1);
	assert_memory_equal(v, &fake_nat, sizeof(fake_nat));

	/* Two that translate: both must vouch; NAT sources unknown. */
	struct stage *u = fake_new('u', false);
	u->translate = fake_translate;
	u->plain_peer = fake_plain;
	u->nat_sources = fake_nat_sources;
	assert_int_equal(stage_list_add(&l, u), 0);
	assert_true(stage_list_plain_peer(&l, &r80));
	assert_int_equal(stage_list_nat_sources(&l, &v), -1);
	stage_list_clear(&l);

	/* One that cannot tell its NAT sources. */
	u = fake_new('u', false);
	u->translate = fake_translate;
	u->nat_sources = fake_nat_sources;
	assert_int_equal(stage_list_add(&l, u), 0);
	assert_int_equal(stage_list_nat_sources(&l, &v), -1);
	stage_list_clear(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_chain_order, reset),
		cmocka_unit_test_setup(test_translate_order, reset),
		cmocka_unit_test_setup(test_plain_and_nat, reset),
		cmocka_unit_test_setup(test_scan, reset),
		cmocka_unit_test_setup(test_bound, reset),
		cmocka_unit_test_setup(test_process_stage, reset),
		cmocka_unit_test_setup(test_k8s_stage, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
