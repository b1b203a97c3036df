// SPDX-License-Identifier: MIT
/*
 * The API server's ServiceList parser (k8s/services.c) on a fixture in the
 * API server's shape: dual stack, NodePorts, protocols, headless and
 * ExternalName Services, and the items it must skip or trim.
 */
#include "k8s/services.h"

#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_util.h"

static const struct service *find(const struct service_list *l,
				  const char *ns, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->items[i].namespace, ns) &&
		    !strcmp(l->items[i].name, name))
			return &l->items[i];
	return NULL;
}

static void test_services_fixture(void **st)
{
	(void)st;
	size_t len;
	char *buf = fixture_read("apiserver/services.json", &len);
	struct service_list *l = NULL;
	assert_int_equal(services_parse(buf, len, 0, &l), 0);
	/* 8 items: bad-ip and no-uid skipped. */
	assert_int_equal(l->n, 6);
	assert_int_equal(l->skipped, 2);
	assert_null(find(l, "shop", "bad-ip"));
	assert_null(find(l, "shop", "no-uid"));

	const struct service *s = find(l, "shop", "catalog");
	assert_non_null(s);
	assert_string_equal(s->uid, "5b7c2a90-1d3e-4f6a-9b8c-7d6e5f4a0002");
	assert_string_equal(s->type, "NodePort");
	/* clusterIP and clusterIPs overlap: each address once. */
	assert_int_equal(s->n_ips, 2);
	assert_string_equal(s->ips[0], "198.18.162.10");
	assert_string_equal(s->ips[1], "2001:db8:62::a");
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[0].port, 80);
	assert_int_equal(s->ports[0].node_port, 30080);
	assert_int_equal(s->ports[0].proto, IPPROTO_TCP);
	assert_int_equal(s->ports[1].port, 9100);
	assert_int_equal(s->ports[1].node_port, 30091);

	s = find(l, "kube-system", "kube-dns");
	assert_non_null(s);
	assert_int_equal(s->n_ports, 2);
	assert_int_equal(s->ports[0].proto, IPPROTO_UDP);
	assert_string_equal(service_proto_name(s->ports[0].proto), "UDP");
	assert_int_equal(s->ports[1].proto, IPPROTO_TCP);
	assert_int_equal(s->ports[0].node_port, 0);

	/* Headless and ExternalName: no address. */
	s = find(l, "shop", "mysql");
	assert_non_null(s);
	assert_int_equal(s->n_ips, 0);
	assert_int_equal(s->n_ports, 1);
	s = find(l, "shop", "ext");
	assert_non_null(s);
	assert_int_equal(s->n_ips, 0);
	assert_int_equal(s->n_ports, 0);
	assert_string_equal(s->type, "ExternalName");

	/* Out-of-range and mistyped ports dropped; a bad nodePort is none. */
	s = find(l, "shop", "odd-ports");
	assert_non_null(s);
	assert_null(s->type);
	assert_int_equal(s->n_ports, 1);
	assert_int_equal(s->ports[0].port, 8080);
	assert_int_equal(s->ports[0].node_port, 0);
	service_list_free(l);

	/* The bound: the first two kept, the rest counted. */
	assert_int_equal(services_parse(buf, len, 2, &l), 0);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->items[0].name, "kubernetes");
	assert_int_equal(l->skipped, 6);
	service_list_free(l);
	free(buf);
}

static void test_services_bad_input(void **st)
{
	(void)st;
	static const char *const bad[] = {
		"", "<html>502</html>", "{\"kind\":\"PodList\",\"items\":[]}",
		"{\"kind\":\"ServiceList\"}", "[]", "{\"items\":{}}",
		"{\"kind\":\"ServiceList\",\"items\":[",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct service_list *l = NULL;
		assert_int_equal(services_parse(bad[i], strlen(bad[i]), 0, &l),
				 -EINVAL);
		assert_null(l);
	}
	/* Items that are not objects are skipped, not fatal. */
	const char *odd = "{\"items\":[1,null,\"x\",{\"metadata\":7}]}";
	struct service_list *l = NULL;
	assert_int_equal(services_parse(odd, strlen(odd), 0, &l), 0);
	assert_int_equal(l->n, 0);
	assert_int_equal(l->skipped, 4);
	service_list_free(l);
}

/* Every corpus file of the fuzz target parses or is refused, no crash
 * (the fuzzer itself needs clang; this replays its seeds everywhere). */
static void test_services_corpus(void **st)
{
	(void)st;
	static const char *const files[] = { "services.json", "empty.json",
					     "many_ips.json" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char rel[256];
		size_t len;
		snprintf(rel, sizeof(rel), "../fuzz/corpus/services/%s", files[i]);
		char *buf = fixture_read(rel, &len);
		struct service_list *l = NULL;
		assert_int_equal(services_parse(buf, len, 0, &l), 0);
		service_list_free(l);
		free(buf);
	}
	/* At most SERVICE_MAX_IPS addresses, each once. */
	size_t len;
	char *buf = fixture_read("../fuzz/corpus/services/many_ips.json", &len);
	struct service_list *l = NULL;
	assert_int_equal(services_parse(buf, len, 0, &l), 0);
	assert_int_equal(l->items[0].n_ips, SERVICE_MAX_IPS);
	assert_string_equal(l->items[0].ips[1], "1.2.3.4");
	assert_int_equal(l->items[0].ports[0].proto, IPPROTO_SCTP);
	assert_int_equal(l->items[0].ports[0].node_port, 65535);
	service_list_free(l);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_services_fixture),
		cmocka_unit_test(test_services_bad_input),
		cmocka_unit_test(test_services_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
