// SPDX-License-Identifier: MIT
/*
 * Loader of the polling iterators (bpf/iter.bpf.c), skeletons of their own
 * so that polling's fast path does not depend on the streaming programs.
 * Part of the probe/ebpf module: libbpf is included here and in ebpf.c only.
 *
 * Every program is tried alone, so that a kernel refusing one (6.18's
 * verifier refused the fd walk's cookie read until it read the field)
 * costs only that one: first its light skeleton, whose loader program has
 * the kernel apply the CO-RE relocations against its own BTF (no 5.5 MB
 * vmlinux BTF read and parsed in user space at every start); where the
 * kernel refuses loader programs, the regular skeleton, with the refused
 * programs switched off by bpf_program__set_autoload(false).
 */
#include "probe/ebpf_iter.h"

#include "core/util.h"
#include "probe/bpflog.h"
#include "iter.skel.h"
#include "iter_fdsock.lskel.h"
#include "iter_owners.lskel.h"
#include "iter_tcp.lskel.h"
#include "iter_udp.lskel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A refused program's log: the verifier's last lines are what we keep. */
#define VERIFIER_LOG_SZ (1u << 20)

struct ebpf_iter {
	void *light[EBPF_ITER_KINDS];
	struct iter_bpf *regular;
	struct bpf_link *rlinks[EBPF_ITER_KINDS];
	int links[EBPF_ITER_KINDS];
	enum ebpf_iter_via via[EBPF_ITER_KINDS];
	char off[EBPF_ITER_KINDS][224];
};

static const char *const prog_names[EBPF_ITER_KINDS] = {
	[EBPF_ITER_TCP] = "shawk_iter_tcp",
	[EBPF_ITER_UDP] = "shawk_iter_udp",
	[EBPF_ITER_OWNERS] = "shawk_iter_task_file",
	[EBPF_ITER_FDSOCKS] = "shawk_iter_fd_sock",
};

static const char *const kind_names[EBPF_ITER_KINDS] = {
	[EBPF_ITER_TCP] = "iter/tcp",
	[EBPF_ITER_UDP] = "iter/udp",
	[EBPF_ITER_OWNERS] = "iter/task_file (owners)",
	[EBPF_ITER_FDSOCKS] = "iter/task_file (fd walk)",
};

const char *ebpf_iter_prog_name(enum ebpf_iter_kind kind)
{
	return (size_t)kind < EBPF_ITER_KINDS ? prog_names[kind] : "?";
}

const char *ebpf_iter_kind_name(enum ebpf_iter_kind kind)
{
	return (size_t)kind < EBPF_ITER_KINDS ? kind_names[kind] : "?";
}

/* ---- light skeletons: one per program ---------------------------------- */

/*
 * Opens, loads and attaches the light skeleton of one program; log: where
 * the kernel writes the verifier's log of the loader and of the program
 * (NULL: none, the first try). Returns 0 with *ret and *ret_link, or -errno.
 */
#define LIGHT(k, prog)							\
	static void light_free_##k(void *s)				\
	{								\
		iter_##k##_lskel__destroy(s);				\
	}								\
	static int light_load_##k(uint32_t tcp, uint32_t udp, char *log, \
				  void **ret, int *ret_link)		\
	{								\
		struct iter_##k##_lskel *s = iter_##k##_lskel__open();	\
		int r;							\
		if (!s)							\
			return -ENOMEM;					\
		s->rodata->tcp_states = tcp;				\
		s->rodata->udp_states = udp;				\
		if (log) {						\
			log[0] = '\0';					\
			s->ctx.log_level = 1;				\
			s->ctx.log_size = VERIFIER_LOG_SZ;		\
			s->ctx.log_buf = (uint64_t)(uintptr_t)log;	\
		}							\
		r = iter_##k##_lskel__load(s);				\
		if (r == 0) {						\
			errno = 0;					\
			r = iter_##k##_lskel__##prog##__attach(s);	\
			if (r <= 0)					\
				r = r < 0 && errno ? -errno : -EINVAL;	\
		}							\
		if (r < 0) {						\
			iter_##k##_lskel__destroy(s);			\
			return r;					\
		}							\
		*ret = s;						\
		*ret_link = r;						\
		return 0;						\
	}

LIGHT(tcp, shawk_iter_tcp)
LIGHT(udp, shawk_iter_udp)
LIGHT(owners, shawk_iter_task_file)
LIGHT(fdsock, shawk_iter_fd_sock)

static const struct {
	int (*load)(uint32_t, uint32_t, char *, void **, int *);
	void (*free)(void *);
} light_ops[EBPF_ITER_KINDS] = {
	[EBPF_ITER_TCP] = { light_load_tcp, light_free_tcp },
	[EBPF_ITER_UDP] = { light_load_udp, light_free_udp },
	[EBPF_ITER_OWNERS] = { light_load_owners, light_free_owners },
	[EBPF_ITER_FDSOCKS] = { light_load_fdsock, light_free_fdsock },
};

