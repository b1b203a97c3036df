// SPDX-License-Identifier: MIT
/*
 * CMDB benchmarks, linked with the project objects (make bench-cmdb):
 *
 *   cmdb_bench flush URL N...   batched flush of N distinct flows (insert,
 *                               then re-flush = update) next to the
 *                               row-by-row reference, in flows/s
 *   cmdb_bench look URL NODES FLOWS DEPTH QUERIES
 *                               fills a CMDB with FLOWS flows among NODES
 *                               nodes, then times cmdb_look at DEPTH
 *
 * Prints results; judging them is the caller's job (bench/cmdb.sh).
 */
#include "cmdb/pg.h"
#include "cmdb/query.h"
#include "cmdb/store.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/graph.h"
#include "core/util.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void node_addr(uint32_t i, uint8_t a[16])
{
	memset(a, 0, 16);
	a[0] = 10;
	a[1] = (uint8_t)(i >> 16);
	a[2] = (uint8_t)(i >> 8);
	a[3] = (uint8_t)i;
}

/* Flow i: client node c -> server node s:80, seen from side `passive`. */
static void make_flow(struct flow *f, uint32_t c, uint32_t s, bool passive,
		      int64_t now)
{
	memset(f, 0, sizeof(*f));
	f->key.dir = passive ? SOCK_DIR_PASSIVE : SOCK_DIR_ACTIVE;
	f->key.proto = IPPROTO_TCP;
	f->key.family = AF_INET;
	node_addr(passive ? s : c, f->key.laddr);
	node_addr(passive ? c : s, f->key.raddr);
	f->key.lport = passive ? 80 : 0;
	f->key.rport = passive ? 0 : 80;
	f->key.netns = 4026531840u;
	f->key.pgid = 1000 + (passive ? s : c);
	snprintf(f->key.comm, sizeof(f->key.comm), "svc%u", passive ? s : c);
	f->pid = f->key.pgid;
	f->connections = 3;
	f->new_connections = 1;
	f->first_seen_ms = now;
	f->last_seen_ms = now;
}

/*
 * The reference the benchmark compares against: what upstream shawk does,
 * one upsert statement per node and per flow (in one transaction, which
 * flatters it). Returns n or -errno.
 */
static int flush_rowwise(struct cmdb *db, const char *node_name,
			 const struct flow *flows, size_t n)
{
	static const char flow_sql[] =
		"INSERT INTO flows AS o (laddr, node_name, direction, proto,"
		" lport, raddr, rport, netns, pgid, comm, connections,"
		" connections_total, first_seen, last_seen)"
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		" to_timestamp($13::float8 / 1000), to_timestamp($14::float8 / 1000))"
		" ON CONFLICT (laddr, lport, direction, proto, raddr, rport,"
		"  node_name, netns, pgid, comm, service_addr, service_port,"
		"  nat_peer_addr, nat_peer_port) DO UPDATE SET"
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

	if ((r = cmdb_exec_sql(db, "BEGIN")) < 0)
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
		if ((r = cmdb_exec_params(db, flow_sql, 14, fp)) < 0 ||
		    (r = passive ? cmdb_exec_params(db, passive_sql, 9, pp)
				 : cmdb_exec_params(db, active_sql, 7, ap)) < 0) {
			/* Keeps the statement's error: ROLLBACK succeeds. */
			if (cmdb_is_connected(db))
				cmdb_exec_sql(db, "ROLLBACK");
			return r;
		}
	}
	if ((r = cmdb_exec_sql(db, "COMMIT")) < 0)
		return r;
	return (int)n;
}


/* Timed inserts per size after the first one; the median is reported. */
#define FLUSH_RUNS 5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int reset(struct cmdb *db)
{
	int r = cmdb_exec_sql(db, "TRUNCATE flows, passive_nodes, active_nodes,"
				  " flush_batches");
	return r < 0 ? r : cmdb_exec_sql(db, "VACUUM ANALYZE flows");
}

