// SPDX-License-Identifier: MIT
/*
 * The flush's rows as they are streamed to the server (cmdb/flush_data.c):
 * binary COPY layout, primary-key order, duplicate keys detected, nodes
 * merged one row per key.
 */
#include "cmdb/flush_data.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "cmdb_flows.h"

static void test_flush_data_encode(void **s)
{
	(void)s;
	struct cmdb_flush_data d;
	size_t len;
	struct flow fl[4] = {
		mkflow(SOCK_DIR_PASSIVE, "nginx", 80, 2),
		mkflow(SOCK_DIR_ACTIVE, "0123456789abcdef", 0, 3),
		mkflow(SOCK_DIR_PASSIVE, "nginx", 80, 2),
		/* The same nginx process, another client. */
		mkflow(SOCK_DIR_PASSIVE, "nginx", 80, 9),
	};
	fl[0].cmdline = (char *)"a";
	fl[3].cmdline = (char *)"b";
	fl[3].pid = 50;
	fl[3].first_seen_ms = 500;
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 2, 0), 0);
	assert_false(d.dups);
	const char *p = pgcopy_finish(&d.flows, &len);
	assert_non_null(p);
	assert_int_equal(d.flows.rows, 2);
	assert_memory_equal(p, "PGCOPY\n\377\r\n\0", 11);
	/* Primary-key order: the active flow (lport 0) first. 15 fields: its
	 * row number (0), "active" (length 6), "tcp",
	 * then inet 10.0.0.1 as family 2 (PGSQL_AF_INET), 32 bits, not
	 * cidr, 4 bytes. */
	assert_memory_equal(p + 19, "\0\x0f\0\0\0\4\0\0\0\0\0\0\0\6active\0\0\0\3tcp",
			    27);
	assert_memory_equal(p + 46, "\0\0\0\x08\2\x20\0\4\x0a\0\0\1", 12);
	/* Trailer: field count -1. */
	assert_memory_equal(p + len - 2, "\xff\xff", 2);
	/* One node per side. */
	assert_int_equal(d.passive.rows, 1);
	assert_int_equal(d.active.rows, 1);
	assert_int_equal(d.conns.rows, 0);
	cmdb_flush_data_clear(&d);

	/* Connection identities: one row each, (flow row, hashed id). */
	uint64_t ids[] = { 7, 70, 8, 80 }; /* (key, identity) pairs */
	fl[1].conn_ids = ids;
	fl[1].n_conn_ids = 2;
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 2, 99), 0);
	assert_int_equal(d.conns.rows, 2);
	cmdb_flush_data_clear(&d);
	fl[1].conn_ids = NULL;
	fl[1].n_conn_ids = 0;

	/* The same CMDB key twice: the flush must merge in SQL. */
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 3, 0), 0);
	assert_true(d.dups);
	cmdb_flush_data_clear(&d);

	/* Two flows of one passive node: one node row, lowest pid, greatest
	 * text, earliest first_seen. */
	struct flow two[2] = { fl[0], fl[3] };
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, two, 2, 0), 0);
	assert_false(d.dups);
	assert_int_equal(d.flows.rows, 2);
	assert_int_equal(d.passive.rows, 1);
	assert_int_equal(d.active.rows, 0);
	p = pgcopy_finish(&d.passive, &len);
	assert_non_null(p);
	/* After the header: field count, row number (4 + 4), addr (4 + 8),
	 * port (4 + 4), proto (4 + 3), pgid (4 + 8), comm (4 + 5), then pid
	 * and cmdline. */
	assert_memory_equal(p + 19, "\0\x10\0\0\0\4\0\0\0\1", 10);
	assert_memory_equal(p + 77, "\0\0\0\x08\0\0\0\0\0\0\0\x32", 12);
	assert_memory_equal(p + 89, "\0\0\0\1b", 5);
	cmdb_flush_data_clear(&d);

	/* comms that differ only in bytes that are not UTF-8 are the same
	 * text for the server ("a?"): the same flow key, the same node. */
	struct flow bad[2] = { mkflow(SOCK_DIR_PASSIVE, "a\xff", 80, 2),
			       mkflow(SOCK_DIR_PASSIVE, "a\xfe", 80, 2) };
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, bad, 2, 0), 0);
	assert_true(d.dups);
	assert_int_equal(d.passive.rows, 1);
	cmdb_flush_data_clear(&d);
}

/* Equal in every process of one boot, apart across boots, netns and
 * sockets, and a positive bigint. */
static void test_conn_id(void **s)
{
	(void)s;
	int64_t a = cmdb_conn_id(1, 4026531840u, 12345);
	assert_true(a == cmdb_conn_id(1, 4026531840u, 12345));
	assert_true(a >= 0);
	assert_true(a != cmdb_conn_id(2, 4026531840u, 12345));
	assert_true(a != cmdb_conn_id(1, 4026531841u, 12345));
	assert_true(a != cmdb_conn_id(1, 4026531840u, 12346));
	for (uint64_t i = 0; i < 1000; i++)
		assert_true(cmdb_conn_id(i, i * 7, ~i) >= 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_data_encode),
		cmocka_unit_test(test_conn_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
