// SPDX-License-Identifier: MIT
/*
 * Writes the flows read from stdin into a CMDB through cmdb_store_flush(),
 * the agent's flush, in batches of at most BATCH flows (one transaction
 * each), for tests/integration/cmdb_large_flush.sh. Built by `make
 * integration` (and `make test`) into $(OBJDIR)/tests/tools/flush_flows.
 *
 *   flush_flows URL NODE BATCH BUCKET_S [INTERVAL_MS] < FLOWS
 *
 * One flow a line, fields separated by blanks:
 *   a|p tcp|udp LADDR LPORT RADDR RPORT PGID COMM CONNECTIONS NEW FIRST_MS LAST_MS
 * (a: active, p: passive; FIRST_MS/LAST_MS epoch milliseconds). Every run
 * is a new agent process (a new boot_id): its client-side delta
 * (cmdb/delta.h) is empty, so every flow goes to the CMDB, which must
 * itself tell the unchanged ones. A line `flush` (or `final`) ends a
 * batch there instead: the flows since the last such line, maybe none,
 * in one flush (marked final: cmdb_batch.final), the batches of one run
 * on one connection, whose delta then leaves flows out; INTERVAL_MS is
 * the agent's flush interval the delta spreads refreshes by (default 0).
 * Lines after the last `flush`/`final` go in batches of BATCH flows.
 */
#include "cmdb/pg.h"
#include "cmdb/store.h"
#include "core/addr.h"
#include "core/flow.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int parse_line(const char *line, struct flow *f)
{
	char dir[4], proto[4], la[64], ra[64], comm[32];
	unsigned lport, rport, conns, news;
	uint32_t pgid;
	int64_t first, last;
	int fam, fam2;

	if (sscanf(line, "%3s %3s %63s %u %63s %u %" SCNu32 " %31s %u %u %" SCNd64
		   " %" SCNd64, dir, proto, la, &lport, ra, &rport, &pgid, comm,
		   &conns, &news, &first, &last) != 12 ||
	    (strcmp(dir, "a") && strcmp(dir, "p")) ||
	    (strcmp(proto, "tcp") && strcmp(proto, "udp")) ||
	    lport > 65535 || rport > 65535 || strlen(comm) > 15)
		return -EINVAL;
	memset(f, 0, sizeof(*f));
	if (addr_parse(la, AF_UNSPEC, &fam, f->key.laddr) < 0 ||
	    addr_parse(ra, fam, &fam2, f->key.raddr) < 0)
		return -EINVAL;
	f->key.family = (uint8_t)fam;
	f->key.dir = dir[0] == 'p' ? SOCK_DIR_PASSIVE : SOCK_DIR_ACTIVE;
	f->key.proto = proto[0] == 't' ? IPPROTO_TCP : IPPROTO_UDP;
	f->key.lport = (uint16_t)lport;
	f->key.rport = (uint16_t)rport;
	f->key.netns = 4026531840u;
	f->key.pgid = pgid;
	memcpy(f->key.comm, comm, strlen(comm));
	f->pid = pgid;
	f->connections = conns;
	f->new_connections = news;
	f->first_seen_ms = first;
	f->last_seen_ms = last;
	return 0;
}

/* `flush`/`final` lines: where a batch ends. */
#define MAX_MARKS 64
struct mark {
	size_t end;
	bool final;
};

static int flush(struct cmdb *db, struct cmdb_batch *b, const struct flow *fl,
		 size_t m)
{
	bool doubt;
	b->seq++;
	int r = cmdb_store_flush(db, b, fl, m, &doubt);
	if (r != (int)m) {
		fprintf(stderr, "flush_flows: flush of %zu flows: %d (%s)\n", m,
			r, cmdb_last_error(db));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fputs("usage: flush_flows URL NODE BATCH BUCKET_S [INTERVAL_MS] "
		      "< FLOWS\n", stderr);
		return 2;
	}
	size_t batch = strtoul(argv[3], NULL, 10);
	struct cmdb_batch b = {
		.node_name = argv[2],
		.boot_id = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL),
		.kernel_boot = 1,
		.bucket_s = (uint32_t)strtoul(argv[4], NULL, 10),
		.interval_ms = argc == 6 ? strtoll(argv[5], NULL, 10) : 0,
	};
	if (batch == 0 || b.bucket_s == 0) {
		fputs("flush_flows: BATCH and BUCKET_S must be positive\n", stderr);
		return 2;
	}

	struct flow *fl = NULL;
	size_t n = 0, cap = 0, nmarks = 0;
	struct mark marks[MAX_MARKS];
	char line[512];
	while (fgets(line, sizeof(line), stdin)) {
		bool final = !strcmp(line, "final\n");
		if (final || !strcmp(line, "flush\n")) {
			if (nmarks == MAX_MARKS) {
				fputs("flush_flows: too many batches\n", stderr);
				return 2;
			}
			marks[nmarks++] = (struct mark){ .end = n, .final = final };
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			struct flow *g = realloc(fl, cap * sizeof(*fl));
			if (!g)
				return 1;
			fl = g;
		}
		if (parse_line(line, &fl[n]) < 0) {
			fprintf(stderr, "flush_flows: bad line %zu: %s", n + 1, line);
			return 2;
		}
		n++;
	}

	struct cmdb *db;
	char err[256];
	if (cmdb_connect(argv[1], &db, err, sizeof(err)) < 0) {
		fprintf(stderr, "flush_flows: %s\n", err);
		return 1;
	}
	int rc = 0;
	size_t off = 0;
	for (size_t i = 0; i < nmarks && rc == 0; i++) {
		b.final = marks[i].final;
		rc = flush(db, &b, fl + off, marks[i].end - off);
		off = marks[i].end;
	}
	b.final = false;
	for (; off < n && rc == 0; off += batch)
		rc = flush(db, &b, fl + off, n - off < batch ? n - off : batch);
	printf("flushed %zu flows in %" PRIu64 " batches\n", n, b.seq);
	cmdb_free(db);
	free(fl);
	return rc;
}
