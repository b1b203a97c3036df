/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_RECORD_H
#define SHAWK_CORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What every source reports, one per socket (polling) or per connection
 * event (streaming). Addresses are in network byte order; IPv4 (including
 * IPv4-mapped IPv6, which sources normalise) uses the first 4 bytes.
 * Ports are in host byte order.
 */
enum sock_dir {
	SOCK_DIR_UNKNOWN = 0, /* classify by the listener set of the netns */
	SOCK_DIR_PASSIVE = 1, /* accepted: local port is the service port */
	SOCK_DIR_ACTIVE = 2,  /* connected out: local port is ephemeral */
};

enum {
	/* The record describes a connection that has already ended (event). */
	SOCK_REC_F_CLOSED = 1u << 0,
	/* pid/comm/cgroup_id were taken in process context by the source. */
	SOCK_REC_F_OWNER_KNOWN = 1u << 1,
	/* The source searched for the process holding the socket and found
	 * none (no fd holds it): process attribution skips it. */
	SOCK_REC_F_NO_OWNER = 1u << 2,
	/* Seen through an fd whose file other fds may share: the same socket
	 * may come again from another fd (the poller deduplicates). */
	SOCK_REC_F_FD_SHARED = 1u << 3,
	/* Polled by a source that counts new connections in aggregate
	 * records (streaming): a socket the flow table has not seen yet was
	 * counted by an aggregate record of this interval, so it is only
	 * remembered (counted again in later intervals, never as new). */
	SOCK_REC_F_COUNTED = 1u << 4,
};

struct sock_record {
	uint8_t proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t state;	/* TCP_* state; UDP: TCP_ESTABLISHED if connected */
	uint8_t dir;	/* enum sock_dir */
	uint16_t lport;
	uint16_t rport;
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint32_t flags; /* SOCK_REC_F_* */
	uint32_t uid;
	uint32_t pid; /* tgid of the owner, 0 when unknown */
	/* 0: one socket (identified by cookie/inode). n > 0: an aggregate of
	 * n new connections of one flow, counted by the source; the
	 * ephemeral port is 0 and there is no cookie. */
	uint32_t conns;
	uint64_t netns;	    /* netns inode */
	uint64_t inode;	    /* socket inode, 0 when not attached to a file */
	uint64_t cookie;    /* socket cookie, unique per boot; 0 if unknown */
	uint64_t cgroup_id; /* cgroup v2 id of the socket, 0 if unknown */
	char comm[16];	    /* set when SOCK_REC_F_OWNER_KNOWN */
};

/* An address alone (IPv4 in the first 4 bytes, the rest zero). */
struct net_addr {
	uint8_t family;
	uint8_t addr[16];
};

/* Orders net_addrs (qsort-compatible): family, then the address bytes. */
int net_addr_cmp(const void *a, const void *b);

/* Sorts v and drops repeats; returns how many distinct addresses remain. */
size_t net_addr_sort_unique(struct net_addr *v, size_t n);

/* Called for each record; a negative return stops the scan and is passed up. */
typedef int (*sock_record_fn)(const struct sock_record *rec, void *userdata);

/* Upper bound for one scan's records, whoever collects them. */
#define SOCK_RECORDS_MAX (8u << 20)

/*
 * Appends rec to the growable array *v of *n records (*cap allocated),
 * never beyond max records. Returns 0, -ENOSPC when full, or -ENOMEM.
 */
int sock_records_append(struct sock_record **v, size_t *n, size_t *cap,
			size_t max, const struct sock_record *rec);

#endif
