// SPDX-License-Identifier: MIT
#include "cmdb/store.h"

#include "cmdb/pg_internal.h"
#include "cmdb/pgcopy.h"
#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/util.h"

#include <endian.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * The flush stages the batch with binary COPYs into session temporary
 * tables (no text to parse on the server): the flows, and the passive and
 * active nodes they name, merged client-side (many flows per process), so
 * that the server neither sorts nor aggregates. One statement then
 * writes the three tables from them in data-modifying CTEs. Rows go in
 * primary-key order: consecutive index insertions then land on the same
 * leaf pages.
 */
#define FLUSH_FLOWS "shawk_flush_flows"
#define FLUSH_PASSIVE "shawk_flush_passive"
#define FLUSH_ACTIVE "shawk_flush_active"

#define NODE_COLUMNS                                                          \
	" pid bigint, cmdline text, cgroup text, container_id text,"          \
	" container_name text, pod_namespace text, pod_name text,"            \
	" pod_uid text, first_seen timestamptz, last_seen timestamptz"

/* 100k staged flows and their nodes take ~20 MB, more than the default
 * temp_buffers (8 MB): the rest goes through the kernel's page cache.
 * Still cheaper than 32 MB of local buffers, whose first use page-faults
 * (measured: COPY 114-135 ms vs 167-228 ms). */
static const char flush_table_sql[] =
	"CREATE TEMPORARY TABLE IF NOT EXISTS " FLUSH_FLOWS " ("
	" i integer, direction text, proto text, laddr inet, lport integer,"
	" raddr inet, rport integer, netns bigint, pgid bigint, comm text,"
	" container_name text, connections bigint, new_connections bigint,"
	" first_seen timestamptz, last_seen timestamptz)"
	" ON COMMIT DELETE ROWS;"
	"CREATE TEMPORARY TABLE IF NOT EXISTS " FLUSH_PASSIVE " ("
	" i integer, addr inet, port integer, proto text, pgid bigint, comm text,"
	NODE_COLUMNS ") ON COMMIT DELETE ROWS;"
	"CREATE TEMPORARY TABLE IF NOT EXISTS " FLUSH_ACTIVE " ("
	" i integer, addr inet, pgid bigint, comm text," NODE_COLUMNS ")"
	" ON COMMIT DELETE ROWS";

#define FLOW_FIELDS 15
#define PASSIVE_FIELDS 16
#define ACTIVE_FIELDS 14

static const char *const copy_sql[] = {
	"COPY " FLUSH_FLOWS " FROM STDIN (FORMAT binary)",
	"COPY " FLUSH_PASSIVE " FROM STDIN (FORMAT binary)",
	"COPY " FLUSH_ACTIVE " FROM STDIN (FORMAT binary)",
};

#define FLOWS_INSERT                                                          \
	"WITH f AS ("                                                         \
	" INSERT INTO flows AS o (laddr, node_name, direction, proto, lport," \
	"  raddr, rport, netns, pgid, comm, container_name, connections,"     \
	"  connections_total, first_seen, last_seen)"

#define FLOWS_CONFLICT                                                        \
	" ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name," \
	"  netns, pgid, comm) DO UPDATE SET"                                  \
	"  connections = EXCLUDED.connections,"                               \
	"  connections_total = o.connections_total + EXCLUDED.connections_total," \
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"            \
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen),"            \
	"  container_name = coalesce(EXCLUDED.container_name, o.container_name)"

/* Node keys are unique in their staging tables (merged client-side):
 * ON CONFLICT may not touch a row twice in one statement. */
