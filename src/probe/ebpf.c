// SPDX-License-Identifier: MIT
/*
 * Streaming source: loads bpf/shawk.bpf.c (embedded skeleton), attaches it
 * to the cgroup v2 root and drains its ring buffer on the probe's scan timer.
 * The only file that includes libbpf (DESIGN.md §3).
 */
#include "probe/ebpf.h"

#include "core/clock.h"
#include "core/util.h"
#include "k8s/cgroupfs.h"
#include "probe/bpflog.h"
#include "probe/ebpf_iter.h"
#include "probe/poller.h"
#include "shawk.skel.h"
#include "shawk_event.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define EBPF_DEFAULT_RINGBUF (16u << 20)
#define TRACEFS "/sys/kernel/tracing"

struct ebpf {
	struct source base;
	struct shawk_bpf *skel;
	struct ring_buffer *rb;
	struct source *poller;
	struct stream *st;
	int cgroup_fd;
	uint32_t programs;
	uint64_t lost_since_last;
	/* The callback of the scan in progress (ring_buffer has one ctx). */
	sock_record_fn fn;
	void *ud;
	int count;
	/* Records of the poll in progress, passed on after the events. */
	struct sock_record *polled;
	size_t npolled, cap_polled;
	/* In-kernel aggregate (see bpf/shawk.bpf.c): agg_on when this
	 * kernel and configuration use it; agg_fd the map installed in
	 * agg_outer[0], -1 when none (events only). */
	bool agg_on;
	int agg_fd;
	int ncpus;
	void *agg_keys, *agg_vals;
	uint64_t agg_full; /* kernel counter, last read */
	bool agg_warned; /* a failure of the aggregate was logged */
	struct ebpf_options opt; /* for note() */
	/* Programs off for this start (bpflog_list_has() list): those of
	 * SHAWK_BPF_DENY, then those the kernel refused. */
	char refused[512];
};

static void note(const struct ebpf_options *opt, const char *fmt, ...)
	_printf_(2, 3);

#define AGG_BATCH 256

/* ---- scanning --------------------------------------------------------- */

static int on_record(const struct sock_record *rec, void *ud)
{
	struct ebpf *e = ud;
	e->count++;
	return e->fn(rec, e->ud);
}

static int on_ring_sample(void *ctx, void *data, size_t size)
{
	struct ebpf *e = ctx;
	return stream_on_event(e->st, data, size, on_record, e);
}

static int on_poll_record(const struct sock_record *rec, void *ud)
{
	struct ebpf *e = ud;
	/* The poller already caps a scan at SOCK_RECORDS_MAX records. */
	return sock_records_append(&e->polled, &e->npolled, &e->cap_polled,
				   SOCK_RECORDS_MAX, rec);
}

/*
 * The aggregate maps. Each scan installs a new map in agg_outer[0] and
 * reads the one it replaces: the update returns once no program runs any
 * more that could have looked up the old one (the kernel waits for an RCU
 * grace period on map-in-map updates), so the old map is complete and
 * nobody writes it. A full poll runs with no map installed: every
 * connection established meanwhile comes as an event with its cookie, and
 * every one the poll sees without an event was counted by a map read
 * before it, in this flush interval, because the probe makes the poll the
 * last scan before each flush (source.request_poll). The flow table then
 * only remembers such a socket (SOCK_REC_F_COUNTED).
 */
static int agg_create(void)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "shawk_agg",
				sizeof(struct shawk_event), sizeof(uint64_t),
				SHAWK_AGG_MAX_ENTRIES, &o);
	return fd < 0 ? -errno : fd;
}

/* Installs fd (or none for fd < 0); returns 0 or -errno. */
static int agg_install(struct ebpf *e, int fd)
{
	uint32_t zero = 0;
	int outer = bpf_map__fd(e->skel->maps.agg_outer);
	int r = fd >= 0 ? bpf_map_update_elem(outer, &zero, &fd, BPF_ANY)
			: bpf_map_delete_elem(outer, &zero);
	if (r < 0 && fd < 0 && errno == ENOENT)
		return 0;
	return r < 0 ? -errno : 0;
}

