// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's early lookups (agent/stage_conntrack_early.c):
 * which records partial() hands over while the source reads (blocks of
 * tuples that look active), and what scan() keeps of their answers
 * (ct_early_marks(): by place, by tuple when records moved, nothing for a
 * tuple that changed or when the early lookups failed). The thread that
 * looks the blocks up is stood in for: its answers are written here.
 */
#include "agent/stage_conntrack_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

static struct sock_record conn(uint64_t netns, uint8_t state, uint8_t dir,
			       uint16_t lport, uint16_t rport)
{
	struct sock_record x = { .family = AF_INET, .proto = IPPROTO_TCP,
				 .state = state, .dir = dir, .lport = lport,
				 .rport = rport, .netns = netns };
	inet_pton(AF_INET, "198.18.71.10", x.laddr);
	inet_pton(AF_INET, rport ? "198.18.71.250" : "0.0.0.0", x.raddr);
	return x;
}

static struct stage_conntrack *stage(void)
{
	struct stage_conntrack *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	assert_int_equal(ct_early_init(&c->early), 0);
	c->polling = true;
	c->lk_state = CT_LK_UNTRIED; /* offered: a one-shot polling scan */
	ct_early_begin(c);
	assert_true(c->early.on);
	return c;
}

static void stage_free_(struct stage_conntrack *c)
{
	ct_early_free(&c->early);
	free(c);
}

static void test_partial_takes_active(void **state)
{
	(void)state;
	struct stage_conntrack *c = stage();
	struct ct_early *e = &c->early;
	struct sock_record r[] = {
		conn(1, TCP_LISTEN, SOCK_DIR_UNKNOWN, 8080, 0),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_UNKNOWN, 8080, 40000),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_UNKNOWN, 40001, 80),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_PASSIVE, 40002, 80),
		/* its listener comes later: taken, scan() decides */
		conn(2, TCP_ESTABLISHED, SOCK_DIR_UNKNOWN, 9090, 40003),
		conn(2, TCP_LISTEN, SOCK_DIR_UNKNOWN, 9090, 0),
		conn(2, TCP_ESTABLISHED, SOCK_DIR_ACTIVE, 8080, 81),
		/* the listener's port, another netns: active */
		conn(2, TCP_ESTABLISHED, SOCK_DIR_UNKNOWN, 8080, 40004),
	};
	ct_partial(&c->base, r, 3);
	ct_partial(&c->base, r, 8);
	assert_int_equal(e->seen, 8);
	assert_int_equal(e->nblk, 0); /* less than a block: kept */
	ct_early_end(e);
	assert_false(e->on);
	assert_int_equal(e->nblk, 1);
	const struct ct_early_block *b = e->blk[0];
	assert_int_equal(b->n, 4);
	assert_int_equal(b->rec[0], 2);
	assert_int_equal(b->rec[1], 4);
	assert_int_equal(b->rec[2], 6);
	assert_int_equal(b->rec[3], 7);
	assert_int_equal(b->q[0].sport, 40001);
	assert_int_equal(b->q[0].dport, 80);
	assert_int_equal(b->q[0].family, AF_INET);
	assert_memory_equal(b->q[0].src, r[2].laddr, 4);
	assert_memory_equal(b->q[0].dst, r[2].raddr, 4);
	/* No more once ended (scan() has the records). */
	ct_partial(&c->base, r, 8);
	assert_int_equal(e->nblk, 1);
	stage_free_(c);
}

