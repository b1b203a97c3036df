// SPDX-License-Identifier: MIT
/*
 * Streaming source: loads bpf/shawk.bpf.c (embedded skeleton), attaches it
 * to the cgroup v2 root and drains its ring buffer on the probe's scan timer.
 * The only file that includes libbpf (DESIGN.md §3).
 */
#include "probe/ebpf.h"

#include "core/clock.h"
#include "core/file.h"
#include "core/util.h"
#include "k8s/cgroupfs.h"
#include "probe/bpflog.h"
#include "probe/ebpf_int.h"
#include "probe/ebpf_iter.h"
#include "probe/poller.h"
#include "shawk_event.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

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
			ebpf_note(&e->opt, "cannot create an aggregate map (%s): "
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

	int64_t now = now_monotonic_ms();
	bool full = stream_resync_due(e->st, now);
	ebpf_filter_scan(e, now);
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
		ebpf_note(&e->opt, "aggregate map: %s (its counts may be lost)",
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
	ebpf_filter_free(e);
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
	ret->plain_only = e->plain_only;
	ret->plain_peers = e->plain_updates;
	ret->nat_sources = e->nnat;
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

/*
 * What streaming needs of the kernel: BTF, ring buffers, the helpers of
 * its required programs, a cgroup v2 hierarchy (its mount point in cg).
 * Returns 0, or -errno with why set.
 */
static int check_kernel(const struct ebpf_options *opt, char *cg, size_t cg_sz,
			char *why, size_t why_sz)
{
	int r;
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
	if (!ebpf_helper_ok(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_get_socket_cookie) ||
	    !ebpf_helper_ok(BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_skc_to_tcp_sock) ||
	    !ebpf_helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_current_pid_tgid) ||
	    !ebpf_helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_current_task) ||
	    !ebpf_helper_ok(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
		       BPF_FUNC_get_socket_cookie)) {
		WHY("the kernel lacks sockops/cgroup sock_addr helpers this "
		    "probe needs (get_socket_cookie, skc_to_tcp_sock, "
		    "get_current_task)");
		return -EOPNOTSUPP;
	}

	/* A node with many pods has mountinfo far past 64 KiB. */
	_cleanup_(freep) char *mi = NULL;
	size_t mi_len;
	r = file_read_alloc("/proc/self/mountinfo", MOUNTINFO_MAX, &mi,
			    &mi_len);
	if (r < 0) {
		WHY("cannot read /proc/self/mountinfo: %s", strerror(-r));
		return r;
	}
	bool cg_is_root = false;
	if (ebpf_find_cgroup2(mi, cg, cg_sz, &cg_is_root) < 0) {
		WHY("no cgroup v2 hierarchy is mounted (cgroup programs attach "
		    "to its root)");
		return -ENOENT;
	}
	if (!cg_is_root)
		ebpf_note(opt, "cgroup v2 at %s is not the hierarchy's root (cgroup "
			  "namespace?): only sockets of processes below it are "
			  "streamed", cg);

	return 0;
}

/* In-kernel counting: the BTF tracepoint's path only (sockops stays on
 * events); SHAWK_BPF_AGGREGATE=0 switches it off. 0 or -ENOMEM. */
static int setup_aggregate(struct ebpf *e, const struct ebpf_options *opt,
			   bool btf_tp)
{
	e->agg_on = btf_tp && e->skel->links.shawk_tcp_state &&
		    !opt->no_aggregate;
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
	if (e->agg_on && opt->aggregate_plain_only)
		ebpf_note(opt, "TCP connections counted in the kernel, but those "
			       "through a NAT (Services) one event each, for the "
			       "conntrack stage");
	if (!e->agg_on)
		ebpf_note(opt, "TCP connections are reported one event each%s%s%s",
			  opt->no_aggregate_why ? " (" : "",
			  opt->no_aggregate_why ? opt->no_aggregate_why : "",
			  opt->no_aggregate_why ? ")" : "");
	return 0;
}

/* The stream state and the poller of the seed and resync polls. */
static int open_seed_poller(struct ebpf *e, struct procmap *pm,
			    const struct ebpf_options *opt)
{
	const char *deny = opt->deny;
	if (deny && *deny) {
		snprintf(e->refused, sizeof(e->refused), "%s", deny);
		ebpf_note(opt, "SHAWK_BPF_DENY=%s: those BPF programs are switched "
			  "off as if the kernel refused them", deny);
	}
	e->st = stream_new(opt->resync_ms, opt->resync_phase_ms, 0);
	e->poller = poller_new(pm, &(struct poller_options){
					   .run_netns_dir = opt->run_netns_dir,
					   .backend = opt->poll_backend,
					   .bpf_deny = opt->deny,
					   .bpf_verbose = opt->verbose,
				   });
	if (!e->st || !e->poller)
		return -ENOMEM;
	const char *pwhy;
	if (poller_backend(e->poller, &pwhy) == POLL_BACKEND_BPF_ITER)
		ebpf_note(opt, "seed and resync polls via BPF iterators");
	else if (opt->poll_backend != POLL_BACKEND_SOCKDIAG)
		ebpf_note(opt, "seed and resync polls via sock_diag (BPF "
			  "iterators: %s)", pwhy);
	return 0;
}

/*
 * The BTF-typed tracepoint first; sockops and the classic tracepoint where
 * the kernel refuses it (SHAWK_BPF_CLASSIC=1 forces those). *ret_btf_tp
 * says which. Returns 0 or -errno with why set.
 */
static int load_programs(struct ebpf *e, const struct ebpf_options *opt,
			 const char *cg, bool *ret_btf_tp, char *why,
			 size_t why_sz)
{
	bool btf_tp = !opt->classic;
	if (!btf_tp)
		ebpf_note(opt, "SHAWK_BPF_CLASSIC=1: using sockops and the classic "
			  "tracepoint");
	int r = btf_tp ? ebpf_load_degrading(e, opt, cg, true, why, why_sz)
		       : -1;
	if (r < 0) {
		if (btf_tp) {
			ebpf_note(opt, "%s: using sockops and the classic tracepoint "
				  "instead", why);
			shawk_bpf__destroy(e->skel);
			e->skel = NULL;
		}
		btf_tp = false;
		r = ebpf_load_degrading(e, opt, cg, false, why, why_sz);
		if (r < 0)
			return r;
	}
	*ret_btf_tp = btf_tp;
	return 0;
}

int ebpf_source_new(struct procmap *pm, const struct ebpf_options *opt,
		    struct source **ret, char *why, size_t why_sz)
{
	char cg[1024];
	int r;

	ebpf_iter_libbpf_print(opt->verbose);
	if ((r = check_kernel(opt, cg, sizeof(cg), why, why_sz)) < 0)
		return r;
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
	if ((r = open_seed_poller(e, pm, opt)) < 0)
		return r;

	e->cgroup_fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (e->cgroup_fd < 0) {
		r = -errno;
		WHY("cannot open the cgroup v2 root %s: %s", cg, strerror(-r));
		return r;
	}

	bool btf_tp;
	if ((r = load_programs(e, opt, cg, &btf_tp, why, why_sz)) < 0)
		return r;
	struct shawk_bpf *s = e->skel;

	if ((r = setup_aggregate(e, opt, btf_tp)) < 0 ||
	    (r = ebpf_filter_setup(e)) < 0)
		return r;
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