/* Passes every entry of the (uninstalled) map fd on, then closes it. */
static int agg_drain(struct ebpf *e, int fd)
{
	const size_t ksz = sizeof(struct shawk_event);
	const size_t vsz = sizeof(uint64_t) * (size_t)e->ncpus;
	uint32_t batch = 0;
	bool first = true;
	int ret = 0;

	for (;;) {
		uint32_t n = AGG_BATCH;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &batch, &batch,
					     e->agg_keys, e->agg_vals, &n, NULL);
		bool done = r < 0 && errno == ENOENT;
		if (r < 0 && !done) {
			ret = -errno;
			break;
		}
		first = false;
		for (uint32_t i = 0; i < n && ret >= 0; i++) {
			const uint64_t *v =
				(const uint64_t *)((char *)e->agg_vals + i * vsz);
			uint64_t sum = 0;
			for (int c = 0; c < e->ncpus; c++)
				sum += v[c];
			if (sum)
				ret = stream_on_aggregate(
					e->st, (char *)e->agg_keys + i * ksz,
					ksz, sum, on_record, e);
		}
		if (done || ret < 0)
			break;
	}
	close(fd);
	return ret;
}

/*
 * Replaces the installed map by a new one (install) or by none, and reads
 * the old one. On failure to create a map, this scan goes on with none:
 * connections come as events until a later scan succeeds.
 */
static int agg_rotate(struct ebpf *e, bool install)
{
	int nfd = -1;
	if (install) {
		nfd = agg_create();
		if (nfd < 0 && !e->agg_warned) {
			note(&e->opt, "cannot create an aggregate map (%s): "
				      "connections come as events meanwhile",
			     strerror(-nfd));
			e->agg_warned = true;
		}
	}
	if (nfd < 0 && e->agg_fd < 0)
		return 0;
	int r = agg_install(e, nfd);
	if (r < 0) {
		/* The old map stays in place; read at a later scan. */
		if (nfd >= 0)
			close(nfd);
		return r;
	}
	if (nfd >= 0)
		stream_set_aggregating(e->st, true);
	int old = e->agg_fd;
	e->agg_fd = nfd;
	return old >= 0 ? agg_drain(e, old) : 0;
}

static int ebpf_scan(struct source *src, sock_record_fn fn, void *ud)
{
	struct ebpf *e = (struct ebpf *)src;
	e->fn = fn;
	e->ud = ud;
	e->count = 0;

	bool full = stream_resync_due(e->st, now_monotonic_ms());
	/* A poll runs with no aggregate installed (see agg_rotate()). */
	int agg_err = e->agg_on ? agg_rotate(e, !full) : 0;
	if (agg_err == -ENOMEM)
		return agg_err;
	if (full && e->agg_fd >= 0) {
		/* It could not be removed: no exact poll now. */
		stream_request_resync(e->st);
		full = false;
	}

	/* Events first, then the poll: a connection established in between
	 * is in both and the shared socket cookie deduplicates it. */
	int r = ring_buffer__consume(e->rb);
	if (r < 0)
		return r;
	if (full) {
		e->npolled = 0;
		r = e->poller->scan(e->poller, on_poll_record, e);
		if (r < 0) {
			/* Held events are released at the next poll. */
			full = false;
		} else {
			/* A socket becomes visible to sock_diag just before
			 * its ESTABLISHED callback runs: drain again so the
			 * event is in this batch and, being first, decides
			 * the connection's flow. */
			r = ring_buffer__consume(e->rb);
			for (size_t i = 0; r >= 0 && i < e->npolled; i++)
				r = stream_on_poll_record(e->st, &e->polled[i],
							  on_record, e);
			if (r >= 0)
				r = stream_poll_done(e->st, on_record, e);
			if (r < 0)
				return r;
		}
		if (e->agg_on) {
			agg_err = agg_rotate(e, true);
			if (agg_err == -ENOMEM)
				return agg_err;
		}
	}
	/* A poll makes the scan a full snapshot: the flow table then
	 * rebuilds its listeners and forgets closed connections. */
	src->snapshot = full;
	e->lost_since_last =
		stream_note_lost(e->st, __atomic_load_n(&e->skel->bss->lost_events,
							__ATOMIC_RELAXED));
	e->agg_full = __atomic_load_n(&e->skel->bss->agg_full, __ATOMIC_RELAXED);
	if (r < 0 && !full)
		return r;
	/* Not fatal (this scan's records are good): said once. */
	if (agg_err < 0 && !e->agg_warned) {
		note(&e->opt, "aggregate map: %s (its counts may be lost)",
		     strerror(-agg_err));
		e->agg_warned = true;
	}
	return e->count;
}