static void test_partial_blocks(void **state)
{
	(void)state;
	struct stage_conntrack *c = stage();
	struct ct_early *e = &c->early;
	size_t n = 2 * CT_EARLY_BLOCK + 100;
	struct sock_record *r = calloc(n, sizeof(*r));
	assert_non_null(r);
	for (size_t i = 0; i < n; i++)
		r[i] = conn(1, TCP_ESTABLISHED, SOCK_DIR_ACTIVE,
			    (uint16_t)(10000 + i), 80);
	ct_partial(&c->base, r, CT_EARLY_BLOCK + 1);
	assert_int_equal(e->nblk, 1); /* a full block: handed over */
	ct_partial(&c->base, r, n);
	assert_int_equal(e->nblk, 2);
	/* The thread is gone (closed): partial() stops taking records. */
	ct_early_close(e);
	ct_early_end(e);
	assert_int_equal(e->nblk, 2);
	assert_int_equal(e->blk[1]->rec[0], CT_EARLY_BLOCK);
	/* What was looked up is not enough for marks: not every block. */
	e->ino = 7;
	e->looked = 1;
	assert_int_equal(ct_early_marks(c, r, n), 0);
	free(r);
	stage_free_(c);
}

/* The stand-in thread: every block looked up, slot 0 found. */
static void looked_up(struct ct_early *e, const struct sock_record *r)
{
	e->ino = 7;
	e->looked = e->nblk;
	e->v = calloc(1, sizeof(*e->v));
	e->vslot = calloc(1, sizeof(*e->vslot));
	assert_non_null(e->v);
	assert_non_null(e->vslot);
	e->cap_v = e->nv = 1;
	e->v[0].nat = CT_NAT_DST;
	e->v[0].osport = r->lport;
	e->vslot[0] = 0;
}

static void test_marks(void **state)
{
	(void)state;
	struct stage_conntrack *c = stage();
	struct ct_early *e = &c->early;
	struct sock_record r[] = {
		conn(1, TCP_LISTEN, SOCK_DIR_UNKNOWN, 8080, 0),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_ACTIVE, 40000, 80),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_ACTIVE, 40001, 80),
		conn(1, TCP_ESTABLISHED, SOCK_DIR_ACTIVE, 40002, 80),
	};
	ct_partial(&c->base, r, 4);
	ct_early_end(e);
	looked_up(e, &r[1]);
	/* The same records: by place; record 1's entry, 2 and 3 none. */
	assert_int_equal(ct_early_marks(c, r, 4), 3);
	assert_int_equal(e->mark[0], 0);
	assert_int_equal(e->mark[1], 1);
	assert_int_equal(e->mark[2], CT_EARLY_MISS);
	assert_int_equal(e->mark[3], CT_EARLY_MISS);

	/* The source dropped the listener (read its netns again): the
	 * tuples found at their new places; one tuple changed: not
	 * answered; a record read after the last partial(): none. */
	struct sock_record f[] = { r[1], r[2], r[3], r[3] };
	f[1].lport = 40009;
	f[3].lport = 40010;
	assert_int_equal(ct_early_marks(c, f, 4), 2);
	assert_int_equal(e->mark[0], 1);
	assert_int_equal(e->mark[1], 0);
	assert_int_equal(e->mark[2], CT_EARLY_MISS);
	assert_int_equal(e->mark[3], 0);

	/* A failed lookup (or none: no netns): nothing early counts. */
	e->err = -EIO;
	assert_int_equal(ct_early_marks(c, r, 4), 0);
	e->err = 0;
	e->ino = 0;
	assert_int_equal(ct_early_marks(c, r, 4), 0);
	stage_free_(c);
}

static void test_not_offered(void **state)
{
	(void)state;
	struct stage_conntrack *c = stage();
	struct sock_record r[] = {
		conn(1, TCP_ESTABLISHED, SOCK_DIR_ACTIVE, 40000, 80),
	};
	/* A daemon (events), or the lookup refused: nothing is taken. */
	c->events = true;
	ct_early_begin(c);
	assert_false(c->early.on);
	c->events = false;
	c->lk_state = CT_LK_REFUSED;
	ct_early_begin(c);
	ct_partial(&c->base, r, 1);
	ct_early_end(&c->early);
	assert_int_equal(c->early.nblk, 0);
	assert_int_equal(ct_early_marks(c, r, 1), 0);
	stage_free_(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partial_takes_active),
		cmocka_unit_test(test_partial_blocks),
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_not_offered),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
