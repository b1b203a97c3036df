// SPDX-License-Identifier: MIT
/*
 * Loader of the polling iterators (bpf/iter.bpf.c), a skeleton of its own so
 * that polling's fast path does not depend on the streaming programs. Part
 * of the probe/ebpf module: libbpf is included here and in ebpf.c only.
 */
#include "probe/ebpf_iter.h"

#include "core/util.h"
/* A light skeleton: its loader program has the kernel apply the CO-RE
 * relocations against its own BTF, so no 5.5 MB vmlinux BTF is read and
 * parsed in user space at every start (most of what loading cost). */
#include "iter.lskel.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ebpf_iter {
	struct iter_lskel *skel;
	int links[4];
};

void ebpf_iter_free(struct ebpf_iter *it)
{
	if (!it)
		return;
	/* Closes the links and programs. */
	if (it->skel)
		iter_lskel__destroy(it->skel);
	free(it);
}

int ebpf_iter_new(uint32_t tcp_states, uint32_t udp_states,
		  struct ebpf_iter **ret, char *why, size_t why_sz)
{
	struct ebpf_iter *it = calloc(1, sizeof(*it));
	int r;

	if (!it)
		return -ENOMEM;
	it->skel = iter_lskel__open();
	if (!it->skel) {
		r = -ENOMEM;
		snprintf(why, why_sz, "cannot open the iterator object: %s",
			 strerror(-r));
		goto fail;
	}
	it->skel->rodata->tcp_states = tcp_states;
	it->skel->rodata->udp_states = udp_states;
	r = iter_lskel__load(it->skel);
	if (r < 0) {
		snprintf(why, why_sz, "cannot load the BPF iterators: %s",
			 strerror(-r));
		goto fail;
	}
	static const char *const names[] = {
		[EBPF_ITER_TCP] = "iter/tcp",
		[EBPF_ITER_UDP] = "iter/udp",
		[EBPF_ITER_OWNERS] = "iter/task_file (owners)",
		[EBPF_ITER_FDSOCKS] = "iter/task_file (sockets)",
	};
	int (*const attach[])(struct iter_lskel *) = {
		[EBPF_ITER_TCP] = iter_lskel__shawk_iter_tcp__attach,
		[EBPF_ITER_UDP] = iter_lskel__shawk_iter_udp__attach,
		[EBPF_ITER_OWNERS] = iter_lskel__shawk_iter_task_file__attach,
		[EBPF_ITER_FDSOCKS] = iter_lskel__shawk_iter_fd_sock__attach,
	};
	_Static_assert(ARRAY_SIZE(attach) == ARRAY_SIZE(it->links), "links");
	for (size_t i = 0; i < ARRAY_SIZE(attach); i++) {
		/* bpf(2) itself: -1 and errno on failure. */
		int fd = attach[i](it->skel);
		if (fd <= 0) {
			r = fd < 0 && errno ? -errno : -EINVAL;
			snprintf(why, why_sz, "cannot attach %s: %s", names[i],
				 strerror(-r));
			goto fail;
		}
		it->links[i] = fd;
	}
	*ret = it;
	return 0;
fail:
	ebpf_iter_free(it);
	return r < 0 ? r : -EINVAL;
}

int ebpf_iter_open(const struct ebpf_iter *it, enum ebpf_iter_kind kind)
{
	if ((size_t)kind >= ARRAY_SIZE(it->links))
		return -EINVAL;
	/* The iterator fd is O_CLOEXEC (bpf(2) BPF_ITER_CREATE sets it). */
	int fd = bpf_iter_create(it->links[kind]);
	return fd < 0 ? -errno : fd;
}
