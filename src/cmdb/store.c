// SPDX-License-Identifier: MIT
#include "cmdb/store.h"

#include "cmdb/pg_internal.h"
#include "cmdb/pgcopy.h"
#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/u64map.h"
#include "core/util.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/*
 * The flush stages the batch with a binary COPY into a session temporary
 * table (no text to parse on the server), then one statement upserts
 * flows, passive nodes and active nodes from it in data-modifying CTEs.
 * Key columns come first (their encoded bytes are hashed to find
 * duplicate keys client-side).
 */
#define FLUSH_TABLE "shawk_flush_in"
#define FLUSH_KEY_FIELDS 9

static const char flush_table_sql[] =
	"CREATE TEMPORARY TABLE IF NOT EXISTS " FLUSH_TABLE " ("
	" direction text, proto text, laddr inet, lport integer, raddr inet,"
	" rport integer, netns bigint, pgid bigint, comm text, pid bigint,"
	" cmdline text, cgroup text, container_id text, container_name text,"
	" pod_namespace text, pod_name text, pod_uid text,"
	" connections bigint, new_connections bigint,"
	" first_seen timestamptz, last_seen timestamptz)"
	" ON COMMIT DELETE ROWS";

static const char copy_sql[] =
	"COPY " FLUSH_TABLE " FROM STDIN (FORMAT binary)";

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

/* Node rows repeat (many flows per process), and ON CONFLICT may not touch
 * a row twice in one statement: the GROUP BYs merge them. */
#define NODES_UPSERT                                                          \
	"), pn AS ("                                                          \
	" INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,"     \
	"  node_name, pid, cmdline, cgroup, container_id, container_name,"    \
	"  pod_namespace, pod_name, pod_uid, first_seen, last_seen)"          \
	" SELECT laddr, lport, proto, pgid, comm, $1, min(pid), max(cmdline),"   \
	"  max(cgroup), max(container_id), max(container_name),"              \
	"  max(pod_namespace), max(pod_name), max(pod_uid),"                  \
	"  min(first_seen), max(last_seen)"                                   \
	" FROM " FLUSH_TABLE " WHERE direction = 'passive'"                   \
	" GROUP BY laddr, lport, proto, pgid, comm"                           \
	" ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET"          \
	NODE_UPDATE                                                           \
	"), an AS ("                                                          \
	" INSERT INTO active_nodes AS o (addr, pgid, comm, node_name, pid,"   \
	"  cmdline, cgroup, container_id, container_name, pod_namespace,"     \
	"  pod_name, pod_uid, first_seen, last_seen)"                         \
	" SELECT laddr, pgid, comm, $1, min(pid), max(cmdline), max(cgroup),"    \
	"  max(container_id), max(container_name), max(pod_namespace),"       \
	"  max(pod_name), max(pod_uid), min(first_seen), max(last_seen)"      \
	" FROM " FLUSH_TABLE " WHERE direction = 'active'"                    \
	" GROUP BY laddr, pgid, comm"                                         \
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

/* Every flow key of the batch is distinct (the usual case: the probe's
 * flow table is keyed by it): no aggregation. */
static const char flush_unique_sql[] =
	FLOWS_INSERT
	" SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,"
	"  comm, container_name, connections::int, new_connections,"
	"  first_seen, last_seen FROM " FLUSH_TABLE
	FLOWS_CONFLICT NODES_UPSERT;

/* Some keys repeat (e.g. sanitising turned two comms into the same text,
 * or a hash collision made us think so): merge them first. */
static const char flush_grouped_sql[] =
	FLOWS_INSERT
	" SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,"
	"  comm, max(container_name), sum(connections)::int,"
	"  sum(new_connections), min(first_seen), max(last_seen)"
	" FROM " FLUSH_TABLE " GROUP BY laddr, direction, proto, lport, raddr,"
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