/* The kernel runs light skeletons' loader programs (5.17+). */
static bool light_loader_ok(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_SYSCALL,
				       BPF_FUNC_btf_find_by_name_kind,
				       NULL) == 1;
}

/*
 * Program kind by its light skeleton. Returns 0 when it runs; -EAGAIN
 * when the kernel refuses light skeletons' loaders (the regular skeleton's
 * turn); another -errno when the kernel refuses the program (it->off says
 * why).
 */
static int light_try(struct ebpf_iter *it, size_t k, uint32_t tcp,
		     uint32_t udp, char **log)
{
	int r = light_ops[k].load(tcp, udp, NULL, &it->light[k],
				  &it->links[k]);
	if (r == 0) {
		it->via[k] = EBPF_ITER_LIGHT;
		return 0;
	}
	if (r == -ENOMEM)
		return r;
	if (!light_loader_ok())
		return -EAGAIN;
	/* Again with the verifier's log, for the reason. */
	if (!*log && !(*log = malloc(VERIFIER_LOG_SZ)))
		return -ENOMEM;
	int r2 = light_ops[k].load(tcp, udp, *log, &it->light[k],
				   &it->links[k]);
	if (r2 == 0) {
		/* Loads now: a transient failure (memory, a race). */
		it->via[k] = EBPF_ITER_LIGHT;
		return 0;
	}
	char reason[160];
	bpflog_reason(*log, reason, sizeof(reason));
	snprintf(it->off[k], sizeof(it->off[k]), "refused by the kernel: %s",
		 reason[0] ? reason : strerror(-r));
	return r;
}

/* ---- the regular skeleton: the whole object ---------------------------- */

static struct bpf_program *regular_prog(struct iter_bpf *s, size_t k)
{
	struct bpf_program *p[EBPF_ITER_KINDS] = {
		[EBPF_ITER_TCP] = s->progs.shawk_iter_tcp,
		[EBPF_ITER_UDP] = s->progs.shawk_iter_udp,
		[EBPF_ITER_OWNERS] = s->progs.shawk_iter_task_file,
		[EBPF_ITER_FDSOCKS] = s->progs.shawk_iter_fd_sock,
	};
	return p[k];
}

/*
 * Loads the programs marked in want through the regular skeleton. A
 * program the verifier refuses (the one whose log libbpf filled: it asks
 * for the log only on failure) is switched off and the object loaded
 * again without it. Returns 0 (want says what runs) or -errno.
 */
static int regular_load(struct ebpf_iter *it, bool want[EBPF_ITER_KINDS],
			uint32_t tcp, uint32_t udp, char *logs[EBPF_ITER_KINDS])
{
	for (;;) {
		size_t n = 0;
		for (size_t k = 0; k < EBPF_ITER_KINDS; k++)
			n += want[k];
		if (!n)
			return 0;
		struct iter_bpf *s = iter_bpf__open();
		if (!s)
			return errno ? -errno : -ENOMEM;
		s->rodata->tcp_states = tcp;
		s->rodata->udp_states = udp;
		for (size_t k = 0; k < EBPF_ITER_KINDS; k++) {
			struct bpf_program *p = regular_prog(s, k);
			bpf_program__set_autoload(p, want[k]);
			if (want[k]) {
				logs[k][0] = '\0';
				bpf_program__set_log_buf(p, logs[k],
							 VERIFIER_LOG_SZ);
			}
		}
		int r = iter_bpf__load(s);
		if (r == 0) {
			it->regular = s;
			return 0;
		}
		bool found = false;
		for (size_t k = 0; k < EBPF_ITER_KINDS; k++) {
			if (!want[k] || !logs[k][0])
				continue;
			char reason[160];
			bpflog_reason(logs[k], reason, sizeof(reason));
			snprintf(it->off[k], sizeof(it->off[k]),
				 "refused by the kernel: %s",
				 reason[0] ? reason : strerror(-r));
			want[k] = false;
			found = true;
		}
		iter_bpf__destroy(s);
		if (!found)
			return r < 0 ? r : -EINVAL;
	}
}

