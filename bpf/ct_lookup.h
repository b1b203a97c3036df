/* SPDX-License-Identifier: GPL-2.0 OR MIT */
#ifndef SHAWK_BPF_CT_LOOKUP_H
#define SHAWK_BPF_CT_LOOKUP_H

/*
 * One slot of the conntrack lookup (bpf/ct_lookup.bpf.c and
 * src/probe/ctlookup.c): user space writes the tuple, the program writes
 * what the kernel's conntrack table holds for it. Addresses and ports in
 * network byte order; IPv4 in the first 4 bytes of an address.
 */
/* Slots per run (the map's size): small, a fresh map's pages are
 * zeroed at load, a cost on every start. */
#define CTL_CHUNK 2048

enum {
	CTL_MISS = 0,	   /* no entry */
	CTL_ORIGINAL = 1,  /* the tuple is the entry's original one */
	CTL_REPLY = 2,	   /* ... its reply one */
	CTL_ERROR = 3,	   /* the lookup refused the tuple (err) */
};

struct ctl_slot {
	/* in */
	__u8 family; /* 4 or 6 */
	__u8 proto;  /* IPPROTO_TCP, IPPROTO_UDP */
	/* out */
	__u8 found;  /* CTL_* */
	__u8 pad;
	__s32 err;   /* the kfunc's error (CTL_ERROR) */
	__u32 status; /* the entry's IPS_* bits (low 32) */
	/* in */
	__u8 src[16], dst[16];
	__u16 sport, dport;
	/* out: the entry's original and reply tuples */
	__u16 osport, odport, rsport, rdport;
	__u8 osrc[16], odst[16], rsrc[16], rdst[16];
};

#endif