#define NODES_UPSERT                                                          \
	"), pn AS ("                                                          \
	" INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,"     \
	"  node_name, pid, cmdline, cgroup, container_id, container_name,"    \
	"  pod_namespace, pod_name, pod_uid, first_seen, last_seen)"          \
	" SELECT addr, port, proto, pgid, comm, $1, pid, cmdline, cgroup,"    \
	"  container_id, container_name, pod_namespace, pod_name, pod_uid,"   \
	"  first_seen, last_seen FROM " FLUSH_PASSIVE                         \
	" ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET"          \
	NODE_UPDATE                                                           \
	"), an AS ("                                                          \
	" INSERT INTO active_nodes AS o (addr, pgid, comm, node_name, pid,"   \
	"  cmdline, cgroup, container_id, container_name, pod_namespace,"     \
	"  pod_name, pod_uid, first_seen, last_seen)"                         \
	" SELECT addr, pgid, comm, $1, pid, cmdline, cgroup, container_id,"   \
	"  container_name, pod_namespace, pod_name, pod_uid, first_seen,"     \
	"  last_seen FROM " FLUSH_ACTIVE                                      \
	" ON CONFLICT (addr, pgid, comm) DO UPDATE SET"                       \
	NODE_UPDATE                                                           \
	") SELECT 1"

#define NODE_UPDATE                                                           \
	"  node_name = EXCLUDED.node_name,"                                   \
	"  pid = coalesce(EXCLUDED.pid, o.pid),"                              \
	"  cmdline = coalesce(EXCLUDED.cmdline, o.cmdline),"                  \
	"  cgroup = coalesce(EXCLUDED.cgroup, o.cgroup),"                     \
	"  container_id = coalesce(EXCLUDED.container_id, o.container_id),"   \
	"  container_name = coalesce(EXCLUDED.container_name, o.container_name)," \
	"  pod_namespace = coalesce(EXCLUDED.pod_namespace, o.pod_namespace),"   \
	"  pod_name = coalesce(EXCLUDED.pod_name, o.pod_name),"               \
	"  pod_uid = coalesce(EXCLUDED.pod_uid, o.pod_uid),"                  \
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"            \
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)"

#define NODE_SET_FROM_S                                                       \
	"  node_name = $1, pid = coalesce(s.pid, o.pid),"                     \
	"  cmdline = coalesce(s.cmdline, o.cmdline),"                         \
	"  cgroup = coalesce(s.cgroup, o.cgroup),"                            \
	"  container_id = coalesce(s.container_id, o.container_id),"          \
	"  container_name = coalesce(s.container_name, o.container_name),"    \
	"  pod_namespace = coalesce(s.pod_namespace, o.pod_namespace),"       \
	"  pod_name = coalesce(s.pod_name, o.pod_name),"                      \
	"  pod_uid = coalesce(s.pod_uid, o.pod_uid),"                         \
	"  first_seen = least(o.first_seen, s.first_seen),"                   \
	"  last_seen = greatest(o.last_seen, s.last_seen)"

/* The nodes the same way as the flows below: update those that exist,
 * insert the others plainly. */
#define NODES_SPLIT                                                           \
	"), pu AS ("                                                          \
	" UPDATE passive_nodes AS o SET" NODE_SET_FROM_S                      \
	" FROM " FLUSH_PASSIVE " s"                                           \
	" WHERE o.addr = s.addr AND o.port = s.port AND o.proto = s.proto"    \
	"  AND o.pgid = s.pgid AND o.comm = s.comm RETURNING s.i"             \
	"), pn AS ("                                                          \
	" INSERT INTO passive_nodes (addr, port, proto, pgid, comm,"          \
	"  node_name, pid, cmdline, cgroup, container_id, container_name,"    \
	"  pod_namespace, pod_name, pod_uid, first_seen, last_seen)"          \
	" SELECT addr, port, proto, pgid, comm, $1, pid, cmdline, cgroup,"    \
	"  container_id, container_name, pod_namespace, pod_name, pod_uid,"   \
	"  first_seen, last_seen FROM " FLUSH_PASSIVE " s"                    \
	" WHERE NOT EXISTS (SELECT 1 FROM pu WHERE pu.i = s.i)"               \
	"), au AS ("                                                          \
	" UPDATE active_nodes AS o SET" NODE_SET_FROM_S                       \
	" FROM " FLUSH_ACTIVE " s"                                            \
	" WHERE o.addr = s.addr AND o.pgid = s.pgid AND o.comm = s.comm"      \
	" RETURNING s.i"                                                      \
	"), an AS ("                                                          \
	" INSERT INTO active_nodes (addr, pgid, comm, node_name, pid,"        \
	"  cmdline, cgroup, container_id, container_name, pod_namespace,"     \
	"  pod_name, pod_uid, first_seen, last_seen)"                         \
	" SELECT addr, pgid, comm, $1, pid, cmdline, cgroup, container_id,"   \
	"  container_name, pod_namespace, pod_name, pod_uid, first_seen,"     \
	"  last_seen FROM " FLUSH_ACTIVE " s"                                 \
	" WHERE NOT EXISTS (SELECT 1 FROM au WHERE au.i = s.i)"               \
	") SELECT 1"

