// SPDX-License-Identifier: MIT
/*
 * The conntrack stage's nat_sources() (agent/stage_conntrack_match.c) on a
 * table filled by hand: the reply destinations of source-NATed entries,
 * once each, sorted, with the agent's own addresses; none of a
 * DNAT-only entry; -1 past the bound. And net_addr_sort_unique()
 * (core/record.h), which the eBPF source uses to diff two sets.
 */
#include "agent/stage_conntrack_int.h"
#include "conntrack/ct.h"
#include "core/record.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_util.h"

/* A stage with just what nat_sources() reads: the table, a completed
 * scan, the set and its index (as stage_conntrack_new() makes them). */
static struct stage_conntrack *test_stage_make(void)
{
	struct stage_conntrack *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	c->ct = ct_table_new(0);
	c->nat = calloc(NAT_SOURCES_MAX, sizeof(*c->nat));
	assert_non_null(c->ct);
	assert_non_null(c->nat);
	assert_int_equal(
		hindex_reserve(&c->nat_index, NAT_SOURCES_MAX, NULL, NULL), 0);
	c->gen = 1;
	return c;
}

static void test_stage_free(struct stage_conntrack *c)
{
	ct_table_free(c->ct);
	free(c->nat);
	hindex_free(&c->nat_index);
	free(c);
}

/* client -> dialed, answered by backend to reply_dst (v4). */
static void add_v4(struct stage_conntrack *c, const char *client,
		   uint16_t cport, const char *dialed, const char *backend,
		   const char *reply_dst, uint8_t nat)
{
	struct ct_entry e = { .family = AF_INET, .proto = IPPROTO_TCP,
			      .nat = nat, .osport = cport, .odport = 80,
			      .rsport = 8080, .rdport = cport };
	assert_int_equal(inet_pton(AF_INET, client, e.osrc), 1);
	assert_int_equal(inet_pton(AF_INET, dialed, e.odst), 1);
	assert_int_equal(inet_pton(AF_INET, backend, e.rsrc), 1);
	assert_int_equal(inet_pton(AF_INET, reply_dst, e.rdst), 1);
	assert_int_equal(ct_table_add(c->ct, &e), 0);
}

static bool has(const struct net_addr *v, size_t n, uint8_t family,
		const char *text)
{
	struct net_addr a = { .family = family };
	assert_int_equal(inet_pton(family, text, a.addr), 1);
	for (size_t i = 0; i < n; i++)
		if (!net_addr_cmp(&v[i], &a))
			return true;
	return false;
}

/* The agent's own non-loopback addresses, as nat_sources() reads them. */
static size_t own_addrs(struct net_addr *out, size_t max)
{
	struct addrs_job j = { 0 };
	assert_int_equal(ct_local_addrs(&j), 0);
	size_t n = 0;
	for (size_t i = 0; i < j.n && n < max; i++) {
		static const uint8_t v6lo[16] = { [15] = 1 };
		const uint8_t *a = j.addr[i] + 1;
		if (j.addr[i][0] == AF_INET ? a[0] == 127 : !memcmp(a, v6lo, 16))
			continue;
		out[n].family = j.addr[i][0];
		memcpy(out[n++].addr, a, 16);
	}
	free(j.addr);
	return n;
}

static bool drop_150(const struct ct_entry *e, void *ud)
{
	(void)ud;
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, "198.18.9.150", &a), 1);
	return !memcmp(e->rdst, &a, sizeof(a));
}

/* Later scans: the set is built again only when an SNAT source may have
 * changed (ct_table_snat_version()), not for a DNAT-only entry nor for an
 * entry seen again as it was. */
static void test_nat_sources_version(struct stage_conntrack *c, ssize_t n)
{
	const struct net_addr *w = NULL;
	uint64_t builds = c->nat_builds;
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	add_v4(c, "198.18.9.9", 40007, "198.18.9.10", "198.18.9.11",
	       "198.18.9.9", CT_NAT_DST);
	add_v4(c, "198.18.9.8", 40006, "198.18.9.2", "198.18.9.3",
	       "198.18.9.150", CT_NAT_SRC);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	assert_int_equal(c->nat_builds, builds);
	/* The same tuple now NATed to another address: built again. */
	add_v4(c, "198.18.9.8", 40006, "198.18.9.2", "198.18.9.3",
	       "198.18.9.151", CT_NAT_SRC);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	assert_int_equal(c->nat_builds, builds + 1);
	assert_true(has(w, (size_t)n, AF_INET, "198.18.9.151"));
	assert_false(has(w, (size_t)n, AF_INET, "198.18.9.150"));
	/* Purged: gone; after a clear: only the own addresses. */
	assert_int_equal(ct_table_purge(c->ct, drop_150, NULL), 0);
	add_v4(c, "198.18.9.12", 40008, "198.18.9.2", "198.18.9.3",
	       "198.18.9.150", CT_NAT_SRC);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n + 1);
	assert_int_equal(ct_table_purge(c->ct, drop_150, NULL), 1);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	assert_int_equal(c->nat_builds, builds + 3);
	ct_table_clear(c->ct);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), (ssize_t)c->nlocal);
}

