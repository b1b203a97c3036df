/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CONNTRACK_CT_H
#define SHAWK_CONNTRACK_CT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The NAT entries of the kernel's connection tracking tables, read over
 * ctnetlink (NETLINK_NETFILTER). The only module that speaks ctnetlink
 * (through libmnl). Parsing never does I/O: ct_table_feed() takes the
 * bytes of received netlink messages, so dumps recorded on a machine are
 * replayed in tests.
 *
 * Addresses are in network byte order (IPv4 in the first 4 bytes, the rest
 * zero), ports in host byte order, as in struct sock_record.
 */

enum {
	CT_NAT_DST = 1u << 0, /* IPS_DST_NAT: the reply comes from elsewhere */
	CT_NAT_SRC = 1u << 1, /* IPS_SRC_NAT: the reply goes elsewhere */
};

/* One kept entry: the original and the reply tuple. */
struct ct_entry {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t nat;	/* CT_NAT_* */
	uint8_t pad;
	uint16_t osport, odport; /* original: client -> dialed address */
	uint16_t rsport, rdport; /* reply: backend -> client (as NATed) */
	uint32_t dead_gen; /* 0: alive; else the generation of its DESTROY */
	uint64_t netns;	   /* where it was read (the table's context) */
	uint8_t osrc[16], odst[16];
	uint8_t rsrc[16], rdst[16];
};

/* What one message was: kept, skipped (no NAT, other protocol), bad. */
enum ct_parse_result {
	CT_PARSE_SKIP = 0,
	CT_PARSE_NAT = 1,
};

/*
 * Parses the payload of one ctnetlink IPCTNL_MSG_CT_NEW message (after the
 * nlmsghdr: struct nfgenmsg, then attributes) into *ret. Returns
 * CT_PARSE_NAT for a TCP or UDP entry with source or destination NAT,
 * CT_PARSE_SKIP for any other well-formed entry, -EBADMSG when malformed
 * (truncated attribute, missing tuple, wrong attribute length).
 */
int ct_parse_entry(const void *payload, size_t len, struct ct_entry *ret);

/*
 * Parses the reply to IPCTNL_MSG_CT_GET_STATS (one message, or an
 * NLMSG_ERROR): the entries of that netns's table and its maximum (0 when
 * absent). Returns 0, -errno from the error message, or -EBADMSG.
 */
int ct_parse_count(const void *buf, size_t len, uint32_t *ret_entries,
		   uint32_t *ret_max);

/* The CT_NAT_* bits of an entry's IPS_* status bits. */
uint8_t ct_status_nat(uint32_t status);

/*
 * Sets e->nat of an entry whose tuples (and family, proto) are filled but
 * which did not come through ctnetlink (a lookup by another module):
 * the status bits, and a reply from elsewhere than the original
 * destination (IPVS, no status bit) as a destination NAT. Returns whether
 * the table keeps such an entry (TCP or UDP, some NAT).
 */
bool ct_entry_classify(struct ct_entry *e, uint32_t status);

/* ---- lookups of single connections --------------------------------------
 *
 * A dump walks the host-wide hash table and sends every entry asked for;
 * a lookup per connection does neither. ctnetlink has no lookup of many
 * tuples at once, so another module may offer one (probe/ctlookup: a BPF
 * program calling the kernel's conntrack lookup kfunc); the conntrack
 * stage takes it through this contract and dumps when there is none.
 */

/* One connection's tuple as its socket sees it (local = src, peer =
 * dst): an entry's original tuple (an active socket through a DNAT) or
 * its reply tuple (a backend answering a source-NATed client) alike.
 * Addresses and ports as in struct ct_entry. */
struct ct_query {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t sport, dport;
	uint8_t src[16], dst[16];
};

struct ct_lookup_ops {
	/*
	 * Makes the lookup ready (loads what it needs; may take a while:
	 * called once, on any thread). 0, or -errno with why (one line,
	 * e.g. the verifier's reason) written: the caller dumps instead.
	 */
	int (*open)(void *ctx, char *why, size_t why_sz);
	/*
	 * Looks q[0..n) up in the conntrack table of the calling thread's
	 * netns (default zone), and calls hit(ud, i, e) for every q[i] an
	 * entry holds in either direction, e that entry (tuples; nat as
	 * ct_entry_classify() sets it from its status; netns and dead_gen
	 * 0; valid during the call). Returns the number of hits, or -errno
	 * (hits may have been reported before the failure).
	 */
	ssize_t (*lookup)(void *ctx, const struct ct_query *q, size_t n,
			  void (*hit)(void *ud, size_t i,
				      const struct ct_entry *e),
			  void *ud);
	/* Frees ctx (whoever took the contract owns it). */
	void (*free)(void *ctx);
	void *ctx;
};

struct ct_table_stats {
	uint64_t messages;   /* entry messages parsed (all dumps, events) */
	uint64_t skipped;    /* well-formed entries without NAT */
	uint64_t nat;	     /* kept: NAT entries (current table) */
	uint64_t dropped;    /* NAT entries over the cap (this fill) */
	uint64_t malformed;  /* messages ct_parse_entry() refused */
	uint64_t dump_errors; /* dumps that failed (netlink error, recv) */
};

struct ct_table;

/* max_entries bounds memory (0: a default of 262144). NULL on OOM. */
struct ct_table *ct_table_new(size_t max_entries);
void ct_table_free(struct ct_table *t);