/*
 * Every flow key of the batch is distinct (the usual case: the probe's
 * flow table is keyed by it): the flows and nodes that exist are updated
 * through a join, and only the others are inserted, by a plain INSERT.
 * That is half the work of INSERT ... ON CONFLICT, whose speculative
 * insertion checks, inserts and confirms every row (measured in psql on
 * 100k flows: 640 ms vs 780-1190 ms for new flows, 470 vs 480-770 ms for
 * existing ones). Flow keys start with this agent's node_name: only two
 * agents given the same node name can race on one. Nodes are shared
 * between agents (the same address, pgid and comm on several hosts, e.g.
 * behind a docker bridge): two agents may insert the same new node at the
 * same moment. Either race makes the plain INSERT fail with a unique
 * violation; cmdb_store_flush() then rolls back to a savepoint and writes
 * the batch with flush_grouped_sql (ON CONFLICT), one statement more.
 */
static const char flush_unique_sql[] =
	"WITH u AS ("
	" UPDATE flows AS o SET connections = s.connections::int,"
	"  connections_total = o.connections_total + s.new_connections,"
	"  first_seen = least(o.first_seen, s.first_seen),"
	"  last_seen = greatest(o.last_seen, s.last_seen),"
	"  container_name = coalesce(s.container_name, o.container_name)"
	" FROM " FLUSH_FLOWS " s"
	" WHERE o.laddr = s.laddr AND o.lport = s.lport"
	"  AND o.direction = s.direction AND o.proto = s.proto"
	"  AND o.raddr = s.raddr AND o.rport = s.rport AND o.node_name = $1"
	"  AND o.netns = s.netns AND o.pgid = s.pgid AND o.comm = s.comm"
	" RETURNING s.i"
	"), f AS ("
	" INSERT INTO flows (laddr, node_name, direction, proto, lport,"
	"  raddr, rport, netns, pgid, comm, container_name, connections,"
	"  connections_total, first_seen, last_seen)"
	" SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,"
	"  comm, container_name, connections::int, new_connections,"
	"  first_seen, last_seen FROM " FLUSH_FLOWS " s"
	" WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.i = s.i)"
	NODES_SPLIT;

/* Some keys repeat (e.g. sanitising turned two comms into the same text),
 * or the split statement above met a flow inserted meanwhile: merge them
 * first, and let ON CONFLICT sort out the rows that exist. */
static const char flush_grouped_sql[] =
	FLOWS_INSERT
	" SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,"
	"  comm, max(container_name), sum(connections)::int,"
	"  sum(new_connections), min(first_seen), max(last_seen)"
	" FROM " FLUSH_FLOWS " GROUP BY laddr, direction, proto, lport, raddr,"
	"  rport, netns, pgid, comm"
	FLOWS_CONFLICT NODES_UPSERT;

/* The batch claim succeeds only for a seq newer than the last committed
 * one of this probe process; no row back means "already applied". */
static const char claim_sql[] =
	"INSERT INTO flush_batches AS o (node_name, boot_id, seq)"
	" VALUES ($1, $2, $3)"
	" ON CONFLICT (node_name, boot_id) DO UPDATE SET seq = EXCLUDED.seq,"
	"  flushed_at = now() WHERE o.seq < EXCLUDED.seq"
	" RETURNING seq";

