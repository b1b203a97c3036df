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
 *   cmdb_bench fleet URL N F INTERVAL_S DURATION_S CHANGE_PCT THREADS [PM]
 *                               N simulated agents, each its own
 *                               connection and node name, flushing F live
 *                               flows (CHANGE_PCT % with a new connection)
 *                               every INTERVAL_S, for DURATION_S; CPU
 *                               of the postmaster PM and its children
 *   cmdb_bench delta N...       the client-side delta alone (no server):
 *                               cmdb_delta_select + cmdb_delta_commit of
 *                               N flows with an agent's strings, first
 *                               flush (nothing known) and steady (the
 *                               same flows again), us per flow, and the
 *                               bytes per flow it keeps between flushes
 *
 * Prints results; judging them is the caller's job (bench/cmdb.sh).
 */
#include "cmdb/delta.h"
#include "cmdb/pg.h"
#include "cmdb/query.h"
#include "cmdb/store.h"
#include "core/addr.h"
#include "core/clock.h"
#include "core/graph.h"
#include "core/util.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <inttypes.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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
				  " flush_batches, flow_history");
	return r < 0 ? r : cmdb_exec_sql(db, "VACUUM ANALYZE flows");
}

/* One flush of fl by b (its next batch), its seconds in *ret. */
static int timed_flush(struct cmdb *db, struct cmdb_batch *b,
		       const struct flow *fl, size_t n, double *ret)
{
	bool doubt;
	b->seq++;
	double t = now_s();
	if (cmdb_store_flush(db, b, fl, n, &doubt) < 0)
		return -1;
	*ret = now_s() - t;
	return 0;
}

/* One insert of fl by b into emptied tables, its seconds in *ret. */
static int timed_insert(struct cmdb *db, struct cmdb_batch *b,
			const struct flow *fl, size_t n, double *ret)
{
	if (reset(db) < 0)
		return -1;
	return timed_flush(db, b, fl, n, ret);
}

/* runs[0] (the first, untimed for the median) and the median of the
 * FLUSH_RUNS after it (sorts them). */
static void first_and_median(double runs[FLUSH_RUNS + 1], double *ret_first,
			     double *ret_median)
{
	*ret_first = runs[0];
	qsort(runs + 1, FLUSH_RUNS, sizeof(double), cmp_double);
	*ret_median = runs[1 + FLUSH_RUNS / 2];
}

/* Median seconds of FLUSH_RUNS inserts of fl into emptied tables (after
 * one untimed-for-the-median first flush, returned in *first). */
static int time_inserts(struct cmdb *db, struct cmdb_batch *b,
			const struct flow *fl, size_t n, double *ret_median,
			double *ret_first)
{
	double runs[FLUSH_RUNS + 1];
	for (int k = 0; k <= FLUSH_RUNS; k++)
		if (timed_insert(db, b, fl, n, &runs[k]) < 0)
			return -1;
	first_and_median(runs, ret_first, ret_median);
	return 0;
}

/*
 * time_inserts() of two batches (the flush without history, b0, and with
 * it, b) alternated run by run, in turns of which goes first: the ratio
 * of their medians is taken under the same load (as blocks of runs one
 * after the other it swung 0.43-1.09 on a shared machine). *ret_pair:
 * the median of the runs' own ratios t(b0) / t(b), each pair taken back
 * to back (a slow spell of the VM slows both of a pair, not one arm's
 * median).
 */
static int time_inserts_pair(struct cmdb *db, struct cmdb_batch *b0,
			     struct cmdb_batch *b, const struct flow *fl,
			     size_t n, double ret_median[2], double ret_first[2],
			     double *ret_pair)
{
	double pair[FLUSH_RUNS];
	double runs[2][FLUSH_RUNS + 1];
	struct cmdb_batch *arm[2] = { b0, b };
	for (int k = 0; k <= FLUSH_RUNS; k++)
		for (int j = 0; j < 2; j++) {
			int a = (j + k) % 2;
			if (timed_insert(db, arm[a], fl, n, &runs[a][k]) < 0)
				return -1;
		}
	for (int k = 1; k <= FLUSH_RUNS; k++)
		pair[k - 1] = runs[0][k] / runs[1][k];
	qsort(pair, FLUSH_RUNS, sizeof(double), cmp_double);
	*ret_pair = pair[FLUSH_RUNS / 2];
	for (int a = 0; a < 2; a++)
		first_and_median(runs[a], &ret_first[a], &ret_median[a]);
	return 0;
}

/* Moves fl by dt ms, first_seen and last_seen: the same flows seen again
 * in another bucket, each with one new connection. */
