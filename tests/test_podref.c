// SPDX-License-Identifier: MIT
/* Pod references "[NS/]NAME" (src/k8s/podref.c), as `look --pod` and serve take them. */
#include "k8s/podref.h"
#include "core/util.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static void test_pod_parse(void **s)
{
	(void)s;
	char ns[64], name[64];
	assert_int_equal(pod_ref_parse("default/nginx-7c5d8", ns, sizeof(ns),
					name, sizeof(name)),
			 0);
	assert_string_equal(ns, "default");
	assert_string_equal(name, "nginx-7c5d8");
	assert_int_equal(pod_ref_parse("nginx", ns, sizeof(ns), name,
					sizeof(name)),
			 0);
	assert_string_equal(ns, "");
	assert_string_equal(name, "nginx");
	static const char *const bad[] = { "", "/x", "ns/", "a/b/c" };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(pod_ref_parse(bad[i], ns, sizeof(ns), name,
						sizeof(name)),
				 -EINVAL);
	assert_int_equal(pod_ref_parse("abcdefgh/x", ns, 4, name,
					sizeof(name)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