/* Forgets every entry (keeps the memory); counters other than nat stay. */
void ct_table_clear(struct ct_table *t);

size_t ct_table_count(const struct ct_table *t);
/* The entries, as an array (*ret_n of them) valid until the table changes. */
const struct ct_entry *ct_table_entries(const struct ct_table *t,
					size_t *ret_n);
void ct_table_get_stats(const struct ct_table *t, struct ct_table_stats *ret);
/*
 * A number that changes whenever the set of (family, reply destination) of
 * the source-NATed entries (reply destination != original source) may
 * have: such an entry added, replaced differently or dropped, the table
 * cleared. Equal numbers: the set is the same. Never 0.
 */
uint64_t ct_table_snat_version(const struct ct_table *t);

/*
 * What the next ct_table_feed() calls stamp: the netns entries come from,
 * and the generation a DESTROY event marks its entry dead with.
 */
void ct_table_set_context(struct ct_table *t, uint64_t netns, uint32_t gen);

/*
 * Adds e, or replaces the entry of the same original tuple (a tuple used
 * again by a new connection: the latest wins, alive). 0, or -ENOSPC over
 * the cap (counted as dropped), -ENOMEM.
 */
int ct_table_add(struct ct_table *t, const struct ct_entry *e);

/*
 * Marks the entry of e's original tuple dead at gen (a DESTROY event): it
 * still translates the records of this scan, which may describe that very
 * connection, until a ct_table_purge() drops it. Returns true if found.
 */
bool ct_table_kill(struct ct_table *t, const struct ct_entry *e, uint32_t gen);

/* Entries marked dead by ct_table_kill() and not purged yet. */
size_t ct_table_dead(const struct ct_table *t);

/* Drops every entry drop() returns true for and rebuilds the indexes.
 * Returns the number dropped. */
size_t ct_table_purge(struct ct_table *t,
		      bool (*drop)(const struct ct_entry *e, void *ud),
		      void *ud);

/*
 * Feeds received netlink bytes (one or more messages) of a dump or of
 * event reads: entries (IPCTNL_MSG_CT_NEW) are added, DESTROY events
 * (IPCTNL_MSG_CT_DELETE, tuples only) kill theirs, both in the context of
 * ct_table_set_context(). Returns 1 when the dump's NLMSG_DONE was seen, 0 when more
 * is to come, -errno from an NLMSG_ERROR message, -EBADMSG for a broken
 * netlink header (the rest is ignored), -ENOMEM.
 */
int ct_table_feed(struct ct_table *t, const void *buf, size_t len);

/*
 * The DNAT entry whose original tuple is src:sport -> dst:dport (an
 * active socket's local and peer), or NULL.
 */
const struct ct_entry *ct_table_find_orig(const struct ct_table *t,
					  uint8_t family, uint8_t proto,
					  const uint8_t *src, uint16_t sport,
					  const uint8_t *dst, uint16_t dport);

/*
 * The SNAT entry whose reply tuple is src:sport -> dst:dport (a passive
 * socket's local and peer: the backend answering the NATed address), or
 * NULL.
 */
const struct ct_entry *ct_table_find_reply(const struct ct_table *t,
					   uint8_t family, uint8_t proto,
					   const uint8_t *src, uint16_t sport,
					   const uint8_t *dst, uint16_t dport);

/* ---- I/O -------------------------------------------------------------- */

/* A ctnetlink socket in the calling thread's netns (CLOEXEC): fd or -errno. */
int ct_socket_open(void);

/*
 * The number of entries in fd's netns's table and its maximum: a netns
 * with none needs no dump (a dump walks the host-wide hash table whatever
 * the netns). Returns 0 or -errno.
 */
int ct_count(int fd, uint32_t *ret_entries, uint32_t *ret_max);

/* What a dump asks for (a filtered dump is one walk per kind). */
enum {
	CT_DUMP_DNAT = 1u << 0, /* entries with DNAT */
	CT_DUMP_SNAT = 1u << 1, /* entries with SNAT and no DNAT */
	CT_DUMP_ALL = CT_DUMP_DNAT | CT_DUMP_SNAT,
};

/*
 * Dumps the conntrack table of fd's netns into t. With filter the kernel
 * is asked for the NAT entries of kinds only (CTA_STATUS/CTA_STATUS_MASK,
 * one dump, i.e. one walk of the host-wide hash, per kind); *ret_filtered
 * says whether it honoured that (a kernel refusing it gets one unfiltered
 * dump; entries are always filtered here too). *ret_done: the kinds t now
 * holds (CT_DUMP_ALL after an unfiltered dump). Returns 0 or -errno
 * (-EPERM, -EOPNOTSUPP: no conntrack, ...).
 */
int ct_dump(struct ct_table *t, int fd, bool filter, unsigned kinds,
	    unsigned *ret_done, bool *ret_filtered);

/*
 * A non-blocking ctnetlink socket in the calling thread's netns subscribed
 * to the NEW and DESTROY conntrack event groups: entries made and gone
 * between two scans. fd or -errno.
 */
int ct_events_open(void);

/*
 * Feeds every pending event of fd into t. Returns the number of messages
 * read, -ENOBUFS when the socket overran (events lost: dump again), or
 * another -errno.
 */
int ct_events_read(struct ct_table *t, int fd);

#endif
