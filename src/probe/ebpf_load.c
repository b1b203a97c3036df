// SPDX-License-Identifier: MIT
/*
 * Loading of the streaming programs (bpf/shawk.bpf.c): what the kernel can
 * run is probed first, then each program loads on its own terms (a refused
 * one switched off with the verifier's reason, the object loaded again),
 * then they attach. Part of the probe/ebpf module (libbpf).
 */
#include "core/util.h"
#include "probe/bpflog.h"
#include "probe/ebpf_int.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

void ebpf_note(const struct ebpf_options *opt, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	if (!opt->note)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	opt->note(msg, opt->note_userdata);
}

bool ebpf_helper_ok(enum bpf_prog_type t, enum bpf_func_id f)
{
	return libbpf_probe_bpf_helper(t, f, NULL) == 1;
}

/* Mounts tracefs where libbpf looks for tracepoint ids when it is missing.
 * Returns 0 when the tracepoint's format can be read afterwards. */
static int ensure_tracefs(const struct ebpf_options *opt)
{
	static const char *ev = "events/sock/inet_sock_set_state/id";
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", TRACEFS, ev);
	if (access(path, R_OK) == 0)
		return 0;
	if (access("/sys/kernel/debug/tracing/events/sock", F_OK) == 0)
		return 0;
	if (mount("nodev", TRACEFS, "tracefs", 0, NULL) < 0)
		return -errno;
	ebpf_note(opt, "mounted tracefs at %s (it was not mounted)", TRACEFS);
	return access(path, R_OK) == 0 ? 0 : -ENOENT;
}

static void add_name(char *on, size_t on_sz, const struct bpf_program *p);

/* Where the verifier writes a refused program's log (its tail suffices). */
#define PROG_LOG_SZ (64u << 10)

/*
 * Loads the skeleton with a log buffer per program: libbpf asks the kernel
 * for a log only when a program fails, so a filled buffer names the refused
 * program. Returns 0; -EAGAIN when programs were refused (added to
 * e->refused, one note each: load again without them); or -errno.
 */
static int load_programs(struct ebpf *e, const struct ebpf_options *opt,
			 char *why, size_t why_sz)
{
	struct bpf_object *obj = e->skel->obj;
	struct bpf_program *p;
	size_t n = 0, i = 0;
	bool found = false;

	bpf_object__for_each_program(p, obj)
		n++;
	_cleanup_(freep) char *logs = calloc(n ? n : 1, PROG_LOG_SZ);
	if (!logs)
		return -ENOMEM;
	bpf_object__for_each_program(p, obj)
		bpf_program__set_log_buf(p, logs + PROG_LOG_SZ * i++,
					 PROG_LOG_SZ);
	int r = shawk_bpf__load(e->skel);
	if (r == 0)
		return 0;
	i = 0;
	bpf_object__for_each_program(p, obj) {
		const char *log = logs + PROG_LOG_SZ * i++;
		if (!bpf_program__autoload(p) || !log[0])
			continue;
		char reason[192];
		bpflog_reason(log, reason, sizeof(reason));
		ebpf_note(opt, "BPF program %s refused by the kernel: %s; going on "
			  "without it",
		     bpf_program__name(p), reason[0] ? reason : strerror(-r));
		add_name(e->refused, sizeof(e->refused), p);
		found = true;
	}
	if (found)
		return -EAGAIN;
	WHY("the kernel refused the BPF programs: %s (run with "
	    "SHAWK_BPF_VERBOSE=1 for the verifier log)",
	    strerror(-r));
	return r;
}

/*
 * Switches off what this start cannot run: programs refused before, the
 * TCP hooks of the other path, what the kernel lacks (cookie helper in
 * cgroup/sock, tracepoints, tracefs). *ret_tp: the classic tracepoint is
 * on. Returns 0, or -EOPNOTSUPP (why set) when a program streaming needs
 * is off.
 */