int cmdb_store_build_arrays(const struct flow *flows, size_t n,
			    struct sql_array *c)
{
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		const struct flow_key *k = &f->key;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN];
		char comm[sizeof(k->comm) + 1];

		addr_format(k->family, k->laddr, la);
		addr_format(k->family, k->raddr, ra);
		/* comm is a fixed array, not always NUL-terminated. */
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		sql_array_add_str(&c[0], k->dir == SOCK_DIR_PASSIVE ? "passive"
								      : "active");
		sql_array_add_str(&c[1], k->proto == IPPROTO_UDP ? "udp" : "tcp");
		sql_array_add_str(&c[2], la);
		sql_array_add_int(&c[3], k->lport);
		sql_array_add_str(&c[4], ra);
		sql_array_add_int(&c[5], k->rport);
		sql_array_add_int(&c[6], (int64_t)k->netns);
		sql_array_add_int(&c[7], k->pgid);
		sql_array_add_str(&c[8], comm);
		if (f->pid)
			sql_array_add_int(&c[9], f->pid);
		else
			sql_array_add_str(&c[9], NULL);
		sql_array_add_str(&c[10], f->cmdline);
		sql_array_add_str(&c[11], f->cgroup);
		sql_array_add_str(&c[12], f->container_id);
		sql_array_add_str(&c[13], f->container_name);
		sql_array_add_str(&c[14], f->pod_namespace);
		sql_array_add_str(&c[15], f->pod_name);
		sql_array_add_str(&c[16], f->pod_uid);
		sql_array_add_int(&c[17], f->connections);
		sql_array_add_int(&c[18], f->new_connections);
		sql_array_add_int(&c[19], f->first_seen_ms);
		sql_array_add_int(&c[20], f->last_seen_ms);
	}
	for (size_t i = 0; i < CMDB_FLUSH_COLUMNS; i++)
		if (!sql_array_finish(&c[i]))
			return -ENOMEM;
	return 0;
}

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

/* Primary-key order of flows (laddr, lport, direction, proto, raddr,
 * rport, node_name, netns, pgid, comm): 'active' < 'passive', 'tcp' <
 * 'udp'. Locality depends on it; correctness on it being 0 exactly for
 * equal keys. */
static int flow_pk_cmp(const void *a, const void *b)
{
	const struct flow_key *x = &(*(const struct flow *const *)a)->key;
	const struct flow_key *y = &(*(const struct flow *const *)b)->key;
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
	return comm_cmp(x->comm, y->comm);
}

/* passive_nodes' key: (addr, port, proto, pgid, comm). */
static int passive_node_cmp(const void *a, const void *b)
{
	const struct flow_key *x = &(*(const struct flow *const *)a)->key;
	const struct flow_key *y = &(*(const struct flow *const *)b)->key;
	int r;
	if ((r = laddr_cmp(x, y)))
		return r;
	CMP(x->lport, y->lport);
	CMP(x->proto == IPPROTO_UDP, y->proto == IPPROTO_UDP);
	CMP(x->pgid, y->pgid);
	return comm_cmp(x->comm, y->comm);
}

/* active_nodes' key: (addr, pgid, comm). */
static int active_node_cmp(const void *a, const void *b)
{
	const struct flow_key *x = &(*(const struct flow *const *)a)->key;
	const struct flow_key *y = &(*(const struct flow *const *)b)->key;
	int r;
	if ((r = laddr_cmp(x, y)))
		return r;
	CMP(x->pgid, y->pgid);
	return comm_cmp(x->comm, y->comm);
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

int cmdb_store_encode_copy(const struct flow *flows, size_t n,
			   struct cmdb_flush_data *d)
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

static bool is_unique_violation(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return state && !strcmp(state, "23505");
}

static void rollback(struct cmdb *db)
{
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

/*
 * Bytes per CopyData message. The server reads each message whole into a
 * buffer of its size: 1 MiB messages were mmap'd and page-faulted afresh
 * by every COPY (~240 faults of ~25 us each on this VM for 10k flows);
 * 64 KiB stays below glibc's mmap threshold and is reused.
 */
#define COPY_CHUNK (64u << 10)

/* Streams one encoded COPY into its staging table: one round trip. */
static int copy_in(struct cmdb *db, const char *sql, const char *data,
		   size_t len)
{
	PGresult *res = PQexec(db->conn, sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		int r = cmdb_fail(db, res);
		PQclear(res);
		return r;
	}
	PQclear(res);
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;
		if (PQputCopyData(db->conn, data + off, (int)chunk) != 1) {
			PQputCopyEnd(db->conn, "shawk: copy failed");
			break;
		}
		off += chunk;
	}
	PQputCopyEnd(db->conn, NULL);
	int r = 0;
	while ((res = PQgetResult(db->conn))) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = cmdb_fail(db, res);
		PQclear(res);
	}
	return r;
}

