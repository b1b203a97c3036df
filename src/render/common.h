/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_RENDER_COMMON_H
#define SHAWK_RENDER_COMMON_H

#include "core/graph.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * What every renderer shares (flows.c for the probe; tree.c, json.c,
 * dot.c for look; table.c for list): JSON printing, how an endpoint, a process, a protocol, an edge's count
 * and a time read, and how untrusted strings are made safe. Strings from
 * the kernel (comm, cmdline) and from Kubernetes are untrusted: each
 * escape_* makes them safe for one output channel.
 */

struct cJSON;

/* Prints doc on one line and a newline to out, and deletes doc (NULL: out
 * of memory while building it). Returns 0, -ENOMEM or -EIO. */
int render_json_print(FILE *out, struct cJSON *doc);

/* Writes s to out with C0/C1 control characters and DEL replaced by '?'. */
void escape_terminal(FILE *out, const char *s);

/* Copies s into buf (bufsz > 0) with control characters replaced by '?'. */
void escape_terminal_buf(char *buf, size_t bufsz, const char *s);

/* Writes s as the inside of a Graphviz double-quoted string. */
void escape_dot(FILE *out, const char *s);

/* "10.0.0.1:80", "[fd00::1]:many" into buf (at least 64 bytes). */
void render_endpoint(char *buf, size_t bufsz, int family,
		     const uint8_t addr[16], uint16_t port);

/* "udp" for IPPROTO_UDP, else "tcp" (the only two a flow has). */
const char *render_proto_name(uint8_t proto);

/* RFC 3339 UTC with milliseconds, into buf (at least 32 bytes). */
void render_time_ms(char *buf, size_t bufsz, int64_t ms);

/* How long before now_ms the time ms was, for people: "just now",
 * "42s ago", "5m ago", "3h ago", "2d ago". */
void render_age(char *buf, size_t bufsz, int64_t now_ms, int64_t ms);

/* A vertex's endpoint as render_endpoint() writes it. */
void render_vertex_endpoint(char *buf, size_t bufsz,
			    const struct graph_vertex *v);

/* "default/nginx-7c5d8 nginx 'nginx', pgid=1" without control characters
 * (the part inside the parentheses of a tree line), into buf; a process
 * no agent saw (pgid 0, no name) is "not seen by an agent". */
void render_vertex_process(char *buf, size_t bufsz,
			   const struct graph_vertex *v);

/* How an edge's client reached its server when not directly, without
 * control characters: "shop/catalog 198.18.162.10:80" (the Service it
 * dialed; the address alone when unnamed) into svc, "198.18.62.1" (the
 * address the server saw behind a source NAT) into nat; "" when none.
 * Each buffer at least 64 bytes. */
void render_edge_via(char *svc, size_t svcsz, char *nat, size_t natsz,
		     const struct graph *g, const struct graph_edge *e);

/* An edge's label, its protocol and the connections of the last interval
 * it was seen in, or over a time window those started in it, with a unit
 * ("tcp 3 conns"; JSON's "connections"), and in a diff their change
 * ("tcp 3 conns (+2)"), into buf (at least 48 bytes). */
void render_edge_count(char *buf, size_t bufsz, const struct graph *g,
		       const struct graph_edge *e);

/* In a diff: the edge is unchanged and the user asked to hide those. */
bool render_edge_hidden(const struct graph *g, const struct graph_edge *e);

/* The name of an edge's change in a diff: "added", "removed",
 * "unchanged". */
const char *render_change_name(const struct graph_edge *e);

#endif