static int choose_programs(struct ebpf *e, const struct ebpf_options *opt,
			   bool btf_tp, bool *ret_tp, char *why, size_t why_sz)
{
	struct shawk_bpf *s = e->skel;
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, s->obj)
		if (bpflog_list_has(e->refused, bpf_program__name(prog)))
			bpf_program__set_autoload(prog, false);
	if (!ebpf_helper_ok(BPF_PROG_TYPE_CGROUP_SOCK,
			    BPF_FUNC_get_socket_cookie)) {
		ebpf_note(opt, "cgroup/sock_release cannot read socket cookies "
			       "here: a connected UDP socket without a local "
			       "address at connect() is completed by the next "
			       "poll");
		bpf_program__set_autoload(s->progs.shawk_sock_release, false);
	}
	bool tp_off = !bpf_program__autoload(s->progs.shawk_set_state);
	bool tp = !btf_tp && !tp_off &&
		  libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) == 1;
	/* The BTF tracepoint's calls replace sockops and the classic one. */
	bpf_program__set_autoload(btf_tp ? s->progs.shawk_sockops
					 : s->progs.shawk_tcp_state,
				  false);
	if (tp) {
		int r = ensure_tracefs(opt);
		if (r < 0) {
			ebpf_note(opt, "tracefs is not available at %s (%s): "
				       "tracepoint sock/inet_sock_set_state "
				       "switched off",
				  TRACEFS, strerror(-r));
			tp = false;
		}
	} else if (!btf_tp && !tp_off) {
		ebpf_note(opt, "tracepoint programs are not supported: "
			       "sock/inet_sock_set_state switched off");
	}
	if (!tp)
		bpf_program__set_autoload(s->progs.shawk_set_state, false);
	*ret_tp = tp;

	/* Without these there is no event at all. */
	struct bpf_program *required[] = {
		btf_tp ? s->progs.shawk_tcp_state : s->progs.shawk_sockops,
		s->progs.shawk_connect4,
		s->progs.shawk_connect6,
	};
	for (size_t i = 0; i < ARRAY_SIZE(required); i++) {
		if (bpf_program__autoload(required[i]))
			continue;
		WHY("%s is off, and streaming needs it",
		    bpf_program__name(required[i]));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Attaches the cgroup programs; on: names of those attached. */
static int attach_cgroup_programs(struct ebpf *e,
				  const struct ebpf_options *opt,
				  const char *cg, char *on, size_t on_sz,
				  char *why, size_t why_sz)
{
	struct shawk_bpf *s = e->skel;
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
		const char *name;
		bool required; /* without it, no event at all */
	} att[] = {
		{ s->progs.shawk_sockops, &s->links.shawk_sockops, "sockops", true },
		{ s->progs.shawk_connect4, &s->links.shawk_connect4, "cgroup/connect4", true },
		{ s->progs.shawk_connect6, &s->links.shawk_connect6, "cgroup/connect6", true },
		{ s->progs.shawk_sendmsg4, &s->links.shawk_sendmsg4, "cgroup/sendmsg4", false },
		{ s->progs.shawk_sendmsg6, &s->links.shawk_sendmsg6, "cgroup/sendmsg6", false },
		{ s->progs.shawk_recvmsg4, &s->links.shawk_recvmsg4, "cgroup/recvmsg4", false },
		{ s->progs.shawk_recvmsg6, &s->links.shawk_recvmsg6, "cgroup/recvmsg6", false },
		/* Without it, connected UDP is still reported by connect()
		 * with its address completed by the next poll. */
		{ s->progs.shawk_sock_release, &s->links.shawk_sock_release, "cgroup/sock_release", false },
	};
	for (size_t i = 0; i < ARRAY_SIZE(att); i++) {
		if (!bpf_program__autoload(att[i].prog))
			continue;
		struct bpf_link *l =
			bpf_program__attach_cgroup(att[i].prog, e->cgroup_fd);
		if (!l) {
			int r = -errno;
			if (att[i].required) {
				WHY("cannot attach %s to %s: %s", att[i].name,
				    cg, strerror(-r));
				return r;
			}
			ebpf_note(opt, "cannot attach %s to %s: %s; going on "
				       "without it",
				  att[i].name, cg, strerror(-r));
			continue;
		}
		*att[i].link = l;
		e->programs++;
		add_name(on, on_sz, att[i].prog);
		if (att[i].prog == s->progs.shawk_sock_release)
			s->bss->udp_release_attached = 1;
	}
	return 0;
}

/*
 * Opens, loads and attaches the programs. With btf_tp, the TCP life cycle
 * comes from one BTF-typed raw tracepoint (shawk_tcp_state) instead of
 * sockops plus the classic tracepoint: ~7 cheap calls per connection
 * instead of ~16 (see bpf/shawk.bpf.c). Returns 0, -EAGAIN when programs
 * were refused (load again), or -errno with why set.
 */
static int load_and_attach(struct ebpf *e, const struct ebpf_options *opt,
			   const char *cg, bool btf_tp, char *why,
			   size_t why_sz)
{
	char on[512] = "";
	bool tp;
	int r;

	e->programs = 0;
	e->skel = shawk_bpf__open();
	if (!e->skel) {
		r = -errno;
		WHY("cannot open the embedded BPF object: %s", strerror(-r));
		return r;
	}
	struct shawk_bpf *s = e->skel;
	size_t rb = pow2_ceil(opt->ringbuf_bytes ? opt->ringbuf_bytes
						 : EBPF_DEFAULT_RINGBUF);
	bpf_map__set_max_entries(s->maps.events, (uint32_t)rb);
	if ((r = choose_programs(e, opt, btf_tp, &tp, why, why_sz)) < 0 ||
	    (r = load_programs(e, opt, why, why_sz)) < 0)
		return r;
	if (btf_tp) {
		/* First: without it there is no TCP event at all. */
		s->links.shawk_tcp_state =
			bpf_program__attach(s->progs.shawk_tcp_state);
		if (!s->links.shawk_tcp_state) {
			r = -errno;
			WHY("cannot attach tp_btf/inet_sock_set_state: %s",
			    strerror(-r));
			return r;
		}
		e->programs++;
		add_name(on, sizeof(on), s->progs.shawk_tcp_state);
	}
	r = attach_cgroup_programs(e, opt, cg, on, sizeof(on), why, why_sz);
	if (r < 0)
		return r;
	if (tp) {
		s->links.shawk_set_state =
			bpf_program__attach(s->progs.shawk_set_state);
		if (s->links.shawk_set_state) {
			e->programs++;
			add_name(on, sizeof(on), s->progs.shawk_set_state);
		} else {
			ebpf_note(opt, "cannot attach tracepoint "
				       "sock/inet_sock_set_state: %s; going on "
				       "without it",
				  strerror(errno));
		}
	}
	ebpf_note(opt, "BPF programs attached: %s", on);
	return 0;
}

/* Appends p's name to the comma-separated list on (on_sz bytes). */
static void add_name(char *on, size_t on_sz, const struct bpf_program *p)
{
	size_t len = strlen(on);
	snprintf(on + len, on_sz - len, "%s%s", len ? ", " : "",
		 bpf_program__name(p));
}

/* load_and_attach() until no program is refused any more. */
int ebpf_load_degrading(struct ebpf *e, const struct ebpf_options *opt,
			  const char *cg, bool btf_tp, char *why, size_t why_sz)
{
	int r;
	while ((r = load_and_attach(e, opt, cg, btf_tp, why, why_sz)) ==
	       -EAGAIN) {
		shawk_bpf__destroy(e->skel);
		e->skel = NULL;
	}
	return r;
}
