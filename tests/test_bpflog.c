// SPDX-License-Identifier: MIT
/*
 * The verifier's reason taken from a load log, and the deny list of the
 * BPF loaders (SHAWK_BPF_DENY).
 */
#include "probe/bpflog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* The tail of kernel 6.18's log refusing the fd walk before its fix. */
static const char refused[] =
	"99: (7b) *(u64 *)(r10 -64) = r2       ; R2=scalar(id=11)\n"
	"; r->cookie = bpf_get_socket_cookie(sk); @ iter.bpf.c:88\n"
	"100: (85) call bpf_get_socket_cookie#46\n"
	"R1 type=untrusted_ptr_ expected=sock_common, sock, tcp_sock, "
	"xdp_sock, ptr_, trusted_ptr_\n"
	"verification time 840 usec\n"
	"stack depth 88\n"
	"processed 77 insns (limit 1000000) max_states_per_insn 0 "
	"total_states 5 peak_states 5 mark_read 0\n";

static void reason_with_insn(void **state)
{
	(void)state;
	char out[256];
	bpflog_reason(refused, out, sizeof(out));
	assert_string_equal(out,
			    "R1 type=untrusted_ptr_ expected=sock_common, sock, "
			    "tcp_sock, xdp_sock, ptr_, trusted_ptr_ (at 100: "
			    "(85) call bpf_get_socket_cookie#46)");
}

static void reason_plain_and_empty(void **state)
{
	(void)state;
	char out[64];
	bpflog_reason("unknown func bpf_foo#999\n\nprocessed 3 insns\n", out,
		      sizeof(out));
	assert_string_equal(out, "unknown func bpf_foo#999");
	bpflog_reason("processed 3 insns\n", out, sizeof(out));
	assert_string_equal(out, "");
	bpflog_reason("", out, sizeof(out));
	assert_string_equal(out, "");
	/* Truncated to the buffer, still terminated. */
	bpflog_reason("a very long reason that does not fit\n", out, 8);
	assert_string_equal(out, "a very ");
}

static void deny_list(void **state)
{
	(void)state;
	assert_true(bpflog_list_has("a,b", "a"));
	assert_true(bpflog_list_has("a, b ", "b"));
	assert_true(bpflog_list_has(" light-skeleton", "light-skeleton"));
	assert_false(bpflog_list_has("ab,c", "a"));
	assert_false(bpflog_list_has("a,b", "ab"));
	assert_false(bpflog_list_has("", "a"));
	assert_false(bpflog_list_has(NULL, "a"));
	assert_false(bpflog_list_has(",,", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reason_with_insn),
		cmocka_unit_test(reason_plain_and_empty),
		cmocka_unit_test(deny_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