int cmdb_store_encode_copy(const struct flow *flows, size_t n,
			   struct pgcopy *c, bool *ret_dups)
{
	_cleanup_(u64map_free) struct u64map keys = { 0 };
	bool dups = false;
	int r;

	if ((r = u64map_init(&keys, n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct flow *f = &flows[i];
		const struct flow_key *k = &f->key;
		char comm[sizeof(k->comm) + 1];

		/* comm is a fixed array, not always NUL-terminated. */
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		pgcopy_row(c, CMDB_FLUSH_COLUMNS);
		size_t key_at = c->len;
		pgcopy_text(c, k->dir == SOCK_DIR_PASSIVE ? "passive" : "active");
		pgcopy_text(c, k->proto == IPPROTO_UDP ? "udp" : "tcp");
		pgcopy_inet(c, k->family, k->laddr);
		pgcopy_int4(c, k->lport);
		pgcopy_inet(c, k->family, k->raddr);
		pgcopy_int4(c, k->rport);
		pgcopy_int8(c, (int64_t)k->netns);
		pgcopy_int8(c, k->pgid);
		pgcopy_text(c, comm);
		if (c->oom)
			return -ENOMEM;
		/* The key as the server will compare it: equal encoded bytes
		 * are equal keys (text and inet equality is bytewise). A
		 * hash collision only costs the GROUP BY. */
		if (!dups) {
			uint64_t h = hash_bytes(c->buf + key_at, c->len - key_at,
						0x5348574b) |
				     1;
			r = u64map_put(&keys, h, 1);
			if (r < 0)
				return r;
			dups = r == 0;
		}
		if (f->pid)
			pgcopy_int8(c, f->pid);
		else
			pgcopy_null(c);
		pgcopy_text(c, f->cmdline);
		pgcopy_text(c, f->cgroup);
		pgcopy_text(c, f->container_id);
		pgcopy_text(c, f->container_name);
		pgcopy_text(c, f->pod_namespace);
		pgcopy_text(c, f->pod_name);
		pgcopy_text(c, f->pod_uid);
		pgcopy_int8(c, f->connections);
		pgcopy_int8(c, f->new_connections);
		pgcopy_timestamptz_ms(c, f->first_seen_ms);
		pgcopy_timestamptz_ms(c, f->last_seen_ms);
	}
	if (c->oom)
		return -ENOMEM;
	*ret_dups = dups;
	return 0;
}

static void rollback(struct cmdb *db)
{
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

/* Streams the encoded batch into the staging table: one round trip. */
static int copy_in(struct cmdb *db, const char *data, size_t len)
{
	PGresult *res = PQexec(db->conn, copy_sql);
	if (!res || PQresultStatus(res) != PGRES_COPY_IN) {
		int r = cmdb_fail(db, res);
		PQclear(res);
		return r;
	}
	PQclear(res);
	/* PQputCopyData takes an int length: feed large batches in chunks. */
	for (size_t off = 0; off < len;) {
		size_t chunk = len - off < (1u << 20) ? len - off : (1u << 20);
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
	_cleanup_(pgcopy_clear) struct pgcopy rows;
	const char *data;
	size_t len;
	bool dups;
	char boot[24], seq[24];
	int r;

	*ret_in_doubt = false;
	pgcopy_init(&rows);
	if (n == 0)
		return 0;
	if ((r = cmdb_store_encode_copy(flows, n, &rows, &dups)) < 0)
		return r;
	if (!(data = pgcopy_finish(&rows, &len)))
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
	/* One round trip. The node GROUP BYs of a large batch would spill to
	 * disk at the default 4MB work_mem. Asynchronous commit: this is
	 * telemetry, and a server crash loses at most the last flush (never
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

	if ((r = copy_in(db, data, len)) < 0)
		goto fail;
	const char *params[] = { b->node_name };
	res = PQexecParams(db->conn, dups ? flush_grouped_sql : flush_unique_sql,
			   1, NULL, params, NULL, NULL, 0);
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
