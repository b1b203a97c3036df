// SPDX-License-Identifier: MIT
/*
 * The conntrack lookup by BPF (probe/ebpf_ctlookup.h). Part of the
 * probe/ebpf module: libbpf is included here, in ebpf.c and ebpf_iter.c.
 */
#include "probe/ebpf_ctlookup.h"

#include "probe/bpflog.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ct_lookup.h"
#include "ct_lookup.lskel.h"

#define PROG_NAME "shawk_ct_lookup"
#define LOG_SZ (1u << 20)

struct ebpf_ctlookup {
	const char *deny;
	struct ct_lookup_lskel *skel;
	struct ctl_slot *slots; /* the map, mmapped (CTL_CHUNK) */
	size_t map_len;
	int err; /* of the first open(), 0: ok or not tried */
	bool tried;
	char why[200];
};

struct ebpf_ctlookup *ebpf_ctlookup_new(const char *deny)
{
	struct ebpf_ctlookup *l = calloc(1, sizeof(*l));
	if (l)
		l->deny = deny;
	return l;
}

void ebpf_ctlookup_free(struct ebpf_ctlookup *l)
{
	if (!l)
		return;
	if (l->slots)
		munmap(l->slots, l->map_len);
	if (l->skel)
		ct_lookup_lskel__destroy(l->skel);
	free(l);
}

/* One load of the light skeleton; log: the verifier's log (NULL: none). */
static int load(struct ct_lookup_lskel **ret, char *log)
{
	struct ct_lookup_lskel *s = ct_lookup_lskel__open();
	if (!s)
		return -ENOMEM;
	if (log) {
		log[0] = '\0';
		s->ctx.log_level = 1;
		s->ctx.log_size = LOG_SZ;
		s->ctx.log_buf = (uint64_t)(uintptr_t)log;
	}
	int r = ct_lookup_lskel__load(s);
	if (r < 0) {
		ct_lookup_lskel__destroy(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int do_open(struct ebpf_ctlookup *l)
{
	if (bpflog_list_has(l->deny, PROG_NAME)) {
		snprintf(l->why, sizeof(l->why), "refused (SHAWK_BPF_DENY)");
		return -EPERM;
	}
	int r = load(&l->skel, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		/* Again with the verifier's log, for the reason. */
		_cleanup_(freep) char *log = malloc(LOG_SZ);
		if (!log)
			return -ENOMEM;
		r = load(&l->skel, log);
		if (r < 0) {
			char reason[160];
			bpflog_reason(log, reason, sizeof(reason));
			snprintf(l->why, sizeof(l->why),
				 "refused by the kernel: %s",
				 reason[0] ? reason : strerror(-r));
			return r;
		}
	}
	l->map_len = (size_t)CTL_CHUNK * sizeof(struct ctl_slot);
	long pg = sysconf(_SC_PAGESIZE);
	if (pg > 0)
		l->map_len = (l->map_len + (size_t)pg - 1) / (size_t)pg * (size_t)pg;
	void *m = mmap(NULL, l->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       l->skel->maps.slots.map_fd, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		snprintf(l->why, sizeof(l->why), "cannot map its slots: %s",
			 strerror(-r));
		return r;
	}
	l->slots = m;
	if (!l->skel->bss) {
		snprintf(l->why, sizeof(l->why), "no global data");
		return -EINVAL;
	}
	return 0;
}

int ebpf_ctlookup_open(struct ebpf_ctlookup *l, char *why, size_t why_sz)
{
	if (!l->tried) {
		l->tried = true;
		l->err = do_open(l);
		if (l->err == -ENOMEM)
			l->tried = false; /* may work another time */
		if (l->err < 0 && l->skel) {
			if (l->slots)
				munmap(l->slots, l->map_len);
			l->slots = NULL;
			ct_lookup_lskel__destroy(l->skel);
			l->skel = NULL;
		}
	}
	if (l->err < 0 && why_sz)
		snprintf(why, why_sz, "%s", l->why[0] ? l->why : strerror(-l->err));
	return l->err;
}

void ebpf_ctlookup_slot_set(struct ctl_slot *s, const struct ct_query *q)
{
	memset(s, 0, sizeof(*s));
	s->family = q->family == AF_INET6 ? 6 : 4;
	s->proto = q->proto;
	memcpy(s->src, q->src, 16);
	memcpy(s->dst, q->dst, 16);
	s->sport = htons(q->sport);
	s->dport = htons(q->dport);
}

bool ebpf_ctlookup_slot_get(const struct ctl_slot *s, struct ct_entry *ret,
			    int *err)
{
	*err = s->found == CTL_ERROR ? (s->err < 0 ? s->err : -EINVAL) : 0;
	if (s->found != CTL_ORIGINAL && s->found != CTL_REPLY)
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->family = s->family == 6 ? AF_INET6 : AF_INET;
	ret->proto = s->proto;
	size_t alen = s->family == 6 ? 16 : 4;
	/* The program copies 16 bytes: an IPv4 entry's rest is zero in the
	 * kernel too, but the table's keys want exactly that. */
	memcpy(ret->osrc, s->osrc, alen);
	memcpy(ret->odst, s->odst, alen);
	memcpy(ret->rsrc, s->rsrc, alen);
	memcpy(ret->rdst, s->rdst, alen);
	ret->osport = ntohs(s->osport);
	ret->odport = ntohs(s->odport);
	ret->rsport = ntohs(s->rsport);
	ret->rdport = ntohs(s->rdport);
	(void)ct_entry_classify(ret, s->status);
	return true;
}

ssize_t ebpf_ctlookup_run(struct ebpf_ctlookup *l, const struct ct_query *q,
			  size_t n,
			  void (*hit)(void *ud, size_t i, const struct ct_entry *e),
			  void *ud)
{
	if (!l->slots)
		return -EBADF;
	/* An XDP test run wants a frame: an Ethernet header's worth. */
	uint8_t pkt[64] = { 0 };
	ssize_t hits = 0;
	for (size_t at = 0; at < n;) {
		size_t k = n - at < CTL_CHUNK ? n - at : CTL_CHUNK;
		for (size_t i = 0; i < k; i++)
			ebpf_ctlookup_slot_set(&l->slots[i], &q[at + i]);
		l->skel->bss->nslots = (uint32_t)k;
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
			    .data_size_in = sizeof(pkt), .repeat = 1);
		int r = bpf_prog_test_run_opts(
			l->skel->progs.shawk_ct_lookup.prog_fd, &o);
		if (r < 0)
			return -errno ? -errno : r;
		for (size_t i = 0; i < k; i++) {
			struct ct_entry e;
			int err;
			if (ebpf_ctlookup_slot_get(&l->slots[i], &e, &err)) {
				hit(ud, at + i, &e);
				hits++;
			}
		}
		at += k;
	}
	return hits;
}

static int ops_open(void *ctx, char *why, size_t why_sz)
{
	return ebpf_ctlookup_open(ctx, why, why_sz);
}

static ssize_t ops_lookup(void *ctx, const struct ct_query *q, size_t n,
			  void (*hit)(void *ud, size_t i,
				      const struct ct_entry *e),
			  void *ud)
{
	return ebpf_ctlookup_run(ctx, q, n, hit, ud);
}

static void ops_free(void *ctx)
{
	ebpf_ctlookup_free(ctx);
}

void ebpf_ctlookup_ops(struct ebpf_ctlookup *l, struct ct_lookup_ops *ret)
{
	*ret = (struct ct_lookup_ops){
		.open = ops_open,
		.lookup = ops_lookup,
		.free = ops_free,
		.ctx = l,
	};
}