static void test_nat_sources_set(void **state)
{
	(void)state;
	struct stage_conntrack *c = test_stage_make();
	/* Three masqueraded connections to one address, one to another,
	 * one DNAT-only (reply destination = the client: not a source). */
	add_v4(c, "198.18.9.1", 40001, "198.18.9.2", "198.18.9.3",
	       "198.18.9.200", CT_NAT_SRC);
	add_v4(c, "198.18.9.4", 40002, "198.18.9.2", "198.18.9.3",
	       "198.18.9.200", CT_NAT_SRC | CT_NAT_DST);
	add_v4(c, "198.18.9.5", 40003, "198.18.9.2", "198.18.9.3",
	       "198.18.9.200", CT_NAT_SRC);
	add_v4(c, "198.18.9.6", 40004, "198.18.9.2", "198.18.9.3",
	       "198.18.9.100", CT_NAT_SRC);
	add_v4(c, "198.18.9.7", 40005, "198.18.9.10", "198.18.9.11",
	       "198.18.9.7", CT_NAT_DST);

	const struct net_addr *v = NULL;
	ssize_t n = ct_nat_sources(&c->base, &v);
	assert_true(n >= 2);
	assert_true(has(v, (size_t)n, AF_INET, "198.18.9.200"));
	assert_true(has(v, (size_t)n, AF_INET, "198.18.9.100"));
	assert_false(has(v, (size_t)n, AF_INET, "198.18.9.7"));
	assert_false(has(v, (size_t)n, AF_INET, "127.0.0.1"));
	/* Sorted, each address once. */
	for (ssize_t i = 1; i < n; i++)
		assert_true(net_addr_cmp(&v[i - 1], &v[i]) < 0);
	/* The agent's own addresses are in it. */
	struct net_addr own[NAT_LOCAL_MAX];
	size_t nown = own_addrs(own, NAT_LOCAL_MAX);
	for (size_t i = 0; i < nown; i++) {
		bool found = false;
		for (ssize_t k = 0; k < n; k++)
			found |= !net_addr_cmp(&v[k], &own[i]);
		assert_true(found);
	}
	assert_int_equal((size_t)n, 2 + nown -
		(has(own, nown, AF_INET, "198.18.9.200") ? 1 : 0) -
		(has(own, nown, AF_INET, "198.18.9.100") ? 1 : 0));

	/* The same scan: the same answer, not rebuilt. A new scan with a
	 * new entry: rebuilt. */
	const struct net_addr *w = NULL;
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	assert_ptr_equal(w, v);
	add_v4(c, "198.18.9.8", 40006, "198.18.9.2", "198.18.9.3",
	       "198.18.9.150", CT_NAT_SRC);
	assert_int_equal(ct_nat_sources(&c->base, &w), n);
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &w), n + 1);
	assert_true(has(w, (size_t)n + 1, AF_INET, "198.18.9.150"));
	test_nat_sources_version(c, n + 1);
	test_stage_free(c);
}

static void test_nat_sources_unknown(void **state)
{
	(void)state;
	struct stage_conntrack *c = test_stage_make();
	const struct net_addr *v = NULL;
	/* No scan completed yet; then a failed dump. */
	c->gen = 0;
	assert_int_equal(ct_nat_sources(&c->base, &v), -1);
	c->gen = 1;
	c->last_err = -EPERM;
	assert_int_equal(ct_nat_sources(&c->base, &v), -1);
	c->last_err = 0;
	/* More distinct sources than the set holds. */
	char dst[32];
	for (int i = 0; i < NAT_SOURCES_MAX + 10; i++) {
		snprintf(dst, sizeof(dst), "198.19.%d.%d", i / 250, i % 250 + 1);
		add_v4(c, "198.18.9.1", (uint16_t)(1000 + i), "198.18.9.2",
		       "198.18.9.3", dst, CT_NAT_SRC);
	}
	c->gen++;
	assert_int_equal(ct_nat_sources(&c->base, &v), -1);
	test_stage_free(c);
}

static void test_sort_unique(void **state)
{
	(void)state;
	struct net_addr v[6] = { { AF_INET6, { 1 } }, { AF_INET, { 9 } },
				 { AF_INET, { 1 } },  { AF_INET6, { 1 } },
				 { AF_INET, { 9 } },  { AF_INET, { 1, 2 } } };
	assert_int_equal(net_addr_sort_unique(v, 6), 4);
	assert_int_equal(v[0].family, AF_INET);
	assert_int_equal(v[0].addr[0], 1);
	assert_int_equal(v[0].addr[1], 0);
	assert_int_equal(v[1].addr[1], 2);
	assert_int_equal(v[2].addr[0], 9);
	assert_int_equal(v[3].family, AF_INET6);
	assert_int_equal(net_addr_sort_unique(v, 1), 1);
	assert_int_equal(net_addr_sort_unique(v, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nat_sources_set),
		cmocka_unit_test(test_nat_sources_unknown),
		cmocka_unit_test(test_sort_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
