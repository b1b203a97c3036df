// SPDX-License-Identifier: MIT
/*
 * The flush's rows, sorted and encoded client-side: flows in primary-key
 * order (consecutive index insertions then land on the same leaf pages)
 * and the nodes they name merged one row per key, so that the server
 * neither sorts nor aggregates.
 */
#include "cmdb/flush_data.h"

#include "core/util.h"

#include <endian.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Fields per row of each staging table (sql/flush/tables.sql). */
#define FLOW_FIELDS 19
#define PASSIVE_FIELDS 16
#define ACTIVE_FIELDS 14

/* comm as the server will store it (pgcopy_text turns invalid UTF-8 into
 * '?'), compared bytewise: the order of text under the C.UTF-8 collation
 * and, above all, equal exactly when the server's keys are equal. */
static int comm_cmp(const char *a, const char *b)
{
	size_t i = 0;
	for (; i < 16 && a[i] == b[i] && a[i]; i++)
		;
	if (i == 16 || (a[i] == b[i]))
		return 0;
	bool ascii = true;
	for (size_t j = 0; j < 16 && ascii && (a[j] || b[j]); j++)
		ascii = !((a[j] | b[j]) & 0x80);
	if (ascii)
		return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	/* pgcopy_text into stack buffers big enough never to grow: 16
	 * bytes give at most 16 bytes of text after their length. */
	char sa[64], sb[64];
	struct pgcopy ca = { .buf = sa, .cap = sizeof(sa) };
	struct pgcopy cb = { .buf = sb, .cap = sizeof(sb) };
	char ta[17], tb[17];
	memcpy(ta, a, 16);
	memcpy(tb, b, 16);
	ta[16] = tb[16] = '\0';
	pgcopy_text(&ca, ta);
	pgcopy_text(&cb, tb);
	/* 4-byte length, then the text: compare the text, then the length. */
	size_t la = ca.len - 4, lb = cb.len - 4;
	int r = memcmp(sa + 4, sb + 4, la < lb ? la : lb);
	return r ? r : la < lb ? -1 : la > lb;
}

/* Addresses in network byte order compare as big-endian words; an IPv4
 * address is its first 4 bytes only (all that is sent of it). */
static inline int addr_cmp(int family, const uint8_t *a, const uint8_t *b)
{
	if (family == AF_INET) {
		uint32_t x, y;
		memcpy(&x, a, 4);
		memcpy(&y, b, 4);
		return x == y ? 0 : be32toh(x) < be32toh(y) ? -1 : 1;
	}
	uint64_t x, y;
	for (size_t i = 0; i < 16; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return be64toh(x) < be64toh(y) ? -1 : 1;
	}
	return 0;
}

#define CMP(x, y)                                                             \
	do {                                                                  \
		if ((x) != (y))                                               \
			return (x) < (y) ? -1 : 1;                            \
	} while (0)

/* The column every table's key starts with, the local address: inet sorts
 * by family, then address. */
static int laddr_cmp(const struct flow_key *x, const struct flow_key *y)
{
	CMP(x->family, y->family);
	return addr_cmp(x->family, x->laddr, y->laddr);
}

/* The key of the flow an element of the sorted pointer arrays points to. */
static inline const struct flow_key *key_of(const void *elem)
{
	return &(*(const struct flow *const *)elem)->key;
}

static bool addr_set(const uint8_t a[16])
{
	static const uint8_t zero[16];
	return memcmp(a, zero, 16) != 0;
}

/* A Service (conntrack's DNAT) or a NAT peer is recorded when its address
 * or port is set (core/flow.h); stored as NULLs otherwise. */
static bool has_service(const struct flow_key *k)
{
	return k->svc_port || addr_set(k->svc_addr);
}

static bool has_nat_peer(const struct flow_key *k)
{
	return k->nat_port || addr_set(k->nat_addr);
}

/* An optional (address, port) of the key as the unique index orders it:
 * NULLs (none) last, then address, then port. */
static int opt_endpoint_cmp(int family, bool xs, const uint8_t *xa,
			    uint16_t xp, bool ys, const uint8_t *ya,
			    uint16_t yp)
{
	int r;
	CMP(!xs, !ys);
	if (!xs)
		return 0;
	if ((r = addr_cmp(family, xa, ya)))
		return r;
	CMP(xp, yp);
	return 0;
}