static void shift_flows(struct flow *fl, size_t n, int64_t dt)
{
	for (size_t i = 0; i < n; i++) {
		fl[i].first_seen_ms += dt;
		fl[i].last_seen_ms += dt;
		fl[i].new_connections = 1;
	}
}

/*
 * A flow's first two buckets, with the history (b) and without (b0),
 * alternated as in time_inserts_pair(): the insert of n new flows into
 * emptied tables, then the flush of the same flows seen again in the next
 * bucket (a new connection each). The history writes a flow's first
 * bucket when the flow is inserted (schema 10), or, in a design that
 * keeps it on the flows row until then (tried: docs/cmdb.md, branch
 * i19-lazy), when it enters its second bucket: the two flushes together
 * cost the same rows either way. ret_next[a]: median seconds of
 * arm a's second flush; *ret_pair_next and *ret_pair_both: the medians of
 * the pairs' own ratios t(b0) / t(b), of the second flush alone and of
 * both flushes.
 */
static int time_two_buckets(struct cmdb *db, struct cmdb_batch *b0,
			    struct cmdb_batch *b, struct flow *fl, size_t n,
			    double ret_next[2], double *ret_pair_next,
			    double *ret_pair_both)
{
	double ins[2][FLUSH_RUNS + 1], next[2][FLUSH_RUNS + 1];
	double pn[FLUSH_RUNS], pb[FLUSH_RUNS], unused;
	struct cmdb_batch *arm[2] = { b0, b };
	for (int k = 0; k <= FLUSH_RUNS; k++)
		for (int j = 0; j < 2; j++) {
			int a = (j + k) % 2;
			if (timed_insert(db, arm[a], fl, n, &ins[a][k]) < 0)
				return -1;
			shift_flows(fl, n, 60000);
			int r = timed_flush(db, arm[a], fl, n, &next[a][k]);
			shift_flows(fl, n, -60000);
			if (r < 0)
				return -1;
		}
	for (int k = 1; k <= FLUSH_RUNS; k++) {
		pn[k - 1] = next[0][k] / next[1][k];
		pb[k - 1] = (ins[0][k] + next[0][k]) / (ins[1][k] + next[1][k]);
	}
	qsort(pn, FLUSH_RUNS, sizeof(double), cmp_double);
	qsort(pb, FLUSH_RUNS, sizeof(double), cmp_double);
	*ret_pair_next = pn[FLUSH_RUNS / 2];
	*ret_pair_both = pb[FLUSH_RUNS / 2];
	for (int a = 0; a < 2; a++)
		first_and_median(next[a], &unused, &ret_next[a]);
	return 0;
}

/*
 * The floor under the history's cost: FLUSH_RUNS times, into emptied
 * tables, the flush without history (b0), then, timed apart, only the
 * rows a batch of n new flows must add to the history: one narrow row per
 * flow (laddr, flow_id, one constant bucket) into the partitioned
 * flow_history with its primary key, in a transaction like the flush's
 * (synchronous_commit off), read from the flows just written. Medians of
 * the flush (*ret_off), the history rows (*ret_rows) and, to subtract
 * if wanted, the same SELECT counted without the INSERT (*ret_scan).
 * ratio t(off) / (t(off) + t(rows)) is the best a flush writing one
 * history row per new flow can reach against the flush without history.
 */
static int time_floor(struct cmdb *db, struct cmdb_batch *b0,
		      const struct flow *fl, size_t n, int64_t now_ms,
		      double *ret_off, double *ret_rows, double *ret_scan)
{
	double off[FLUSH_RUNS], rows[FLUSH_RUNS], scan[FLUSH_RUNS];
	char bucket[40], prep[192], ins[512], sel[320];

	snprintf(bucket, sizeof(bucket), "to_timestamp(%" PRId64 ")",
		 now_ms / 60000 * 60);
	snprintf(prep, sizeof(prep),
		 "SELECT shawk_history_prepare(%s, %s + interval '1 day')",
		 bucket, bucket);
	snprintf(ins, sizeof(ins),
		 "BEGIN; SET LOCAL synchronous_commit = off;"
		 " INSERT INTO flow_history (laddr, flow_id, bucket, seconds,"
		 " connections) SELECT laddr, flow_id, %s, 60, 1 FROM flows"
		 " WHERE node_name = 'bench'; COMMIT",
		 bucket);
	snprintf(sel, sizeof(sel),
		 "SELECT count(*) FROM (SELECT laddr, flow_id, %s FROM flows"
		 " WHERE node_name = 'bench') s",
		 bucket);
	if (cmdb_exec_sql(db, prep) < 0)
		return -1;
	for (int k = 0; k < FLUSH_RUNS; k++) {
		int64_t c;
		if (timed_insert(db, b0, fl, n, &off[k]) < 0)
			return -1;
		double t = now_s();
		if (cmdb_query_int64(db, sel, &c) < 0)
			return -1;
		scan[k] = now_s() - t;
		t = now_s();
		if (cmdb_exec_sql(db, ins) < 0)
			return -1;
		rows[k] = now_s() - t;
		if (cmdb_query_int64(db, "SELECT count(*) FROM flow_history",
				     &c) < 0)
			return -1;
		if ((size_t)c != n) {
			fprintf(stderr, "cmdb_bench: floor wrote %" PRId64
				" history rows, not %zu\n", c, n);
			return -1;
		}
	}
	qsort(off, FLUSH_RUNS, sizeof(double), cmp_double);
	qsort(rows, FLUSH_RUNS, sizeof(double), cmp_double);
	qsort(scan, FLUSH_RUNS, sizeof(double), cmp_double);
	*ret_off = off[FLUSH_RUNS / 2];
	*ret_rows = rows[FLUSH_RUNS / 2];
	*ret_scan = scan[FLUSH_RUNS / 2];
	return 0;
}