static void ebpf_request_poll(struct source *src)
{
	struct ebpf *e = (struct ebpf *)src;
	stream_request_resync(e->st);
}

static void ebpf_free(struct source *src)
{
	struct ebpf *e = (struct ebpf *)src;
	ring_buffer__free(e->rb);
	/* Destroying the skeleton detaches every link. */
	shawk_bpf__destroy(e->skel);
	if (e->agg_fd >= 0)
		close(e->agg_fd);
	free(e->agg_keys);
	free(e->agg_vals);
	if (e->cgroup_fd >= 0)
		close(e->cgroup_fd);
	source_free(e->poller);
	stream_free(e->st);
	free(e->polled);
	free(e);
}

void ebpf_get_stats(const struct source *src, struct ebpf_stats *ret)
{
	const struct ebpf *e = (const struct ebpf *)src;
	memset(ret, 0, sizeof(*ret));
	stream_get_stats(e->st, &ret->stream);
	ret->lost_since_last = e->lost_since_last;
	ret->programs = e->programs;
	ret->aggregating = e->agg_on;
	ret->agg_full = e->agg_full;
}

/* ---- feature probes and loading --------------------------------------- */

int ebpf_find_cgroup2(const char *mountinfo, char *ret_path, size_t path_sz,
		      bool *ret_is_root)
{
	/* One mountinfo parser for the agent: k8s/cgroupfs's (pure). */
	char root[PATH_MAX];
	int r = cgroupfs_parse_mountinfo(mountinfo, strlen(mountinfo), NULL,
					 ret_path, path_sz, root, sizeof(root));
	if (r == 0)
		*ret_is_root = strcmp(root, "/") == 0;
	return r;
}

static int read_file(const char *path, char *buf, size_t sz)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len + 1 < sz) {
		ssize_t n = read(fd, buf + len, sz - 1 - len);
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (int)len;
}

static void note(const struct ebpf_options *opt, const char *fmt, ...)
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

static bool helper_ok(enum bpf_prog_type t, enum bpf_func_id f)
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
	note(opt, "mounted tracefs at %s (it was not mounted)", TRACEFS);
	return access(path, R_OK) == 0 ? 0 : -ENOENT;
}