/* Key order of flows (laddr, lport, direction, proto, raddr, rport,
 * node_name, netns, pgid, comm, service_addr, service_port, nat_peer_addr,
 * nat_peer_port): 'active' < 'passive', 'tcp' < 'udp'. Locality depends
 * on it; correctness on it being 0 exactly for equal keys. */
static int flow_pk_cmp(const void *a, const void *b)
{
	const struct flow_key *x = key_of(a), *y = key_of(b);
	int r;
	if ((r = laddr_cmp(x, y)))
		return r;
	CMP(x->lport, y->lport);
	CMP(x->dir == SOCK_DIR_PASSIVE, y->dir == SOCK_DIR_PASSIVE);
	CMP(x->proto == IPPROTO_UDP, y->proto == IPPROTO_UDP);
	if ((r = addr_cmp(x->family, x->raddr, y->raddr)))
		return r;
	CMP(x->rport, y->rport);
	CMP(x->netns, y->netns);
	CMP(x->pgid, y->pgid);
	if ((r = comm_cmp(x->comm, y->comm)))
		return r;
	if ((r = opt_endpoint_cmp(x->family, has_service(x), x->svc_addr,
				  x->svc_port, has_service(y), y->svc_addr,
				  y->svc_port)))
		return r;
	return opt_endpoint_cmp(x->family, has_nat_peer(x), x->nat_addr,
				x->nat_port, has_nat_peer(y), y->nat_addr,
				y->nat_port);
}

/* Writes an optional endpoint: two NULLs when absent. */
static void encode_opt_endpoint(struct pgcopy *c, int family, bool set,
				const uint8_t *addr, uint16_t port)
{
	if (!set) {
		pgcopy_null(c);
		pgcopy_null(c);
		return;
	}
	pgcopy_inet(c, family, addr);
	pgcopy_int4(c, port);
}

/* The node tables' keys: passive_nodes (addr, port, proto, pgid, comm),
 * active_nodes (addr, pgid, comm). */
static inline int node_cmp(const void *a, const void *b, bool passive)
{
	const struct flow_key *x = key_of(a), *y = key_of(b);
	int r;
	if ((r = laddr_cmp(x, y)))
		return r;
	if (passive) {
		CMP(x->lport, y->lport);
		CMP(x->proto == IPPROTO_UDP, y->proto == IPPROTO_UDP);
	}
	CMP(x->pgid, y->pgid);
	return comm_cmp(x->comm, y->comm);
}

static int passive_node_cmp(const void *a, const void *b)
{
	return node_cmp(a, b, true);
}

static int active_node_cmp(const void *a, const void *b)
{
	return node_cmp(a, b, false);
}

static void flow_texts(const struct flow *f, const char *t[7])
{
	t[0] = f->cmdline;
	t[1] = f->cgroup;
	t[2] = f->container_id;
	t[3] = f->container_name;
	t[4] = f->pod_namespace;
	t[5] = f->pod_name;
	t[6] = f->pod_uid;
}

/*
 * One row per node from v, the flows naming nodes of one kind: sorted by
 * the node key, each run of equal keys is one node, merged as the GROUP BY
 * in SQL did: lowest pid, greatest (bytewise) text, earliest first_seen,
 * latest last_seen. Rows come out in primary-key order.
 */
