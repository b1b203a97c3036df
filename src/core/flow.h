/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_FLOW_H
#define SHAWK_CORE_FLOW_H

#include "core/record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A flow: (direction, local endpoint, peer endpoint, process) with counts.
 * The ephemeral side's port is 0 in the key and prints as "many".
 * The key is compared with memcmp, so it is always built zeroed.
 */
struct flow_key {
	uint8_t dir; /* SOCK_DIR_PASSIVE or SOCK_DIR_ACTIVE */
	uint8_t proto;
	uint8_t family;
	uint8_t pad;
	uint16_t lport; /* 0 for active flows ("many") */
	uint16_t rport; /* 0 for passive flows ("many") */
	uint8_t laddr[16];
	uint8_t raddr[16];
	uint64_t netns;
	uint32_t pgid;
	char comm[16];
	/*
	 * Kubernetes Services (conntrack): an active flow whose peer is the
	 * backend a DNAT sent it to keeps the address it dialed (ClusterIP,
	 * NodePort) in svc_addr:svc_port; a passive flow whose peer was
	 * source-NATed keeps the original client in nat_addr (nat_port 0:
	 * "many", as the peer of a passive flow). Port 0 and zero address:
	 * none. Same family as laddr/raddr.
	 */
	uint16_t svc_port;
	uint16_t nat_port;
	uint8_t svc_addr[16];
	uint8_t nat_addr[16];
};

/* What enrichment knows about the owner of a socket; strings are borrowed. */
struct flow_owner {
	uint32_t pid;
	uint32_t pgid;
	char comm[16];
	const char *cmdline;
	const char *cgroup;
	const char *container_id;
	const char *container_name;
	const char *pod_namespace;
	const char *pod_name;
	const char *pod_uid;
	const char *node;
};

struct flow {
	struct flow_key key;
	uint32_t pid;	    /* lowest pid seen for this flow's process */
	uint64_t cgroup_id; /* of the socket, 0 if unknown */
	/* Owned strings, NULL when unknown. */
	char *cmdline;
	char *cgroup;
	char *container_id;
	char *container_name;
	char *pod_namespace;
	char *pod_name;
	char *pod_uid;
	char *node;
	/* Distinct connections observed in this interval. */
	uint32_t connections;
	/* Connections never seen before this interval (for running totals). */
	uint32_t new_connections;
	int64_t first_seen_ms;
	int64_t last_seen_ms;
};

/*
 * Fills *ret for pid (never 0). Returns 0, or -ESRCH when the process is
 * unknown (the flow is then recorded with an empty identity).
 */
typedef int (*flow_enrich_fn)(uint32_t pid, const struct sock_record *rec,
			      struct flow_owner *ret, void *userdata);

/*
 * A translation of one record's addresses (conntrack): what its flow key
 * gets instead of, or besides, what the socket holds. Zeroed before each
 * call; fields left zero change nothing.
 */
struct flow_nat {
	bool peer_set;	    /* the key's peer is peer:peer_port, not raddr */
	uint16_t peer_port; /* (kept 0 in a passive key, "many") */
	uint8_t peer[16];
	uint16_t svc_port; /* -> flow_key.svc_addr/svc_port */
	uint16_t nat_port; /* -> flow_key.nat_addr/nat_port */
	uint8_t svc_addr[16];
	uint8_t nat_addr[16];
};

/*
 * Called for every connection record (owned or not, polled or streamed)
 * before its flow key is built, with its direction as classified; returns
 * true when it filled *ret. The record itself is never changed (it is the
 * source's, read-only).
 */
typedef bool (*flow_translate_fn)(const struct sock_record *rec, uint8_t dir,
				  struct flow_nat *ret, void *userdata);

struct flow_table_stats {
	uint64_t dropped_flows; /* observations lost to the max_flows cap */
	uint64_t untracked_conns; /* counted without dedup: tracker full */
	uint64_t closing_skipped; /* closing sockets counted no (more) */
	uint64_t listeners;
};

struct flow_table;

/* max_flows / max_conns bound memory (0: defaults). NULL on OOM. */
struct flow_table *flow_table_new(size_t max_flows, size_t max_conns);
void flow_table_free(struct flow_table *t);
void flow_table_freep(struct flow_table **t);

/*
 * Feeds one scan's records. With snapshot=true recs is the complete socket
 * table (listeners are rebuilt from it, and connections not in it are
 * forgotten); otherwise recs are events added to what is known.
 * Returns the number of connection records aggregated, or -ENOMEM.
 */
int flow_table_ingest(struct flow_table *t, const struct sock_record *recs,
		      size_t n, bool snapshot, int64_t now_ms,
		      flow_enrich_fn enrich, void *userdata);

/* Installs the translation every later ingest applies (NULL: none). */
void flow_table_set_translate(struct flow_table *t, flow_translate_fn fn,
			      void *userdata);

/* The flows of the current interval (valid until the next ingest/reset). */
size_t flow_table_count(const struct flow_table *t);
const struct flow *flow_table_flows(const struct flow_table *t);

/*
 * Ends the interval: drops all flows but keeps the connection tracker, so
 * a connection still open later is not counted as new again.
 */
void flow_table_reset_interval(struct flow_table *t);

void flow_table_get_stats(const struct flow_table *t,
			  struct flow_table_stats *ret);

/* Frees the owned strings of f (not f itself). */
void flow_clear(struct flow *f);

/* Deep copy; returns 0 or -ENOMEM (dst then holds no allocation). */
int flow_copy(struct flow *dst, const struct flow *src);

/* True when the peer (or local) address is loopback. */
bool flow_is_loopback(const struct flow *f);

#endif
