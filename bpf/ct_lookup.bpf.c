// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * shawk's conntrack lookup: run once per network namespace by
 * BPF_PROG_TEST_RUN (XDP, from a thread inside that netns: the lookup
 * searches the table of the netns the run happens in), it loops over the
 * first nslots slots of the map, looks each tuple up with the
 * bpf_xdp_ct_lookup() kfunc (one hash lookup: no walk of the table, no
 * message filled) and writes the entry found, its status and which of its
 * directions the tuple is. See bpf/ct_lookup.h and src/probe/ctlookup.c.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "ct_lookup.h"

#define BPF_F_CURRENT_NETNS (-1)

struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx,
				  struct bpf_sock_tuple *bpf_tuple,
				  __u32 tuple__sz, struct bpf_ct_opts *opts,
				  __u32 opts__sz) __ksym;
void bpf_ct_release(struct nf_conn *ct) __ksym;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, CTL_CHUNK);
	__type(key, __u32);
	__type(value, struct ctl_slot);
} slots SEC(".maps");

/* How many slots the next run looks up. */
__u32 nslots = 0;

struct loop_ctx {
	struct xdp_md *xdp;
};

static __always_inline void copy16(__u8 *dst, const void *src)
{
	__builtin_memcpy(dst, src, 16);
}

static long lookup_one(__u64 i, void *arg)
{
	struct loop_ctx *lc = arg;
	__u32 k = (__u32)i;
	struct ctl_slot *s = bpf_map_lookup_elem(&slots, &k);
	struct bpf_sock_tuple t = {};
	struct bpf_ct_opts opts = {
		.netns_id = BPF_F_CURRENT_NETNS,
	};
	__u32 tsz;

	if (!s)
		return 1;
	s->found = CTL_MISS;
	s->err = 0;
	opts.l4proto = s->proto;
	if (s->family == 4) {
		__builtin_memcpy(&t.ipv4.saddr, s->src, 4);
		__builtin_memcpy(&t.ipv4.daddr, s->dst, 4);
		t.ipv4.sport = s->sport;
		t.ipv4.dport = s->dport;
		tsz = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, s->src, 16);
		__builtin_memcpy(t.ipv6.daddr, s->dst, 16);
		t.ipv6.sport = s->sport;
		t.ipv6.dport = s->dport;
		tsz = sizeof(t.ipv6);
	}
	struct nf_conn *ct = bpf_xdp_ct_lookup(lc->xdp, &t, tsz, &opts,
					       sizeof(opts));
	if (!ct) {
		/* -ENOENT: no entry; anything else: the tuple was refused. */
		if (opts.error != -2) {
			s->found = CTL_ERROR;
			s->err = opts.error;
		}
		return 0;
	}
	s->found = opts.dir == 0 ? CTL_ORIGINAL : CTL_REPLY;
	s->status = (__u32)ct->status;
	struct nf_conntrack_tuple *o = &ct->tuplehash[0].tuple;
	struct nf_conntrack_tuple *r = &ct->tuplehash[1].tuple;
	copy16(s->osrc, &o->src.u3);
	copy16(s->odst, &o->dst.u3);
	copy16(s->rsrc, &r->src.u3);
	copy16(s->rdst, &r->dst.u3);
	s->osport = o->src.u.all;
	s->odport = o->dst.u.all;
	s->rsport = r->src.u.all;
	s->rdport = r->dst.u.all;
	bpf_ct_release(ct);
	return 0;
}

SEC("xdp")
int shawk_ct_lookup(struct xdp_md *ctx)
{
	struct loop_ctx lc = { .xdp = ctx };
	__u32 n = nslots;
	if (n > CTL_CHUNK)
		n = CTL_CHUNK;
	bpf_loop(n, lookup_one, &lc, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
