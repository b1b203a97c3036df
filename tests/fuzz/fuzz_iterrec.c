// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the decoders of the BPF iterators' records (socket,
 * fd-socket and owner records of bpf/iter_record.h): the bytes consumed
 * never exceed the input and are whole records. Seeds: tests/fuzz/corpus/
 * iterrec (made by tests/fuzz/make_seeds.py).
 */
#include "fuzz.h"
#include "probe/iterrec.h"

#include <netinet/in.h>
#include <sys/socket.h>

static int on_rec(const struct sock_record *r, void *ud)
{
	(void)ud;
	FUZZ_ASSERT(r->family == AF_INET || r->family == AF_INET6);
	return 0;
}

static int on_owner(uint32_t tgid, uint64_t inode, void *ud)
{
	(void)tgid, (void)inode, (void)ud;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	size_t used = 0;
	int r = iterrec_decode_socks(buf, size, on_rec, NULL, &used);
	FUZZ_ASSERT(r < 0 || used <= size);
	r = iterrec_decode_fdsocks(buf, size, on_rec, NULL, &used);
	FUZZ_ASSERT(r < 0 || used <= size);
	r = iterrec_decode_owners(buf, size, on_owner, NULL, &used);
	FUZZ_ASSERT(r < 0 || used <= size);
	free(buf);
	return 0;
}
