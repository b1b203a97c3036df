// SPDX-License-Identifier: MIT
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/flow.h"
#include "core/utf8.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static const struct {
	const char *in;
	const char *out;
} cases[] = {
	{ "nginx", "nginx" },
	{ "", "" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" },		     /* é */
	{ "\xe2\x82\xac", "\xe2\x82\xac" },		     /* € */
	{ "\xf0\x9f\x90\xb3", "\xf0\x9f\x90\xb3" },	     /* 4-byte */
	{ "a\xffz", "a?z" },				     /* never valid */
	{ "\xc3", "?" },				     /* truncated */
	{ "\xc0\xaf", "??" },				     /* overlong '/' */
	{ "\xe0\x80\xaf", "???" },			     /* overlong */
	{ "\xed\xa0\x80", "???" },			     /* surrogate */
	{ "\xf4\x90\x80\x80", "????" },			     /* > U+10FFFF */
	{ "\x80x", "?x" },				     /* lone continuation */
	{ "ok\xe2\x82", "ok??" },			     /* cut by comm's 15 bytes */
};

static void test_sanitize_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		strcpy(buf, cases[i].in);
		bool changed = utf8_sanitize(buf);
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(changed, strcmp(cases[i].in, cases[i].out) != 0);
		assert_true(utf8_valid(buf));
		assert_int_equal(utf8_valid(cases[i].in), !changed);
	}
}

/* Decodes the sequence at s and checks the code point: the definition
 * utf8_seq_len()'s byte ranges must agree with. */
static size_t ref_seq_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] < 0xc0 ? 0 : s[0] < 0xe0 ? 2
		 : s[0] < 0xf0 ? 3 : s[0] < 0xf8 ? 4 : 0;
	uint32_t cp = n == 1 ? s[0] : s[0] & (0x7f >> n);
	if (n == 0)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Every first and second byte, with continuation, ASCII or NUL after. */
static void test_seq_len_exhaustive(void **state)
{
	(void)state;
	static const unsigned char tail[] = { 0x80, 0xbf, 0x41, 0x00 };
	for (unsigned b0 = 1; b0 < 256; b0++)
		for (unsigned b1 = 0; b1 < 256; b1++)
			for (size_t t = 0; t < sizeof(tail); t++) {
				unsigned char s[5] = { (unsigned char)b0,
						       (unsigned char)b1,
						       tail[t], tail[t], 0 };
				if (utf8_seq_len(s) != ref_seq_len(s))
					fail_msg("%02x %02x %02x: %zu, want %zu",
						 b0, b1, tail[t],
						 utf8_seq_len(s),
						 ref_seq_len(s));
			}
}

static int enrich_bad(uint32_t pid, const struct sock_record *rec,
		      struct flow_owner *ret, void *ud)
{
	(void)rec;
	(void)ud;
	ret->pid = pid;
	ret->pgid = pid;
	strcpy(ret->comm, "x\xff\xfe");
	ret->cmdline = "run \xc3 now";
	return 0;
}

/* Whatever a process calls itself, a flow carries valid UTF-8 only. */
static void test_flow_strings_sanitized(void **state)
{
	(void)state;
	struct flow_table *t = flow_table_new(0, 0);
	struct sock_record r = { 0 };
	assert_non_null(t);
	r.proto = IPPROTO_TCP;
	r.family = AF_INET;
	r.state = TCP_ESTABLISHED;
	r.lport = 40000;
	r.rport = 80;
	memcpy(r.laddr, "\x0a\x00\x00\x01", 4);
	memcpy(r.raddr, "\x0a\x00\x00\x02", 4);
	r.pid = 42;
	r.cookie = 7;
	r.netns = 1;
	assert_int_equal(flow_table_ingest(t, &r, 1, true, 1000, enrich_bad, NULL), 1);
	const struct flow *f = flow_table_flows(t);
	assert_string_equal(f->key.comm, "x??");
	assert_string_equal(f->cmdline, "run ? now");
	flow_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize_table),
		cmocka_unit_test(test_seq_len_exhaustive),
		cmocka_unit_test(test_flow_strings_sanitized),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
