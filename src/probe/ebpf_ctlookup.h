/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_EBPF_CTLOOKUP_H
#define SHAWK_PROBE_EBPF_CTLOOKUP_H

#include "conntrack/ct.h"
#include "core/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * The conntrack lookup of single connections (conntrack/ct.h struct
 * ct_lookup_ops), by BPF: bpf/ct_lookup.bpf.c, an XDP program run by
 * BPF_PROG_TEST_RUN from a thread inside the netns to search, calls the
 * bpf_xdp_ct_lookup() kfunc for every tuple of a map (CTL_CHUNK per run,
 * bpf_loop) and writes the entry found. One hash lookup per connection:
 * no walk of the host-wide table, no netlink message per entry. Part of
 * the probe/ebpf module (libbpf). One caller at a time.
 */
struct ebpf_ctlookup;

/* Nothing loaded yet (ebpf_ctlookup_open() does). deny: SHAWK_BPF_DENY's
 * list (shawk_ct_lookup there: refused, for tests), borrowed. NULL on
 * OOM. */
struct ebpf_ctlookup *ebpf_ctlookup_new(const char *deny);
void ebpf_ctlookup_free(struct ebpf_ctlookup *l);
DEFINE_FREEP(struct ebpf_ctlookup, ebpf_ctlookup_free)

/* Loads the program (a light skeleton: the kernel applies its CO-RE and
 * kfunc relocations). 0, or -errno with why (the verifier's reason when
 * it refused the program). Again after a refusal: the same refusal. */
int ebpf_ctlookup_open(struct ebpf_ctlookup *l, char *why, size_t why_sz);

/* As struct ct_lookup_ops lookup() (open first). */
ssize_t ebpf_ctlookup_run(struct ebpf_ctlookup *l, const struct ct_query *q,
			  size_t n,
			  void (*hit)(void *ud, size_t i, const struct ct_entry *e),
			  void *ud);

/* The contract the conntrack stage takes (ctx: l; its free() frees l). */
void ebpf_ctlookup_ops(struct ebpf_ctlookup *l, struct ct_lookup_ops *ret);

/* ---- pure: one slot of the program's map (bpf/ct_lookup.h) ------------- */
struct ctl_slot;
/* Writes q into s (its input half; the output half zeroed). */
void ebpf_ctlookup_slot_set(struct ctl_slot *s, const struct ct_query *q);
/* What the program wrote into s: true with *ret the entry found (nat
 * classified, netns and dead_gen 0), false for no entry (or a refused
 * tuple: *err then its -errno, else 0). */
bool ebpf_ctlookup_slot_get(const struct ctl_slot *s, struct ct_entry *ret,
			    int *err);

#endif