int cmdb_store_flush(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt)
{
	_cleanup_(cmdb_flush_data_clear) struct cmdb_flush_data d;
	const char *data[3];
	size_t len[3];
	char boot[24], seq[24];
	int r;

	*ret_in_doubt = false;
	cmdb_flush_data_init(&d);
	if (n == 0)
		return 0;
	if ((r = cmdb_store_encode_copy(flows, n, &d)) < 0)
		return r;
	if (!(data[0] = pgcopy_finish(&d.flows, &len[0])) ||
	    !(data[1] = pgcopy_finish(&d.passive, &len[1])) ||
	    !(data[2] = pgcopy_finish(&d.active, &len[2])))
		return -ENOMEM;

	/* bigint is signed: the random boot id is stored as its bit pattern. */
	snprintf(boot, sizeof(boot), "%" PRId64, (int64_t)b->boot_id);
	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);

	/* Once per connection, outside the batch's transaction so that a
	 * rolled-back batch does not take the table with it. */
	if (!db->flush_table) {
		if ((r = cmdb_exec(db, flush_table_sql)) < 0)
			return r;
		db->flush_table = true;
	}
	/* One round trip. The flows GROUP BY (duplicate keys) of a large
	 * batch would spill to disk at the default 4MB work_mem.
	 * Asynchronous commit: this is telemetry, and a server crash loses at most the last flush (never
	 * a torn one); the agent rewrites its current flows next interval. */
	if ((r = cmdb_exec(db, "BEGIN; SET LOCAL work_mem = '256MB';"
			       " SET LOCAL synchronous_commit = off")) < 0)
		return r;
	const char *claim[] = { b->node_name, boot, seq };
	PGresult *res = PQexecParams(db->conn, claim_sql, 3, NULL, claim, NULL,
				     NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = cmdb_fail(db, res);
		PQclear(res);
		goto fail;
	}
	bool fresh = PQntuples(res) == 1;
	PQclear(res);
	if (!fresh) {
		rollback(db);
		return -EALREADY;
	}

	for (size_t i = 0; i < 3; i++)
		if ((r = copy_in(db, copy_sql[i], data[i], len[i])) < 0)
			goto fail;
	/* Normally one statement. The split update/insert fails with a
	 * unique violation if another writer inserted one of these flows
	 * (two agents with the same node name) or nodes (shared between
	 * agents) meanwhile, or if two flows have the same key after all:
	 * the batch then goes again, from the savepoint, through ON CONFLICT
	 * and a GROUP BY, which takes all of these. */
	const char *params[] = { b->node_name };
	if (!d.dups && (r = cmdb_exec(db, "SAVEPOINT shawk_flows")) < 0)
		goto fail;
	res = PQexecParams(db->conn, d.dups ? flush_grouped_sql : flush_unique_sql,
			   1, NULL, params, NULL, NULL, 0);
	if (!d.dups && res && PQresultStatus(res) == PGRES_FATAL_ERROR &&
	    is_unique_violation(res)) {
		PQclear(res);
		if ((r = cmdb_exec(db, "ROLLBACK TO SAVEPOINT shawk_flows")) < 0)
			goto fail;
		res = PQexecParams(db->conn, flush_grouped_sql, 1, NULL, params,
				   NULL, NULL, 0);
	}
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		r = cmdb_fail(db, res);
		PQclear(res);
		goto fail;
	}
	PQclear(res);

	res = PQexec(db->conn, "COMMIT");
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = cmdb_fail(db, res);
		PQclear(res);
		/* An error reply means it rolled back; silence means we
		 * cannot know. */
		*ret_in_doubt = r == -ENOTCONN;
		return r;
	}
	PQclear(res);
	return (int)n;