/*
 * Rows a flush of fl writes at steady state (the same flows again, no new
 * connection, same counts, last_seen a few seconds later in the same
 * minute): tuples of flows, nodes and history whose xmin is the flush's
 * transaction, and its seconds.
 */
static int steady_rows(struct cmdb *db, struct cmdb_batch *b, struct flow *fl,
		       size_t n, int64_t *ret_rows, double *ret_s)
{
	int64_t x;
	bool doubt;
	for (size_t i = 0; i < n; i++) {
		fl[i].new_connections = 0;
		fl[i].last_seen_ms += 2000;
	}
	if (cmdb_query_int64(db, "SELECT txid_current()", &x) < 0)
		return -1;
	b->seq++;
	double t = now_s();
	if (cmdb_store_flush(db, b, fl, n, &doubt) < 0)
		return -1;
	*ret_s = now_s() - t;
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "SELECT (SELECT count(*) FROM flows WHERE xmin::text::bigint > %" PRId64
		 ") + (SELECT count(*) FROM passive_nodes WHERE xmin::text::bigint > %" PRId64
		 ") + (SELECT count(*) FROM active_nodes WHERE xmin::text::bigint > %" PRId64
		 ") + (SELECT count(*) FROM flow_history WHERE xmin::text::bigint > %" PRId64 ")",
		 x, x, x, x);
	for (size_t i = 0; i < n; i++) {
		fl[i].new_connections = 1;
		fl[i].last_seen_ms -= 2000;
	}
	return cmdb_query_int64(db, sql, ret_rows);
}

