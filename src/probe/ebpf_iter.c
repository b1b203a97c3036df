// SPDX-License-Identifier: MIT
/*
 * Loader of the polling iterators (bpf/iter.bpf.c), a skeleton of its own so
 * that polling's fast path does not depend on the streaming programs. Part
 * of the probe/ebpf module: libbpf is included here and in ebpf.c only.
 */
#include "probe/ebpf_iter.h"

#include "core/util.h"
#include "iter.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ebpf_iter {
	struct iter_bpf *skel;
	struct bpf_link *links[4];
};

void ebpf_iter_free(struct ebpf_iter *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(it->links); i++)
		bpf_link__destroy(it->links[i]);
	iter_bpf__destroy(it->skel);
	free(it);
}

static int silent_print(enum libbpf_print_level level, const char *fmt,
			va_list ap) __attribute__((format(printf, 2, 0)));
static int silent_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG || !getenv("SHAWK_BPF_VERBOSE"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int ebpf_iter_new(uint32_t tcp_states, uint32_t udp_states,
		  struct ebpf_iter **ret, char *why, size_t why_sz)
{
	struct ebpf_iter *it = calloc(1, sizeof(*it));
	int r;

	if (!it)
		return -ENOMEM;
	libbpf_set_print(silent_print);
	it->skel = iter_bpf__open();
	if (!it->skel) {
		r = -errno;
		snprintf(why, why_sz, "cannot open the iterator object: %s",
			 strerror(-r));
		goto fail;
	}
	it->skel->rodata->tcp_states = tcp_states;
	it->skel->rodata->udp_states = udp_states;
	r = iter_bpf__load(it->skel);
	if (r < 0) {
		snprintf(why, why_sz, "cannot load the BPF iterators: %s",
			 strerror(-r));
		goto fail;
	}
	struct bpf_program *progs[] = {
		[EBPF_ITER_TCP] = it->skel->progs.shawk_iter_tcp,
		[EBPF_ITER_UDP] = it->skel->progs.shawk_iter_udp,
		[EBPF_ITER_OWNERS] = it->skel->progs.shawk_iter_task_file,
		[EBPF_ITER_FDSOCKS] = it->skel->progs.shawk_iter_fd_sock,
	};
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++) {
		it->links[i] = bpf_program__attach_iter(progs[i], NULL);
		if (!it->links[i]) {
			r = -errno;
			snprintf(why, why_sz, "cannot attach %s: %s",
				 bpf_program__section_name(progs[i]),
				 strerror(-r));
			goto fail;
		}
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
	int fd = bpf_iter_create(bpf_link__fd(it->links[kind]));
	return fd < 0 ? -errno : fd;
}
