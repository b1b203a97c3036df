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

/*
 * The kfunc's tuple and options, as the kernel's UAPI and kfunc ABI lay
 * them out (struct bpf_sock_tuple, struct bpf_ct_opts with
 * NF_BPF_CT_OPTS_SZ 16); the kfunc takes them as memory and size. Local
 * copies without CO-RE: every relocated type costs the kernel's loader a
 * search of the vmlinux BTF, so only struct nf_conn is relocated.
 */
struct ctl_tuple {
	union {
		struct {
			__be32 saddr, daddr;
			__be16 sport, dport;
		} ipv4;
		struct {
			__be32 saddr[4], daddr[4];
			__be16 sport, dport;
		} ipv6;
	};
};

struct ctl_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, void *bpf_tuple,
				  __u32 tuple__sz, void *opts,
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
	struct ctl_tuple t = {};
	struct ctl_opts opts = {
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
	/* Every read rooted at ct: one relocated type. */
	s->status = (__u32)ct->status;
	copy16(s->osrc, &ct->tuplehash[0].tuple.src.u3);
	copy16(s->odst, &ct->tuplehash[0].tuple.dst.u3);
	copy16(s->rsrc, &ct->tuplehash[1].tuple.src.u3);
	copy16(s->rdst, &ct->tuplehash[1].tuple.dst.u3);
	s->osport = ct->tuplehash[0].tuple.src.u.all;
	s->odport = ct->tuplehash[0].tuple.dst.u.all;
	s->rsport = ct->tuplehash[1].tuple.src.u.all;
	s->rdport = ct->tuplehash[1].tuple.dst.u.all;
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