static int bench_flush(struct cmdb *db, int argc, char **argv)
{
	/* Mid-minute: the steady-state flush stays in the same bucket. */
	int64_t now = now_realtime_ms() / 60000 * 60000 + 20000;
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
		 * too and printed as first_insert. The flush as it was
		 * before the history (history_off) is measured the same way,
		 * alternately with it, as the reference of the history's
		 * cost. */
		struct cmdb_batch b = { .node_name = "bench",
				       .boot_id = (uint64_t)rand() };
		struct cmdb_batch b0 = b;
		b0.boot_id++;
		b0.history_off = true;
		double ins, first, ins0;
		/* The same with history, every flow sent (send_all): without
		 * the client-side delta's selection and bookkeeping, which a
		 * batch of new flows spends on nothing. */
		struct cmdb_batch ba = b;
		ba.boot_id += 2;
		ba.send_all = true;
		double foff, frows, fscan, insa, firsta, med[2], fst[2], pr;
		double nx[2], pnx, pboth;
		if (time_inserts_pair(db, &b0, &b, fl, n, med, fst, &pr) < 0 ||
		    time_inserts(db, &ba, fl, n, &insa, &firsta) < 0 ||
		    time_floor(db, &b0, fl, n, now, &foff, &frows, &fscan) < 0 ||
		    time_two_buckets(db, &b0, &b, fl, n, nx, &pnx, &pboth) < 0)
			goto fail;
		ins0 = med[0], ins = med[1], first = fst[1];
		/* The update path: the same flows again, onto the last run's. */
		b.seq++;
		double t = now_s();
		if (cmdb_store_flush(db, &b, fl, n, &doubt) < 0)
			goto fail;
		double upd = now_s() - t;
		/* Steady state: rows written, with the history (only what
		 * changed, last_seen once per bucket) and without. */
		int64_t rows, rows0;
		double st, st0, unused[2];
		if (steady_rows(db, &b, fl, n, &rows, &st) < 0 ||
		    time_inserts(db, &b0, fl, n, &unused[0], &unused[1]) < 0)
			goto fail;
		b0.seq++;
		if (cmdb_store_flush(db, &b0, fl, n, &doubt) < 0 ||
		    steady_rows(db, &b0, fl, n, &rows0, &st0) < 0)
			goto fail;

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
		printf("history n=%zu insert_with_history=%.0f flows/s "
		       "insert_without=%.0f flows/s ratio=%.2f pair_ratio=%.2f "
		       "steady_rows_written with=%" PRId64 " (%.3fs) without=%" PRId64
		       " (%.3fs)\n",
		       n, n / ins, n / ins0, ins0 / ins, pr, rows, st, rows0,
		       st0);
		/* The floor, measured in the same run: the flush without
		 * history plus only the history rows it would have to add. */
		printf("history_floor n=%zu without=%.3fs rows_alone=%.3fs "
		       "(of which select %.3fs) floor_ratio=%.2f ratio=%.2f "
		       "with_send_all=%.3fs ratio_send_all=%.2f\n",
		       n, foff, frows, fscan, foff / (foff + frows), ins0 / ins,
		       insa, ins0 / insa);
		printf("history_two_buckets n=%zu next_with=%.3fs "
		       "next_without=%.3fs pair_ratio_next=%.2f "
		       "pair_ratio_both=%.2f\n",
		       n, nx[1], nx[0], pnx, pboth);
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
		struct cmdb_batch b = { .node_name = "bench", .boot_id = 7,
				       .seq = seq };
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

/*
 * look with --since on a month of history next to look without a window
 * (today's query), on the same CMDB: each flow active in one minute of
 * each of the last `days` days and in the current minute. Prints the
 * "look-history" line. Returns 0 or -1.
 */
static int bench_look_history(struct cmdb *db, char **argv)
{
	uint32_t nodes = (uint32_t)strtoul(argv[0], NULL, 10);
	size_t nflows = strtoul(argv[1], NULL, 10);
	int days = atoi(argv[2]);
	int queries = atoi(argv[3]);
	int depth = 3;
	char sql[1024];
	double t;
	if (look_fill(db, nodes, nflows) < 0)
		return -1;
	t = now_s();
	snprintf(sql, sizeof(sql),
		 "SELECT shawk_history_prepare(now() - interval '%d days', now());"
		 " INSERT INTO flow_history SELECT laddr, flow_id,"
		 " shawk_bucket(now() - d * interval '1 day' + (hashtext(comm ||"
		 " host(raddr)) %% 600) * interval '1 minute', 60), 60, 1"
		 " FROM flows, generate_series(1, %d) d"
		 " ON CONFLICT DO NOTHING",
		 days + 1, days);
	if (cmdb_exec_sql(db, sql) < 0 ||
	    cmdb_exec_sql(db, "VACUUM ANALYZE flow_history") < 0)
		return -1;
	int64_t rows;
	if (cmdb_query_int64(db, "SELECT count(*) FROM flow_history", &rows) < 0)
		return -1;
	double fill = now_s() - t;
	double *lat[2];
	for (int w = 0; w < 2; w++)
		if (!(lat[w] = calloc((size_t)queries, sizeof(double))))
			return -1;
	size_t edges[2] = { 0, 0 };
	/* Alternately, so that both see the same cache state. */
	for (int i = 0; i < queries; i++) {
		struct look_query q = look_query_random(nodes, depth);
		for (int w = 0; w < 2; w++) {
			struct graph g;
			graph_init(&g, 0);
			if (w)
				q.since_ms = now_realtime_ms() - 3600 * 1000;
			double s0 = now_s();
			int r = cmdb_look(db, &q, &g);
			lat[w][i] = (now_s() - s0) * 1000;
			edges[w] += g.ne;
			graph_clear(&g);
			if (r < 0)
				return -1;
		}
	}
	for (int w = 0; w < 2; w++)
		qsort(lat[w], (size_t)queries, sizeof(double), cmp_double);
	printf("look-history flows=%zu history_rows=%" PRId64 " (%d days, "
	       "filled in %.1fs) depth=%d queries=%d no_window_median=%.1fms "
	       "since_1h_median=%.1fms ratio=%.2f avg_edges=%zu/%zu\n",
	       nflows, rows, days, fill, depth, queries, lat[0][queries / 2],
	       lat[1][queries / 2], lat[1][queries / 2] / lat[0][queries / 2],
	       edges[0] / (size_t)queries, edges[1] / (size_t)queries);
	free(lat[0]);
	free(lat[1]);
	return 0;
}

/* ---- fleet: many agents on one PostgreSQL ---- */

struct fleet_agent {
	struct cmdb *db;
	char name[32];
	struct flow *fl;
	struct cmdb_batch b;
	int64_t due_ms;
};

struct fleet_thread {
	pthread_t t;
	struct fleet_agent *a;
	size_t na;
	int64_t interval_ms, end_ms, start_ms;
	int change_pct;
	/* The first round: every flow new, one connection each. */
	bool fill;
	size_t nflows;
	/* Lateness of each flush's end after its due time, ms. */
	double *lat;
	int64_t *when; /* due time of each, for the drift */
	size_t nlat, cap;
	int err;
};

static void sleep_until_ms(int64_t t)
{
	int64_t now = now_realtime_ms();
	if (t <= now)
		return;
	struct timespec ts = { .tv_sec = (t - now) / 1000,
			       .tv_nsec = ((t - now) % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Agent i's flows: half served at its address (ports 8000-8009, ten
 * processes), half calling others; peers are distinct per flow. */
static void fleet_flows(struct flow *fl, size_t n, uint32_t i, int64_t now)
{
	for (size_t j = 0; j < n; j++) {
		struct flow *f = &fl[j];
		bool passive = j % 2;
		memset(f, 0, sizeof(*f));
		f->key.dir = passive ? SOCK_DIR_PASSIVE : SOCK_DIR_ACTIVE;
		f->key.proto = IPPROTO_TCP;
		f->key.family = AF_INET;
		node_addr(0x800000 + i, f->key.laddr);
		node_addr(0xC00000 + (uint32_t)j, f->key.raddr);
		f->key.lport = passive ? (uint16_t)(8000 + j % 10) : 0;
		f->key.rport = passive ? 0 : (uint16_t)(8000 + j % 10);
		f->key.netns = 4026531840u;
		f->key.pgid = 1000 + (uint32_t)(j % 10);
		snprintf(f->key.comm, sizeof(f->key.comm), "svc%zu", j % 10);
		f->pid = f->key.pgid;
		f->connections = 1;
		f->new_connections = 1;
		f->first_seen_ms = f->last_seen_ms = now;
	}
}

static void *fleet_run(void *arg)
{
	struct fleet_thread *t = arg;
	for (;;) {
		struct fleet_agent *a = NULL;
		for (size_t k = 0; k < t->na; k++)
			if (!a || t->a[k].due_ms < a->due_ms)
				a = &t->a[k];
		if (!a || a->due_ms >= t->end_ms)
			break;
		sleep_until_ms(a->due_ms);
		/* This interval: every flow still live, CHANGE_PCT % of them
		 * with a new connection (beside the one it has: 2 this
		 * interval; the first round's is its only one). */
		for (size_t j = 0; j < t->nflows; j++) {
			struct flow *f = &a->fl[j];
			bool change = (size_t)rand() % 100 < (size_t)t->change_pct;
			f->new_connections = change;
			f->connections = change && !t->fill ? 2 : 1;
			f->first_seen_ms = a->due_ms - t->interval_ms + 1000;
			f->last_seen_ms = a->due_ms;
		}
		bool doubt;
		a->b.seq++;
		if (cmdb_store_flush(a->db, &a->b, a->fl, t->nflows, &doubt) < 0) {
			fprintf(stderr, "cmdb_bench: %s: %s\n", a->name,
				cmdb_last_error(a->db));
			t->err = 1;
			return NULL;
		}
		if (t->nlat == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 1024;
			double *l = realloc(t->lat, cap * sizeof(*l));
			int64_t *w = l ? realloc(t->when, cap * sizeof(*w)) : NULL;
			if (!l || !w) {
				t->err = 1;
				return NULL;
			}
			t->lat = l;
			t->when = w;
			t->cap = cap;
		}
		t->when[t->nlat] = a->due_ms;
		t->lat[t->nlat++] = (double)(now_realtime_ms() - a->due_ms);
		a->due_ms += t->interval_ms;
	}
	return NULL;
}

/* CPU seconds used so far by the postmaster pm and its children (its
 * backends and workers); pm 0: every process named "postgres". */
static double postgres_cpu_s(long pm)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	double total = 0;
	long hz = sysconf(_SC_CLK_TCK);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		char path[300], buf[1024];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		char *l = strchr(buf, '('), *r = strrchr(buf, ')');
		if (!l || !r || strncmp(l + 1, "postgres", 8) != 0 ||
		    r != l + 9)
			continue;
		unsigned long ut = 0, st = 0;
		long ppid = 0;
		/* Fields after ")": state is 3, ppid 4, utime 14, stime 15. */
		if (sscanf(r + 2, "%*c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				  "%lu %lu", &ppid, &ut, &st) == 3 &&
		    (!pm || ppid == pm || atol(e->d_name) == pm))
			total += (double)(ut + st) / (double)hz;
	}
	closedir(d);
	return total;
}

/* CPU seconds used so far by this process (the simulated agents: their
 * encoding, libpq and threads share the cores with PostgreSQL). */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int bench_fleet(const char *url, char **argv)
{
	size_t n = strtoul(argv[0], NULL, 10), nf = strtoul(argv[1], NULL, 10);
	int64_t interval = (int64_t)(atof(argv[2]) * 1000);
	int64_t duration = (int64_t)(atof(argv[3]) * 1000);
	int change = atoi(argv[4]);
	size_t nt = strtoul(argv[5], NULL, 10);
	long pm = argv[6] ? atol(argv[6]) : 0; /* the postmaster's pid */
	/* The references of the same run (bench/fleet.sh): the flush without
	 * history, and unique.sql planned at every flush. */
	bool history_off = getenv("FLEET_HISTORY_OFF") &&
			   strcmp(getenv("FLEET_HISTORY_OFF"), "0");
	bool plan_each = getenv("FLEET_PLAN_EACH") &&
			 strcmp(getenv("FLEET_PLAN_EACH"), "0");
	/* Every flow sent at every flush (no client-side delta). */
	bool send_all = getenv("FLEET_SEND_ALL") &&
			strcmp(getenv("FLEET_SEND_ALL"), "0");
	/* Every live flow refreshed by the first flush of a bucket, not
	 * spread over it (the flush interval not given). */
	bool turn = getenv("FLEET_TURN") && strcmp(getenv("FLEET_TURN"), "0");
	struct fleet_agent *a = calloc(n, sizeof(*a));
	struct fleet_thread *t = calloc(nt, sizeof(*t));
	int rc = 1;
	if (!a || !t || !n || !nt || !nf || interval <= 0)
		goto out;
	int64_t now = now_realtime_ms();
	for (size_t i = 0; i < n; i++) {
		char err[256];
		if (cmdb_connect(url, &a[i].db, err, sizeof(err)) < 0) {
			fprintf(stderr, "cmdb_bench: agent %zu: %s\n", i, err);
			goto out;
		}
		snprintf(a[i].name, sizeof(a[i].name), "fleet-%zu", i);
		a[i].b = (struct cmdb_batch){ .node_name = a[i].name,
					      .boot_id = ((uint64_t)now << 16) + i,
					      .history_off = history_off,
					      .plan_each = plan_each,
					      .send_all = send_all,
					      .interval_ms = turn ? 0 : interval };
		if (!(a[i].fl = calloc(nf, sizeof(struct flow))))
			goto out;
		fleet_flows(a[i].fl, nf, (uint32_t)i, now);
	}
	/* Agents spread over the interval, as real ones started at random;
	 * the first flush of each (all its flows new) before the clock. */
	int64_t start = now_realtime_ms() + 2000;
	for (size_t i = 0; i < n; i++)
		a[i].due_ms = start + (int64_t)i * interval / (int64_t)n;
	for (size_t k = 0; k < nt; k++) {
		t[k] = (struct fleet_thread){ .interval_ms = interval,
					      .start_ms = start,
					      .end_ms = start + interval,
					      .change_pct = 100,
					      .fill = true,
					      .nflows = nf };
	}
	/* Thread k drives agents k, k + nt, ...: give each its own slice. */
	struct fleet_agent *sorted = calloc(n, sizeof(*sorted));
	if (!sorted)
		goto out;
	for (size_t k = 0, o = 0; k < nt; k++) {
		t[k].a = sorted + o;
		for (size_t i = k; i < n; i += nt) {
			sorted[o] = a[i];
			sorted[o].b.node_name = sorted[o].name;
			o++;
		}
		t[k].na = (size_t)(sorted + o - t[k].a);
	}
	free(a);
	a = sorted;
	double first_round = 0;
	for (int phase = 0; phase < 2; phase++) {
		double cpu0 = postgres_cpu_s(pm), t0 = now_s();
		double self0 = self_cpu_s();
		for (size_t k = 0; k < nt; k++) {
			if (phase == 1) {
				t[k].start_ms = start;
				t[k].end_ms = start + duration;
				t[k].change_pct = change;
				t[k].fill = false;
				t[k].nlat = 0;
			}
			pthread_create(&t[k].t, NULL, fleet_run, &t[k]);
		}
		for (size_t k = 0; k < nt; k++)
			pthread_join(t[k].t, NULL);
		double cpu = postgres_cpu_s(pm) - cpu0, wall = now_s() - t0;
		double self = self_cpu_s() - self0;
		for (size_t k = 0; k < nt; k++)
			if (t[k].err)
				goto out;
		if (phase == 0) {
			/* Steady state from here: the next round, or, when
			 * the first (every agent inserting all its flows at
			 * once, a fleet's one-off fill) ran over its
			 * interval, the moment it ended: its backlog is its
			 * own figure (first_round), not the steady state's. */
			int64_t next = now_realtime_ms() + 500;
			int64_t shift = next > start + interval ?
						next - (start + interval) : 0;
			first_round = wall;
			start += interval + shift;
			for (size_t i = 0; i < n; i++)
				a[i].due_ms += shift;
			continue;
		}
		size_t total = 0, late = 0;
		for (size_t k = 0; k < nt; k++)
			total += t[k].nlat;
		double *all = calloc(total ? total : 1, sizeof(double));
		double first_sum = 0, last_sum = 0;
		size_t first_n = 0, last_n = 0;
		if (!all)
			goto out;
		for (size_t k = 0, o = 0; k < nt; k++)
			for (size_t j = 0; j < t[k].nlat; j++) {
				double l = t[k].lat[j];
				all[o++] = l;
				late += l > (double)interval;
				if (t[k].when[j] < start + duration / 3) {
					first_sum += l;
					first_n++;
				} else if (t[k].when[j] >= start + 2 * duration / 3) {
					last_sum += l;
					last_n++;
				}
			}
		qsort(all, total, sizeof(double), cmp_double);
		printf("fleet history=%s prepared=%s delta=%s refresh=%s "
		       "agents=%zu flows=%zu "
		       "interval=%.1fs duration=%.0fs "
		       "change=%d%% threads=%zu flushes=%zu flows_per_s=%.0f "
		       "latency_p50=%.0fms p95=%.0fms max=%.0fms late=%zu "
		       "mean_first_third=%.0fms mean_last_third=%.0fms "
		       "pg_cpu=%.0f%% driver_cpu=%.0f%% cores=%ld "
		       "first_round=%.1fs\n",
		       history_off ? "off" : "on", plan_each ? "no" : "yes",
		       history_off || send_all ? "no" : "yes",
		       history_off || send_all ? "every" : turn ? "turn" : "spread",
		       n, nf, (double)interval / 1000, wall, change, nt, total,
		       (double)(total * nf) / wall,
		       total ? all[total / 2] : 0,
		       total ? all[total * 95 / 100] : 0,
		       total ? all[total - 1] : 0, late,
		       first_n ? first_sum / (double)first_n : 0,
		       last_n ? last_sum / (double)last_n : 0,
		       100 * cpu / wall, 100 * self / wall,
		       sysconf(_SC_NPROCESSORS_ONLN), first_round);
		free(all);
	}
	rc = 0;
out:
	for (size_t i = 0; a && i < n; i++) {
		cmdb_free(a[i].db);
		free(a[i].fl);
	}
	for (size_t k = 0; t && k < nt; k++) {
		free(t[k].lat);
		free(t[k].when);
	}
	free(a);
	free(t);
	return rc;
}


/* The heap in use (malloc'd and mmapped), bytes. */
static size_t heap_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

#define DELTA_RUNS 7

/* Flow i with owned strings like an agent's (process, container, pod). */
static int delta_flow(struct flow *f, uint32_t i, int64_t now)
{
	char b[256];
	make_flow(f, i, 100000 + i % 1000, i % 2, now);
	uint32_t p = i % 1000;
	snprintf(b, sizeof(b), "/usr/bin/svc%u --config /etc/svc%u/config.yaml "
		 "--port 80", p, p);
	f->cmdline = strdup(b);
	snprintf(b, sizeof(b), "/kubepods.slice/kubepods-burstable.slice/"
		 "kubepods-burstable-pod%08x_1234_5678.slice/cri-containerd-"
		 "%08x%056x.scope", p, p, 0);
	f->cgroup = strdup(b);
	snprintf(b, sizeof(b), "%08x%056x", p, 0);
	f->container_id = strdup(b);
	snprintf(b, sizeof(b), "svc%u", p);
	f->container_name = strdup(b);
	f->pod_namespace = strdup("production");
	snprintf(b, sizeof(b), "svc%u-7d9f8c6b5-x2k4q", p);
	f->pod_name = strdup(b);
	snprintf(b, sizeof(b), "%08x-1234-5678-9abc-def012345678", p);
	f->pod_uid = strdup(b);
	return f->cmdline && f->cgroup && f->container_id &&
			       f->container_name && f->pod_namespace &&
			       f->pod_name && f->pod_uid ?
		       0 :
		       -ENOMEM;
}

/* One select + commit of fl: seconds of each into *sel, *com. */
static int delta_once(struct cmdb_delta *d, struct flow *fl, size_t n,
		      long expect, double *sel, double *com)
{
	const struct flow *out;
	double t0 = now_s();
	long m = cmdb_delta_select(d, fl, n, 60, 10000, &out);
	double t1 = now_s();
	int r = cmdb_delta_commit(d, fl, n, 60);
	double t2 = now_s();
	cmdb_delta_done(d);
	if (m != expect || r < 0) {
		fprintf(stderr, "cmdb_bench delta: selected %ld of %zu "
			"(expected %ld), commit %d\n", m, n, expect, r);
		return -1;
	}
	*sel = t1 - t0;
	*com = t2 - t1;
	return 0;
}

static int bench_delta(int argc, char **argv)
{
	int64_t now = now_realtime_ms() / 60000 * 60000 + 20000;
	for (int a = 0; a < argc; a++) {
		size_t n = strtoul(argv[a], NULL, 10);
		struct flow *fl = calloc(n, sizeof(*fl));
		double fs[DELTA_RUNS], fc[DELTA_RUNS], ss[DELTA_RUNS],
			sc[DELTA_RUNS], x, y;
		size_t kept = 0;
		int rc = 0;
		if (!fl)
			return 1;
		for (size_t i = 0; i < n && !rc; i++)
			rc = delta_flow(&fl[i], (uint32_t)i, now);
		for (int k = 0; k < DELTA_RUNS && !rc; k++) {
			struct cmdb_delta d;
			for (size_t i = 0; i < n; i++) {
				fl[i].new_connections = 1;
				fl[i].last_seen_ms = now;
			}
			size_t h0 = heap_bytes();
			cmdb_delta_init(&d);
			/* First flush: nothing known, every flow sent. */
			if (delta_once(&d, fl, n, (long)n, &fs[k], &fc[k]) < 0)
				rc = 1;
			/* Steady: the same flows 10 s later, nothing new,
			 * same bucket: none sent. Untimed once (the
			 * previous flush's tables are freed or reused),
			 * then timed. */
			for (size_t i = 0; i < n; i++) {
				fl[i].new_connections = 0;
				fl[i].last_seen_ms = now + 10000;
			}
			if (!rc && (delta_once(&d, fl, n, 0, &x, &y) < 0 ||
				    delta_once(&d, fl, n, 0, &ss[k], &sc[k]) < 0))
				rc = 1;
			kept = heap_bytes() - h0;
			cmdb_delta_clear(&d);
		}
		if (!rc) {
			qsort(fs, DELTA_RUNS, sizeof(double), cmp_double);
			qsort(fc, DELTA_RUNS, sizeof(double), cmp_double);
			qsort(ss, DELTA_RUNS, sizeof(double), cmp_double);
			qsort(sc, DELTA_RUNS, sizeof(double), cmp_double);
			int md = DELTA_RUNS / 2;
			double u = 1e6 / (double)n;
			printf("delta n=%zu first: select %.3f commit %.3f "
			       "total %.3f us/flow; steady: select %.3f "
			       "commit %.3f total %.3f us/flow; kept %.0f "
			       "B/flow (median of %d)\n",
			       n, fs[md] * u, fc[md] * u,
			       (fs[md] + fc[md]) * u, ss[md] * u, sc[md] * u,
			       (ss[md] + sc[md]) * u, (double)kept / (double)n,
			       DELTA_RUNS);
		}
		for (size_t i = 0; i < n; i++)
			flow_clear(&fl[i]);
		free(fl);
		if (rc)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cmdb *db;
	char err[256];
	if (argc < 3 || (argc < 4 && strcmp(argv[1], "delta"))) {
		fputs("usage: cmdb_bench flush URL N... | look URL NODES "
		      "FLOWS DEPTH QUERIES | fleet URL N F INTERVAL_S "
		      "DURATION_S CHANGE_PCT THREADS | delta N...\n",
		      stderr);
		return 2;
	}
	if (!strcmp(argv[1], "delta"))
		return bench_delta(argc - 2, argv + 2);
	if (!strcmp(argv[1], "fleet"))
		return argc >= 9 ? bench_fleet(argv[2], argv + 3) : 2;
	if (cmdb_connect(argv[2], &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "cmdb_bench: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "look-history")) {
		int r = argc >= 7 && bench_look_history(db, argv + 3) == 0 ? 0 : 1;
		if (r)
			fprintf(stderr, "cmdb_bench: %s\n", cmdb_last_error(db));
		cmdb_free(db);
		return r;
	}
	int r = !strcmp(argv[1], "flush") ? bench_flush(db, argc - 3, argv + 3)
		: argc >= 7		 ? bench_look(db, argv[2], argv + 3)
					 : 2;
	cmdb_free(db);
	return r;
}