static int bench_flush(struct cmdb *db, int argc, char **argv)
{
	int64_t now = now_realtime_ms();
	for (int a = 0; a < argc; a++) {
		size_t n = strtoul(argv[a], NULL, 10);
		struct flow *fl = calloc(n, sizeof(*fl));
		bool doubt;
		if (!fl)
			return 1;
		/* Distinct flows: client i -> server (i % 1000) + n. */
		for (size_t i = 0; i < n; i++)
			make_flow(&fl[i], (uint32_t)i,
				  (uint32_t)(n + i % 1000), i % 2, now);
		/* An agent keeps its connection and flushes every interval:
		 * the figure of record is a flush on a connection that has
		 * flushed before (its backend's memory and the shared buffers
		 * it writes are mapped; page faults cost 20-30 us on this
		 * VM), the median of FLUSH_RUNS inserts into emptied tables.
		 * The first flush of this size on the connection is timed
		 * too and printed as first_insert. */
		struct cmdb_batch b = { "bench", (uint64_t)rand(), 0 };
		double runs[FLUSH_RUNS + 1];
		for (int k = 0; k <= FLUSH_RUNS; k++) {
			if (reset(db) < 0)
				goto fail;
			b.seq++;
			double t = now_s();
			if (cmdb_store_flush(db, &b, fl, n, &doubt) < 0)
				goto fail;
			runs[k] = now_s() - t;
		}
		double first = runs[0];
		qsort(runs + 1, FLUSH_RUNS, sizeof(double), cmp_double);
		double ins = runs[1 + FLUSH_RUNS / 2];
		/* The update path: the same flows again, onto the last run's. */
		b.seq++;
		double t = now_s();
		if (cmdb_store_flush(db, &b, fl, n, &doubt) < 0)
			goto fail;
		double upd = now_s() - t;

		/* The reference on at most 10k flows: its rate is flat in n,
		 * and 100k rows one by one would dominate the run. */
		size_t nb = n < 10000 ? n : 10000;
		if (reset(db) < 0)
			goto fail;
		t = now_s();
		if (flush_rowwise(db, "bench", fl, nb) < 0)
			goto fail;
		double base = now_s() - t;
		printf("flush n=%zu batched_insert=%.0f flows/s (%.3fs) "
		       "first_insert=%.0f flows/s (%.3fs) runs=%d "
		       "batched_update=%.0f flows/s (%.3fs) "
		       "rowwise=%.0f flows/s (%zu flows, %.3fs) "
		       "speedup=%.1fx\n",
		       n, n / ins, ins, n / first, first, FLUSH_RUNS, n / upd, upd,
		       nb / base, nb, base,
		       (n / ins) / (nb / base));
		free(fl);
		continue;
fail:
		fprintf(stderr, "cmdb_bench: %s\n", cmdb_last_error(db));
		free(fl);
		return 1;
	}
	return 0;
}

/* A look at a random node's address (rand(): the same sequence each run). */
static struct look_query look_query_random(uint32_t nodes, int depth)
{
	struct look_query q = {
		.sel = LOOK_SEL_HOST,
		.family = AF_INET,
		.depth = depth,
		.since_ms = INT64_MIN,
		.until_ms = INT64_MAX,
	};
	node_addr((uint32_t)rand() % nodes, q.addr);
	return q;
}

/* Fills the CMDB with nflows flows (nflows / 2 edges seen from both
 * sides) among nodes nodes. Returns 0 or -1. */
static int look_fill(struct cmdb *db, uint32_t nodes, size_t nflows)
{
	size_t edges = nflows / 2; /* each edge is seen from both sides */
	_cleanup_(freep) struct flow *fl = calloc(nflows, sizeof(*fl));
	int64_t now = now_realtime_ms();
	bool doubt;
	if (!fl)
		return -1;
	srand(42);
	for (size_t e = 0; e < edges; e++) {
		uint32_t c = (uint32_t)rand() % nodes;
		uint32_t s = (uint32_t)rand() % nodes;
		if (s == c)
			s = (s + 1) % nodes;
		make_flow(&fl[2 * e], c, s, false, now);
		make_flow(&fl[2 * e + 1], c, s, true, now);
	}
	if (reset(db) < 0)
		return -1;
	/* Several batches, like agents would, de-duplicated by the flush. */
	for (size_t off = 0, seq = 1; off < 2 * edges; off += 50000, seq++) {
		struct cmdb_batch b = { "bench", 7, seq };
		size_t n = 2 * edges - off < 50000 ? 2 * edges - off : 50000;
		if (cmdb_store_flush(db, &b, fl + off, n, &doubt) < 0)
			return -1;
	}
	return cmdb_exec_sql(db, "ANALYZE") < 0 ? -1 : 0;
}