fail:
	if (cmdb_is_connected(db))
		rollback(db);
	return r;
}

/*
 * The reference the benchmark compares against: what upstream shawk does,
 * one upsert statement per node and per flow (in one transaction, which
 * flatters it). Not used by the probe.
 */
int cmdb_store_flush_rowwise(struct cmdb *db, const char *node_name,
			     const struct flow *flows, size_t n)
{
	static const char flow_sql[] =
		"INSERT INTO flows AS o (laddr, node_name, direction, proto,"
		" lport, raddr, rport, netns, pgid, comm, connections,"
		" connections_total, first_seen, last_seen)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		" to_timestamp($13::float8 / 1000), to_timestamp($14::float8 / 1000))"
		" ON CONFLICT (laddr, lport, direction, proto, raddr, rport,"
		"  node_name, netns, pgid, comm) DO UPDATE SET"
		"  connections = EXCLUDED.connections,"
		"  connections_total = o.connections_total + EXCLUDED.connections_total,"
		"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)";
	static const char passive_sql[] =
		"INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,"
		" node_name, pid, first_seen, last_seen)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::float8 / 1000),"
		" to_timestamp($9::float8 / 1000))"
		" ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET"
		"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)";
	static const char active_sql[] =
		"INSERT INTO active_nodes AS o (addr, pgid, comm, node_name, pid,"
		" first_seen, last_seen)"
		" VALUES ($1, $2, $3, $4, $5, to_timestamp($6::float8 / 1000),"
		" to_timestamp($7::float8 / 1000))"
		" ON CONFLICT (addr, pgid, comm) DO UPDATE SET"
		"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)";
	int r;

	if ((r = cmdb_exec(db, "BEGIN")) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		const struct flow_key *k = &f->key;
		char la[ADDR_STRLEN], ra[ADDR_STRLEN], comm[17];
		char lport[8], rport[8], netns[24], pgid[16], pid[16];
		char conns[16], news[16], first[24], last[24];
		addr_format(k->family, k->laddr, la);
		addr_format(k->family, k->raddr, ra);
		memcpy(comm, k->comm, 16);
		comm[16] = '\0';
		snprintf(lport, sizeof(lport), "%u", k->lport);
		snprintf(rport, sizeof(rport), "%u", k->rport);
		snprintf(netns, sizeof(netns), "%" PRIu64, k->netns);
		snprintf(pgid, sizeof(pgid), "%u", k->pgid);
		snprintf(pid, sizeof(pid), "%u", f->pid);
		snprintf(conns, sizeof(conns), "%u", f->connections);
		snprintf(news, sizeof(news), "%u", f->new_connections);
		snprintf(first, sizeof(first), "%" PRId64, f->first_seen_ms);
		snprintf(last, sizeof(last), "%" PRId64, f->last_seen_ms);
		const char *proto = k->proto == IPPROTO_UDP ? "udp" : "tcp";
		bool passive = k->dir == SOCK_DIR_PASSIVE;
		const char *fp[] = { la,    node_name, passive ? "passive" : "active",
				     proto, lport,     ra,
				     rport, netns,     pgid,
				     comm,  conns,     news,
				     first, last };
		const char *pp[] = { la, lport, proto, pgid, comm,
				     node_name, pid, first, last };
		const char *ap[] = { la, pgid, comm, node_name, pid, first, last };
		PGresult *res = PQexecParams(db->conn, flow_sql, 14, NULL, fp,
					     NULL, NULL, 0);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
			goto fail_res;
		PQclear(res);
		res = passive ? PQexecParams(db->conn, passive_sql, 9, NULL, pp,
					     NULL, NULL, 0)
			      : PQexecParams(db->conn, active_sql, 7, NULL, ap,
					     NULL, NULL, 0);
		if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
			goto fail_res;
		PQclear(res);
		continue;
fail_res:
		r = cmdb_fail(db, res);
		PQclear(res);
		rollback(db);
		return r;
	}
	if ((r = cmdb_exec(db, "COMMIT")) < 0)
		return r;
	return (int)n;
}

int cmdb_exec_sql(struct cmdb *db, const char *sql)
{
	return cmdb_exec(db, sql);
}
