// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the sock_diag dump parser (a datagram of
 * NETLINK_SOCK_DIAG replies): every record it hands out has a valid family
 * and protocol. Seeds: the .bin files of tests/fixtures/sockdiag.
 */
#include "fuzz.h"
#include "probe/sockdiag.h"

#include <netinet/in.h>
#include <sys/socket.h>

static int on_rec(const struct sock_record *r, void *ud)
{
	size_t *n = ud;
	FUZZ_ASSERT(r->family == AF_INET || r->family == AF_INET6);
	FUZZ_ASSERT(r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP);
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The sequence of the first message, so the fuzzer need not guess
	 * it (others are skipped as stale, which is also covered). */
	uint32_t seq = 0;
	if (size >= 12)
		memcpy(&seq, data + 8, sizeof(seq));
	/* A copy of exactly size bytes: ASan sees any overread. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t n = 0;
	int r = sockdiag_parse(buf, size, seq, IPPROTO_TCP, 4026531840u,
			       on_rec, &n);
	FUZZ_ASSERT(r <= 1);
	sockdiag_parse(buf, size, seq, IPPROTO_UDP, 1, on_rec, &n);
	free(buf);
	return 0;
}