/* The query layer on a warm connection: prints the "look" line. Returns
 * 0 or -1. */
static int look_warm(struct cmdb *db, uint32_t nodes, size_t nflows,
		     int depth, int queries)
{
	_cleanup_(freep) double *lat = calloc((size_t)queries, sizeof(double));
	size_t total_v = 0, total_e = 0;
	if (!lat)
		return -1;
	for (int i = 0; i < queries; i++) {
		struct look_query q = look_query_random(nodes, depth);
		struct graph g;
		graph_init(&g, 0);
		double t = now_s();
		int r = cmdb_look(db, &q, &g);
		if (r >= 0) {
			FILE *dn = fopen("/dev/null", "we");
			graph_walk(&g, depth, 0, NULL, NULL);
			fclose(dn);
		}
		lat[i] = (now_s() - t) * 1000;
		total_v += g.nv;
		total_e += g.ne;
		graph_clear(&g);
		if (r < 0)
			return -1;
	}
	qsort(lat, (size_t)queries, sizeof(double), cmp_double);
	printf("look nodes=%u flows=%zu depth=%d queries=%d median=%.1fms "
	       "p95=%.1fms max=%.1fms avg_vertices=%zu avg_edges=%zu\n",
	       nodes, nflows, depth, queries, lat[queries / 2],
	       lat[(queries * 95) / 100], lat[queries - 1],
	       total_v / (size_t)queries, total_e / (size_t)queries);
	return 0;
}

/*
 * What each `shawk look` pays besides the query: a new connection
 * (backend start, authentication) and a backend whose catalog caches are
 * cold (first parse and plan of the edges view). Prints the "look-cold"
 * line, or nothing when a query fails.
 */
static void look_cold(const char *url, uint32_t nodes, int depth,
		      int queries)
{
	_cleanup_(freep) double *cold = calloc((size_t)queries, sizeof(double));
	_cleanup_(freep) double *conn = calloc((size_t)queries, sizeof(double));
	if (!cold || !conn)
		return;
	for (int i = 0; i < queries; i++) {
		struct look_query q = look_query_random(nodes, depth);
		struct cmdb *c;
		struct graph g;
		char err[256];
		graph_init(&g, 0);
		double t = now_s();
		if (cmdb_connect(url, &c, err, sizeof(err)) < 0) {
			fprintf(stderr, "cmdb_bench: %s\n", err);
			return;
		}
		conn[i] = (now_s() - t) * 1000;
		int r = cmdb_look(c, &q, &g);
		cold[i] = (now_s() - t) * 1000;
		cmdb_free(c);
		graph_clear(&g);
		if (r < 0)
			return;
	}
	qsort(cold, (size_t)queries, sizeof(double), cmp_double);
	qsort(conn, (size_t)queries, sizeof(double), cmp_double);
	printf("look-cold depth=%d queries=%d connect_median=%.1fms "
	       "connect_and_query_median=%.1fms\n",
	       depth, queries, conn[queries / 2], cold[queries / 2]);
}

static int bench_look(struct cmdb *db, const char *url, char **argv)
{
	uint32_t nodes = (uint32_t)strtoul(argv[0], NULL, 10);
	size_t nflows = strtoul(argv[1], NULL, 10);
	int depth = atoi(argv[2]);
	int queries = atoi(argv[3]);

	if (look_fill(db, nodes, nflows) < 0 ||
	    look_warm(db, nodes, nflows, depth, queries) < 0) {
		fprintf(stderr, "cmdb_bench: %s\n", cmdb_last_error(db));
		return 1;
	}
	look_cold(url, nodes, depth, queries);
	return 0;
}

int main(int argc, char **argv)
{
	struct cmdb *db;
	char err[256];
	if (argc < 4) {
		fputs("usage: cmdb_bench flush URL N... | look URL NODES "
		      "FLOWS DEPTH QUERIES\n",
		      stderr);
		return 2;
	}
	if (cmdb_connect(argv[2], &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "cmdb_bench: %s\n", err);
		return 1;
	}
	int r = !strcmp(argv[1], "flush") ? bench_flush(db, argc - 3, argv + 3)
		: argc >= 7		 ? bench_look(db, argv[2], argv + 3)
					 : 2;
	cmdb_free(db);
	return r;
}