static int regular_try(struct ebpf_iter *it, bool want[EBPF_ITER_KINDS],
		       uint32_t tcp, uint32_t udp)
{
	char *logs[EBPF_ITER_KINDS] = { 0 };
	int r = 0;

	for (size_t k = 0; k < EBPF_ITER_KINDS && r == 0; k++)
		if (want[k] && !(logs[k] = malloc(VERIFIER_LOG_SZ)))
			r = -ENOMEM;
	if (r == 0)
		r = regular_load(it, want, tcp, udp, logs);
	for (size_t k = 0; k < EBPF_ITER_KINDS; k++)
		free(logs[k]);
	if (r < 0) {
		for (size_t k = 0; k < EBPF_ITER_KINDS; k++)
			if (want[k])
				snprintf(it->off[k], sizeof(it->off[k]),
					 "the regular skeleton cannot load: "
					 "%s", strerror(-r));
		return r;
	}
	for (size_t k = 0; k < EBPF_ITER_KINDS; k++) {
		if (!want[k])
			continue;
		struct bpf_link *l =
			bpf_program__attach_iter(regular_prog(it->regular, k),
						 NULL);
		if (!l) {
			snprintf(it->off[k], sizeof(it->off[k]),
				 "cannot attach: %s", strerror(errno));
			continue;
		}
		it->rlinks[k] = l;
		it->links[k] = bpf_link__fd(l);
		it->via[k] = EBPF_ITER_REGULAR;
	}
	return 0;
}

/* ---- the object --------------------------------------------------------- */

static int libbpf_print_warnings(enum libbpf_print_level level,
				 const char *fmt, va_list ap) _printf_(2, 0);
static int libbpf_print_warnings(enum libbpf_print_level level,
				 const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void ebpf_iter_libbpf_print(bool verbose)
{
	libbpf_set_print(verbose ? libbpf_print_warnings : NULL);
}

void ebpf_iter_free(struct ebpf_iter *it)
{
	if (!it)
		return;
	for (size_t k = 0; k < EBPF_ITER_KINDS; k++) {
		/* Each destroy closes its link and program. */
		if (it->light[k])
			light_ops[k].free(it->light[k]);
		bpf_link__destroy(it->rlinks[k]);
	}
	iter_bpf__destroy(it->regular);
	free(it);
}

int ebpf_iter_new(uint32_t tcp_states, uint32_t udp_states, const char *deny,
		  struct ebpf_iter **ret, char *why, size_t why_sz)
{
	struct ebpf_iter *it = calloc(1, sizeof(*it));
	bool regular[EBPF_ITER_KINDS] = { 0 };
	bool light = !bpflog_list_has(deny, "light-skeleton");
	_cleanup_(freep) char *log = NULL;
	int r = 0;

	if (!it)
		return -ENOMEM;
	for (size_t k = 0; k < EBPF_ITER_KINDS; k++) {
		it->links[k] = -1;
		if (bpflog_list_has(deny, prog_names[k])) {
			snprintf(it->off[k], sizeof(it->off[k]),
				 "refused (SHAWK_BPF_DENY)");
			continue;
		}
		r = light ? light_try(it, k, tcp_states, udp_states, &log)
			  : -EAGAIN;
		if (r == -ENOMEM)
			goto fail;
		/* Once the loader is refused, it is for every program. */
		if (r == -EAGAIN)
			light = false;
		regular[k] = r == -EAGAIN;
	}
	r = regular_try(it, regular, tcp_states, udp_states);
	if (r == -ENOMEM)
		goto fail;
	for (size_t k = 0; k < EBPF_ITER_KINDS; k++)
		if (it->via[k] != EBPF_ITER_OFF) {
			*ret = it;
			return 0;
		}
	size_t o = 0;
	for (size_t k = 0; k < EBPF_ITER_KINDS && why_sz; k++) {
		int n = snprintf(why + o, why_sz - o, "%s%s %s",
				 k ? "; " : "no BPF iterator loads: ",
				 prog_names[k], it->off[k]);
		if (n < 0 || (size_t)n >= why_sz - o)
			break;
		o += (size_t)n;
	}
	r = -EOPNOTSUPP;
fail:
	if (r == -ENOMEM)
		snprintf(why, why_sz, "cannot load the BPF iterators: %s",
			 strerror(ENOMEM));
	ebpf_iter_free(it);
	return r;
}

enum ebpf_iter_via ebpf_iter_via(const struct ebpf_iter *it,
				 enum ebpf_iter_kind kind)
{
	return (size_t)kind < EBPF_ITER_KINDS ? it->via[kind] : EBPF_ITER_OFF;
}

const char *ebpf_iter_why_off(const struct ebpf_iter *it,
			      enum ebpf_iter_kind kind)
{
	return (size_t)kind < EBPF_ITER_KINDS ? it->off[kind] : "";
}

int ebpf_iter_open(const struct ebpf_iter *it, enum ebpf_iter_kind kind)
{
	if ((size_t)kind >= EBPF_ITER_KINDS)
		return -EINVAL;
	if (it->links[kind] < 0)
		return -ENOENT;
	/* The iterator fd is O_CLOEXEC (bpf(2) BPF_ITER_CREATE sets it). */
	int fd = bpf_iter_create(it->links[kind]);
	return fd < 0 ? -errno : fd;
}
