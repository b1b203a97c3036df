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
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 2), 0);
	assert_false(d.dups);
	const char *p = pgcopy_finish(&d.flows, &len);
	assert_non_null(p);
	assert_int_equal(d.flows.rows, 2);
	assert_memory_equal(p, "PGCOPY\n\377\r\n\0", 11);
	/* Key order: the active flow (lport 0) first. 19 fields: its
	 * row number (0), "active" (length 6), "tcp",
	 * then inet 10.0.0.1 as family 2 (PGSQL_AF_INET), 32 bits, not
	 * cidr, 4 bytes. */
	assert_memory_equal(p + 19, "\0\x13\0\0\0\4\0\0\0\0\0\0\0\6active\0\0\0\3tcp",
			    27);
	assert_memory_equal(p + 46, "\0\0\0\x08\2\x20\0\4\x0a\0\0\1", 12);
	/* Trailer: field count -1. */
	assert_memory_equal(p + len - 2, "\xff\xff", 2);
	/* One node per side. */
	assert_int_equal(d.passive.rows, 1);
	assert_int_equal(d.active.rows, 1);
	cmdb_flush_data_clear(&d);

	/* The same CMDB key twice: the flush must merge in SQL. */
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 3), 0);
	assert_true(d.dups);
	cmdb_flush_data_clear(&d);

	/* Two flows of one passive node: one node row, lowest pid, greatest
	 * text, earliest first_seen. */
	struct flow two[2] = { fl[0], fl[3] };
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, two, 2), 0);
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
	assert_int_equal(cmdb_flush_data_encode(&d, bad, 2), 0);
	assert_true(d.dups);
	assert_int_equal(d.passive.rows, 1);
	cmdb_flush_data_clear(&d);
}

static void test_flush_data_service(void **s)
{
	(void)s;
	struct cmdb_flush_data d;
	size_t len;
	/* One client process calling one backend directly and through a
	 * Service, and a passive flow whose client was source-NATed. */
	struct flow fl[3] = {
		mkflow(SOCK_DIR_ACTIVE, "curl", 0, 62),
		mkflow(SOCK_DIR_ACTIVE, "curl", 0, 62),
		mkflow(SOCK_DIR_PASSIVE, "nginx", 80, 1),
	};
	fl[0].key.svc_addr[0] = 198;
	fl[0].key.svc_addr[1] = 18;
	fl[0].key.svc_addr[2] = 162;
	fl[0].key.svc_addr[3] = 10;
	fl[0].key.svc_port = 80;
	fl[2].key.nat_addr[0] = 198;
	fl[2].key.nat_addr[1] = 18;
	fl[2].key.nat_addr[2] = 62;
	fl[2].key.nat_addr[3] = 7;
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl, 3), 0);
	/* Not the same key: the service is part of it. */
	assert_false(d.dups);
	assert_int_equal(d.flows.rows, 3);
	/* Both active flows name one client process. */
	assert_int_equal(d.active.rows, 1);
	const char *p = pgcopy_finish(&d.flows, &len);
	assert_non_null(p);
	/* Row 0, the direct flow (NULL sorts last, as in the index: the
	 * service flow goes first), row 1 without; each active row is 19
	 * fields: i(8) dir(4+6) proto(4+3) laddr(12) lport(8) raddr(12)
	 * rport(8) netns(12) pgid(12) comm(4+4) container(-1: 4)
	 * conns(12) new(12) first(12) last(12) then the four. */
	size_t row = 2 + 8 + 10 + 7 + 12 + 8 + 12 + 8 + 12 + 12 + 8 + 4 +
		     12 + 12 + 12 + 12;
	const char *r0 = p + 19 + row; /* after the header */
	/* service 198.18.162.10:80, NAT peer NULL NULL. */
	assert_memory_equal(r0, "\0\0\0\x08\2\x20\0\4\xc6\x12\xa2\x0a", 12);
	assert_memory_equal(r0 + 12, "\0\0\0\4\0\0\0\x50", 8);
	assert_memory_equal(r0 + 20, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	/* Row 1 (no service): four NULLs. */
	const char *r1 = r0 + 20 + 8;
	assert_memory_equal(r1 + row, "\xff\xff\xff\xff\xff\xff\xff\xff"
				      "\xff\xff\xff\xff\xff\xff\xff\xff", 16);
	cmdb_flush_data_clear(&d);

	/* The same flow twice with the same service: one key. */
	struct flow two[2] = { fl[0], fl[0] };
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, two, 2), 0);
	assert_true(d.dups);
	cmdb_flush_data_clear(&d);

	/* The NAT peer with port 0 ("many") is recorded: address, port 0. */
	cmdb_flush_data_init(&d);
	assert_int_equal(cmdb_flush_data_encode(&d, fl + 2, 1), 0);
	p = pgcopy_finish(&d.flows, &len);
	assert_non_null(p);
	/* Trailer (2 bytes) after: NULL NULL, inet 198.18.62.7, int4 0. */
	assert_memory_equal(p + len - 2 - 28,
			    "\xff\xff\xff\xff\xff\xff\xff\xff"
			    "\0\0\0\x08\2\x20\0\4\xc6\x12\x3e\x07"
			    "\0\0\0\4\0\0\0\0", 28);
	cmdb_flush_data_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flush_data_encode),
		cmocka_unit_test(test_flush_data_service),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