static int encode_nodes(const struct flow **v, size_t n, bool passive,
			struct pgcopy *c)
{
	int (*cmp)(const void *, const void *) =
		passive ? passive_node_cmp : active_node_cmp;
	qsort(v, n, sizeof(*v), cmp);
	pgcopy_reserve(c, n * 100);
	for (size_t i = 0, j; i < n; i = j) {
		const struct flow *f = v[i];
		const struct flow_key *k = &f->key;
		uint32_t pid = f->pid;
		int64_t first = f->first_seen_ms, last = f->last_seen_ms;
		const char *t[7], *u[7];
		char comm[sizeof(k->comm) + 1];

		flow_texts(f, t);
		for (j = i + 1; j < n && cmp(&v[i], &v[j]) == 0; j++) {
			const struct flow *g = v[j];
			if (g->pid && (!pid || g->pid < pid))
				pid = g->pid;
			flow_texts(g, u);
			for (size_t m = 0; m < 7; m++)
				if (u[m] && (!t[m] || strcmp(u[m], t[m]) > 0))
					t[m] = u[m];
			if (g->first_seen_ms < first)
				first = g->first_seen_ms;
			if (g->last_seen_ms > last)
				last = g->last_seen_ms;
		}
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		pgcopy_row(c, passive ? PASSIVE_FIELDS : ACTIVE_FIELDS);
		pgcopy_int4(c, (int32_t)c->rows); /* a row number */
		pgcopy_inet(c, k->family, k->laddr);
		if (passive) {
			pgcopy_int4(c, k->lport);
			pgcopy_text(c, k->proto == IPPROTO_UDP ? "udp" : "tcp");
		}
		pgcopy_int8(c, k->pgid);
		pgcopy_text(c, comm);
		if (pid)
			pgcopy_int8(c, pid);
		else
			pgcopy_null(c);
		for (size_t m = 0; m < 7; m++)
			pgcopy_text(c, t[m]);
		pgcopy_timestamptz_ms(c, first);
		pgcopy_timestamptz_ms(c, last);
	}
	return c->oom ? -ENOMEM : 0;
}

void cmdb_flush_data_init(struct cmdb_flush_data *d)
{
	pgcopy_init(&d->flows);
	pgcopy_init(&d->passive);
	pgcopy_init(&d->active);
	d->dups = false;
}

void cmdb_flush_data_clear(struct cmdb_flush_data *d)
{
	pgcopy_clear(&d->flows);
	pgcopy_clear(&d->passive);
	pgcopy_clear(&d->active);
}

int cmdb_flush_data_encode(struct cmdb_flush_data *d, const struct flow *flows,
			   size_t n)
{
	_cleanup_(freep) const struct flow **ord = NULL;
	struct pgcopy *c = &d->flows;
	size_t np = 0, na = 0;
	bool dups = false;
	int r;

	/* ord[0..n): flows in key order; then the nodes' flows, passive
	 * from n up, active from 2n down. */
	if (!(ord = malloc((n ? 2 * n : 1) * sizeof(*ord))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ord[i] = &flows[i];
	qsort(ord, n, sizeof(*ord), flow_pk_cmp);
	/* Room for the usual row (an IPv4 flow, a short comm) up front: a
	 * large stream grown by doubling spends its time copying itself. */
	pgcopy_reserve(c, n * 150);
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = ord[i];
		const struct flow_key *k = &f->key;
		char comm[sizeof(k->comm) + 1];
		bool passive = k->dir == SOCK_DIR_PASSIVE;

		/* Equal keys are neighbours: the server must merge them. */
		if (i && !dups && flow_pk_cmp(&ord[i - 1], &ord[i]) == 0)
			dups = true;
		/* comm is a fixed array, not always NUL-terminated. */
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		pgcopy_row(c, FLOW_FIELDS);
		pgcopy_int4(c, (int32_t)i); /* a row number for the split statement */
		pgcopy_text(c, passive ? "passive" : "active");
		pgcopy_text(c, k->proto == IPPROTO_UDP ? "udp" : "tcp");
		pgcopy_inet(c, k->family, k->laddr);
		pgcopy_int4(c, k->lport);
		pgcopy_inet(c, k->family, k->raddr);
		pgcopy_int4(c, k->rport);
		pgcopy_int8(c, (int64_t)k->netns);
		pgcopy_int8(c, k->pgid);
		pgcopy_text(c, comm);
		pgcopy_text(c, f->container_name);
		pgcopy_int8(c, f->connections);
		pgcopy_int8(c, f->new_connections);
		pgcopy_timestamptz_ms(c, f->first_seen_ms);
		pgcopy_timestamptz_ms(c, f->last_seen_ms);
		encode_opt_endpoint(c, k->family, has_service(k), k->svc_addr,
				    k->svc_port);
		encode_opt_endpoint(c, k->family, has_nat_peer(k), k->nat_addr,
				    k->nat_port);
	}
	if (c->oom)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (ord[i]->key.dir == SOCK_DIR_PASSIVE)
			ord[n + np++] = ord[i];
		else
			ord[2 * n - ++na] = ord[i];
	}
	if ((r = encode_nodes(ord + n, np, true, &d->passive)) < 0 ||
	    (r = encode_nodes(ord + 2 * n - na, na, false, &d->active)) < 0)
		return r;
	d->dups = dups;
	return 0;
}
