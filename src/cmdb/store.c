// SPDX-License-Identifier: MIT
#include "cmdb/store.h"

#include "cmdb/pg_internal.h"
#include "cmdb/sqlarray.h"
#include "core/addr.h"
#include "core/util.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/*
 * One statement: unnest the column arrays into rows, then three
 * data-modifying CTEs upsert flows, passive nodes and active nodes. The
 * GROUP BYs make each target key unique within the statement (ON CONFLICT
 * may not touch a row twice), e.g. when sanitising turned two comms into
 * the same text.
 */
static const char flush_sql[] =
	"WITH input AS ("
	" SELECT * FROM unnest($2::text[], $3::text[], $4::inet[], $5::int[],"
	"  $6::inet[], $7::int[], $8::bigint[], $9::bigint[], $10::text[],"
	"  $11::bigint[], $12::text[], $13::text[], $14::text[], $15::text[],"
	"  $16::text[], $17::text[], $18::text[], $19::int[], $20::bigint[],"
	"  $21::bigint[], $22::bigint[])"
	" AS t(direction, proto, laddr, lport, raddr, rport, netns, pgid, comm,"
	"  pid, cmdline, cgroup, container_id, container_name, pod_namespace,"
	"  pod_name, pod_uid, connections, new_connections, first_ms, last_ms)"
	"), f AS ("
	" INSERT INTO flows AS o (laddr, node_name, direction, proto, lport,"
	"  raddr, rport, netns, pgid, comm, container_name, connections,"
	"  connections_total, first_seen, last_seen)"
	" SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,"
	"  comm, max(container_name), sum(connections)::int,"
	"  sum(new_connections), to_timestamp(min(first_ms) / 1000.0),"
	"  to_timestamp(max(last_ms) / 1000.0)"
	" FROM input GROUP BY laddr, direction, proto, lport, raddr, rport,"
	"  netns, pgid, comm"
	" ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,"
	"  netns, pgid, comm) DO UPDATE SET"
	"  connections = EXCLUDED.connections,"
	"  connections_total = o.connections_total + EXCLUDED.connections_total,"
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen),"
	"  container_name = coalesce(EXCLUDED.container_name, o.container_name)"
	" RETURNING 1"
	"), pn AS ("
	" INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,"
	"  node_name, pid, cmdline, cgroup, container_id, container_name,"
	"  pod_namespace, pod_name, pod_uid, first_seen, last_seen)"
	" SELECT laddr, lport, proto, pgid, comm, $1, min(pid), max(cmdline),"
	"  max(cgroup), max(container_id), max(container_name),"
	"  max(pod_namespace), max(pod_name), max(pod_uid),"
	"  to_timestamp(min(first_ms) / 1000.0),"
	"  to_timestamp(max(last_ms) / 1000.0)"
	" FROM input WHERE direction = 'passive'"
	" GROUP BY laddr, lport, proto, pgid, comm"
	" ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET"
	"  node_name = EXCLUDED.node_name,"
	"  pid = coalesce(EXCLUDED.pid, o.pid),"
	"  cmdline = coalesce(EXCLUDED.cmdline, o.cmdline),"
	"  cgroup = coalesce(EXCLUDED.cgroup, o.cgroup),"
	"  container_id = coalesce(EXCLUDED.container_id, o.container_id),"
	"  container_name = coalesce(EXCLUDED.container_name, o.container_name),"
	"  pod_namespace = coalesce(EXCLUDED.pod_namespace, o.pod_namespace),"
	"  pod_name = coalesce(EXCLUDED.pod_name, o.pod_name),"
	"  pod_uid = coalesce(EXCLUDED.pod_uid, o.pod_uid),"
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)"
	" RETURNING 1"
	"), an AS ("
	" INSERT INTO active_nodes AS o (addr, pgid, comm, node_name, pid,"
	"  cmdline, cgroup, container_id, container_name, pod_namespace,"
	"  pod_name, pod_uid, first_seen, last_seen)"
	" SELECT laddr, pgid, comm, $1, min(pid), max(cmdline), max(cgroup),"
	"  max(container_id), max(container_name), max(pod_namespace),"
	"  max(pod_name), max(pod_uid), to_timestamp(min(first_ms) / 1000.0),"
	"  to_timestamp(max(last_ms) / 1000.0)"
	" FROM input WHERE direction = 'active'"
	" GROUP BY laddr, pgid, comm"
	" ON CONFLICT (addr, pgid, comm) DO UPDATE SET"
	"  node_name = EXCLUDED.node_name,"
	"  pid = coalesce(EXCLUDED.pid, o.pid),"
	"  cmdline = coalesce(EXCLUDED.cmdline, o.cmdline),"
	"  cgroup = coalesce(EXCLUDED.cgroup, o.cgroup),"
	"  container_id = coalesce(EXCLUDED.container_id, o.container_id),"
	"  container_name = coalesce(EXCLUDED.container_name, o.container_name),"
	"  pod_namespace = coalesce(EXCLUDED.pod_namespace, o.pod_namespace),"
	"  pod_name = coalesce(EXCLUDED.pod_name, o.pod_name),"
	"  pod_uid = coalesce(EXCLUDED.pod_uid, o.pod_uid),"
	"  first_seen = least(o.first_seen, EXCLUDED.first_seen),"
	"  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)"
	" RETURNING 1"
	") SELECT (SELECT count(*) FROM f), (SELECT count(*) FROM pn),"
	" (SELECT count(*) FROM an)";

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

static void arrays_clear(struct sql_array (*c)[CMDB_FLUSH_COLUMNS])
{
	for (size_t i = 0; i < CMDB_FLUSH_COLUMNS; i++)
		sql_array_clear(&(*c)[i]);
}

static void rollback(struct cmdb *db)
{
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		PQclear(PQexec(db->conn, "ROLLBACK"));
}

int cmdb_store_flush(struct cmdb *db, const struct cmdb_batch *b,
		     const struct flow *flows, size_t n, bool *ret_in_doubt)
{
	_cleanup_(arrays_clear) struct sql_array cols[CMDB_FLUSH_COLUMNS];
	const char *params[CMDB_FLUSH_COLUMNS + 1];
	char boot[24], seq[24];
	int r;

	*ret_in_doubt = false;
	for (size_t i = 0; i < CMDB_FLUSH_COLUMNS; i++)
		sql_array_init(&cols[i]);
	if (n == 0)
		return 0;
	if ((r = cmdb_store_build_arrays(flows, n, cols)) < 0)
		return r;

	/* bigint is signed: the random boot id is stored as its bit pattern. */
	snprintf(boot, sizeof(boot), "%" PRId64, (int64_t)b->boot_id);
	snprintf(seq, sizeof(seq), "%" PRIu64, b->seq);

	/* One round trip. The GROUP BYs of a large batch would spill to
	 * disk at the default 4MB work_mem. */
	if ((r = cmdb_exec(db, "BEGIN; SET LOCAL work_mem = '256MB'")) < 0)
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

	params[0] = b->node_name;
	for (size_t i = 0; i < CMDB_FLUSH_COLUMNS; i++)
		params[i + 1] = cols[i].buf;
	res = PQexecParams(db->conn, flush_sql, CMDB_FLUSH_COLUMNS + 1, NULL,
			   params, NULL, NULL, 0);
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