#define WHY(...) (snprintf(why, why_sz, __VA_ARGS__))

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
		note(opt, "BPF program %s refused by the kernel: %s; going on "
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
 * Opens, loads and attaches the programs. With btf_tp, the TCP life cycle
 * comes from one BTF-typed raw tracepoint (shawk_tcp_state) instead of
 * sockops plus the classic tracepoint: ~7 cheap calls per connection
 * instead of ~16 (see bpf/shawk.bpf.c). Returns 0, or -errno with why set.
 */
static int load_and_attach(struct ebpf *e, const struct ebpf_options *opt,
			   const char *cg, bool btf_tp, char *why,
			   size_t why_sz)
{
	int r;

	e->programs = 0;
	e->skel = shawk_bpf__open();
	if (!e->skel) {
		r = -errno;
		WHY("cannot open the embedded BPF object: %s", strerror(-r));
		return r;
	}
	struct shawk_bpf *s = e->skel;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, s->obj)
		if (bpflog_list_has(e->refused, bpf_program__name(prog)))
			bpf_program__set_autoload(prog, false);
	if (btf_tp && !bpf_program__autoload(s->progs.shawk_tcp_state)) {
		WHY("shawk_tcp_state (tp_btf/inet_sock_set_state) is off");
		return -EOPNOTSUPP;
	}
	size_t rb = pow2_ceil(opt->ringbuf_bytes ? opt->ringbuf_bytes
						 : EBPF_DEFAULT_RINGBUF);
	bpf_map__set_max_entries(s->maps.events, (uint32_t)rb);

	if (!helper_ok(BPF_PROG_TYPE_CGROUP_SOCK, BPF_FUNC_get_socket_cookie)) {
		note(opt, "cgroup/sock_release cannot read socket cookies here: "
			  "a connected UDP socket without a local address at "
			  "connect() is completed by the next poll");
		bpf_program__set_autoload(s->progs.shawk_sock_release, false);
	}
	bool tp_off = !bpf_program__autoload(s->progs.shawk_set_state);
	bool tp = !btf_tp && !tp_off &&
		  libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) == 1;
	if (btf_tp) {
		/* Its calls replace those two. */
		bpf_program__set_autoload(s->progs.shawk_sockops, false);
	} else {
		bpf_program__set_autoload(s->progs.shawk_tcp_state, false);
	}
	if (tp) {
		r = ensure_tracefs(opt);
		if (r < 0) {
			note(opt, "tracefs is not available at %s (%s): "
				  "tracepoint sock/inet_sock_set_state "
				  "switched off",
			     TRACEFS, strerror(-r));
			tp = false;
		}
	} else if (!btf_tp && !tp_off) {
		note(opt, "tracepoint programs are not supported: "
			  "sock/inet_sock_set_state switched off");
	}
	if (!tp)
		bpf_program__set_autoload(s->progs.shawk_set_state, false);

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
	r = load_programs(e, opt, why, why_sz);
	if (r < 0)
		return r;
	char on[512] = "";
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

	/* Required: without these there is no event at all. */
	struct {
		struct bpf_program *prog;
		struct bpf_link **link;
		const char *name;
		bool required;
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
			r = -errno;
			if (att[i].required) {
				WHY("cannot attach %s to %s: %s", att[i].name,
				    cg, strerror(-r));
				return r;
			}
			note(opt, "cannot attach %s to %s: %s; going on "
				  "without it",
			     att[i].name, cg, strerror(-r));
			continue;
		}
		*att[i].link = l;
		e->programs++;
		add_name(on, sizeof(on), att[i].prog);
		if (att[i].prog == s->progs.shawk_sock_release)
			s->bss->udp_release_attached = 1;
	}
	if (tp) {
		s->links.shawk_set_state =
			bpf_program__attach(s->progs.shawk_set_state);
		if (!s->links.shawk_set_state)
			note(opt, "cannot attach tracepoint "
				  "sock/inet_sock_set_state: %s; going on "
				  "without it",
			     strerror(errno));
		else {
			e->programs++;
			add_name(on, sizeof(on), s->progs.shawk_set_state);
		}
	}
	note(opt, "BPF programs attached: %s", on);
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
static int load_degrading(struct ebpf *e, const struct ebpf_options *opt,
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

int ebpf_source_new(struct procmap *pm, const struct ebpf_options *opt,
		    struct source **ret, char *why, size_t why_sz)
{
	int r;

	ebpf_iter_quiet_libbpf();
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		WHY("the kernel has no BTF (/sys/kernel/btf/vmlinux: %s), "
		    "which CO-RE programs need", strerror(errno));
		return -EOPNOTSUPP;
	}
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1 ||
	    libbpf_probe_bpf_map_type(BPF_MAP_TYPE_LRU_HASH, NULL) != 1) {
		WHY("BPF ring buffers or LRU hash maps are not available "
		    "(kernel too old, or BPF not permitted: needs root/"
		    "CAP_BPF+CAP_PERFMON+CAP_NET_ADMIN)");
		return -EOPNOTSUPP;
	}
	if (!helper_ok(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_socket_cookie) ||
	    !helper_ok(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_skc_to_tcp_sock) ||
	    !helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_current_pid_tgid) ||
	    !helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_current_task) ||
	    !helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_socket_cookie)) {
		WHY("the kernel lacks sockops/cgroup sock_addr helpers this "
		    "probe needs (get_socket_cookie, skc_to_tcp_sock, "
		    "get_current_task)");
		return -EOPNOTSUPP;
	}

	char mi[65536];
	r = read_file("/proc/self/mountinfo", mi, sizeof(mi));
	if (r < 0) {
		WHY("cannot read /proc/self/mountinfo: %s", strerror(-r));
		return r;
	}
	char cg[1024];
	bool cg_is_root = false;
	if (ebpf_find_cgroup2(mi, cg, sizeof(cg), &cg_is_root) < 0) {
		WHY("no cgroup v2 hierarchy is mounted (cgroup programs attach "
		    "to its root)");
		return -ENOENT;
	}
	if (!cg_is_root)
		note(opt, "cgroup v2 at %s is not the hierarchy's root (cgroup "
			  "namespace?): only sockets of processes below it are "
			  "streamed", cg);

	struct ebpf *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cgroup_fd = -1;
	e->agg_fd = -1;
	e->opt = *opt;
	e->base.name = "streaming";
	e->base.scan = ebpf_scan;
	e->base.request_poll = ebpf_request_poll;
	e->base.snapshot = false;
	e->base.free = ebpf_free;
	_cleanup_(source_freep) struct source *guard = &e->base;
	const char *deny = bpflog_deny_list();
	if (deny && *deny) {
		snprintf(e->refused, sizeof(e->refused), "%s", deny);
		note(opt, "SHAWK_BPF_DENY=%s: those BPF programs are switched "
			  "off as if the kernel refused them", deny);
	}

	e->st = stream_new(opt->resync_ms, opt->resync_phase_ms, 0);
	e->poller = poller_new(pm, opt->run_netns_dir, 0, opt->poll_backend);
	if (!e->st || !e->poller)
		return -ENOMEM;
	{
		const char *pwhy;
		if (poller_backend(e->poller, &pwhy) == POLL_BACKEND_BPF_ITER)
			note(opt, "seed and resync polls via BPF iterators");
		else if (opt->poll_backend != POLL_BACKEND_SOCKDIAG)
			note(opt, "seed and resync polls via sock_diag (BPF "
				  "iterators: %s)", pwhy);
	}

	e->cgroup_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->cgroup_fd < 0) {
		r = -errno;
		WHY("cannot open the cgroup v2 root %s: %s", cg, strerror(-r));
		return r;
	}

	/* The BTF-typed tracepoint first; sockops and the classic tracepoint
	 * where the kernel refuses it (SHAWK_BPF_CLASSIC=1 forces those). */
	const char *classic = getenv("SHAWK_BPF_CLASSIC");
	bool btf_tp = !(classic && strcmp(classic, "1") == 0);
	if (!btf_tp)
		note(opt, "SHAWK_BPF_CLASSIC=1: using sockops and the classic "
			  "tracepoint");
	r = btf_tp ? load_degrading(e, opt, cg, true, why, why_sz) : -1;
	if (r < 0) {
		if (btf_tp) {
			note(opt, "%s: using sockops and the classic tracepoint "
				  "instead", why);
			shawk_bpf__destroy(e->skel);
			e->skel = NULL;
		}
		r = load_degrading(e, opt, cg, false, why, why_sz);
		if (r < 0)
			return r;
	}
	struct shawk_bpf *s = e->skel;

	/* In-kernel counting: the BTF tracepoint's path only (sockops stays
	 * on events); SHAWK_BPF_AGGREGATE=0 switches it off. */
	const char *agg = getenv("SHAWK_BPF_AGGREGATE");
	e->agg_on = btf_tp && s->links.shawk_tcp_state &&
		    !(agg && strcmp(agg, "0") == 0);
	if (e->agg_on) {
		e->ncpus = libbpf_num_possible_cpus();
		if (e->ncpus <= 0) {
			e->agg_on = false;
		} else {
			e->agg_keys = calloc(AGG_BATCH,
					     sizeof(struct shawk_event));
			e->agg_vals = calloc(AGG_BATCH, sizeof(uint64_t) *
							       (size_t)e->ncpus);
			if (!e->agg_keys || !e->agg_vals)
				return -ENOMEM;
		}
	}
	if (!e->agg_on)
		note(opt, "TCP connections are reported one event each%s",
		     agg && strcmp(agg, "0") == 0 ? " (SHAWK_BPF_AGGREGATE=0)"
						   : "");

	e->rb = ring_buffer__new(bpf_map__fd(s->maps.events), on_ring_sample,
				 e, NULL);
	if (!e->rb) {
		r = -errno;
		WHY("cannot map the BPF ring buffer: %s", strerror(-r));
		return r;
	}
	*ret = TAKE_PTR(guard);
	return 0;
}
