// SPDX-License-Identifier: MIT
#include "agent/sink_cmdb.h"

#include "agent/pending.h"
#include "cmdb/delta.h"
#include "cmdb/pg.h"
#include "cmdb/pods_store.h"
#include "cmdb/prune.h"
#include "cmdb/store.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/log.h"
#include "core/util.h"
#include "k8s/podwatch.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

struct cmdb_sink {
	struct sink base;
	const struct probe_config *cfg;
	const struct sink_cmdb_ops *ops;
	char node_name[256];
	struct cmdb *db;
	/* What a lost connection owed a history bucket's row, for the next
	 * (cmdb/delta.h). */
	struct cmdb_owed *owed;
	/* Not yet delivered, merged by key. */
	struct pending *acc;
	/* A batch whose COMMIT went unacknowledged: retried first, with its
	 * own seq, so the server can tell whether it already has it. */
	struct pending *doubt;
	uint64_t doubt_seq;
	uint64_t boot_id, seq;
	uint64_t kernel_boot; /* hash of the node's boot_id: see store.h */
	/* Outage state, for one log line per change. */
	bool ever_up, down;
	int64_t down_since_ms; /* monotonic */
	int64_t next_try_ms;   /* monotonic */
	int64_t backoff_ms;
	_Atomic bool cancelled;
	uint64_t dropped_logged;
	uint64_t writes, write_failures; /* flushes of flows, for stats() */
	uint64_t abandoned;		 /* flushes given up at the deadline */
	uint64_t pods_skipped;		 /* invalid pods not written */
	bool abandon_logged;		 /* in this outage */
	struct cmdb_limits limits;	 /* cancel_fd: eventfd, see cancel() */
	/* Scratch for the fast path: this interval's flows minus loopback. */
	struct flow *scratch;
	size_t scratch_cap;
	/* This node's pods, recorded after each write. */
	struct pod_watch *pods;
	int pods_err; /* last result, for one log line per change */
	int64_t next_prune_ms; /* monotonic: the next retention attempt */
	uint64_t pruned_partitions, pruned_rows;
	uint64_t services_gen; /* the Services list written last */
	int services_err;
};

static size_t pending_total(const struct cmdb_sink *c)
{
	return pending_count(c->acc) + pending_count(c->doubt);
}

/* Frees the connection, keeping what it owed. */
static void drop_db(struct cmdb_sink *c)
{
	if (c->db && c->ops->take_owed && !c->owed)
		c->owed = c->ops->take_owed(c->db);
	c->ops->free(c->db);
	c->db = NULL;
}

static void mark_down(struct cmdb_sink *c, const char *why_in)
{
	int64_t now = c->ops->now_ms();
	char why[256];
	/* why_in usually points into c->db's error buffer: copy it before
	 * the connection (and the buffer) is freed. */
	strscpy(why, why_in ? why_in : "unknown error", sizeof(why));
	drop_db(c);
	if (!c->down) {
		c->down = true;
		c->down_since_ms = now;
		c->backoff_ms = BACKOFF_MIN_MS;
		log_warn("CMDB unreachable (%s): keeping flows in memory (at "
			 "most %llu) and retrying with backoff",
			 why, (unsigned long long)c->cfg->max_pending_flows);
	} else {
		c->backoff_ms *= 2;
		if (c->backoff_ms > BACKOFF_MAX_MS)
			c->backoff_ms = BACKOFF_MAX_MS;
		log_debug("CMDB still unreachable (%s), next try in %lldms",
			  why, (long long)c->backoff_ms);
	}
	c->next_try_ms = now + c->backoff_ms;
}

static int ensure_connected(struct cmdb_sink *c)
{
	char err[256] = "";
	if (c->ops->is_connected(c->db))
		return 0;
	drop_db(c);
	int r = c->ops->connect(c->cfg->cmdb_url, &c->limits, &c->db, err,
				sizeof(err));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		mark_down(c, err);
		return r;
	}
	if (c->owed && c->ops->give_owed)
		c->ops->give_owed(c->db, c->owed);
	else
		cmdb_owed_free(c->owed);
	c->owed = NULL;
	if (!c->ever_up)
		log_info("connected to the CMDB as node %s", c->node_name);
	c->ever_up = true;
	return 0;
}

/* Flows owed their row, by the connection or a lost one (delta.h). */
static bool owes(const struct cmdb_sink *c)
{
	return c->owed || (c->db && c->ops->owes && c->ops->owes(c->db));
}

/* Writes one batch; on failure decides between "retry later" and "down". */
static int write_batch(struct cmdb_sink *c, const struct flow *flows,
		       size_t n, uint64_t seq, bool final, bool *ret_in_doubt)
{
	struct cmdb_batch b = {
		.node_name = c->node_name,
		.boot_id = c->boot_id,
		.seq = seq,
		.kernel_boot = c->kernel_boot,
		.bucket_s = (uint32_t)(c->cfg->history_bucket_ms / 1000),
		.retention_ms = c->cfg->retention_ms,
		.interval_ms = c->cfg->flush_interval_ms,
		.final = final,
	};
	int r = c->ops->flush(c->db, &b, flows, n, ret_in_doubt);
	c->writes++;
	if (r >= 0 || r == -EALREADY)
		return 0;
	c->write_failures++;
	if (r == -ETIMEDOUT) {
		c->abandoned++;
		if (!c->abandon_logged)
			log_warn("CMDB flush abandoned: %s; its %zu flows stay "
				 "pending%s",
				 c->ops->last_error(c->db), n,
				 *ret_in_doubt ? " (in doubt: retried as the "
						 "same batch)" :
						 "");
		c->abandon_logged = true;
		mark_down(c, c->ops->last_error(c->db));
	} else if (r == -ENOTCONN) {
		mark_down(c, c->ops->last_error(c->db));
	} else {
		/* Connected but refused (schema missing, ...): keep the
		 * flows and retry on the same backoff as an outage. */
		log_warn("CMDB write failed: %s", c->ops->last_error(c->db));
		mark_down(c, "write refused");
	}
	return r;
}

static void log_recovery(struct cmdb_sink *c, size_t delivered)
{
	if (c->down) {
		log_info("CMDB reachable again after %llds: wrote %zu "
			 "buffered flows",
			 (long long)(c->ops->now_ms() - c->down_since_ms) /
				 1000,
			 delivered);
		c->down = false;
	}
	c->abandon_logged = false;
	c->backoff_ms = BACKOFF_MIN_MS;
}

/* Delivers the doubt batch, then acc (or `direct` when acc is empty): of
 * no flows, only a final batch (the drain's, store.h) when rows are owed. */
static int deliver(struct cmdb_sink *c, const struct flow *direct,
		   size_t ndirect, bool final, bool *ret_direct_kept)
{
	bool in_doubt;
	size_t delivered = 0;
	int r;

	*ret_direct_kept = false;
	if ((r = ensure_connected(c)) < 0)
		return r;
	if (pending_count(c->doubt)) {
		r = write_batch(c, pending_flows(c->doubt),
				pending_count(c->doubt), c->doubt_seq, false,
				&in_doubt);
		if (r < 0)
			return r; /* still in doubt: same seq next time */
		delivered += pending_count(c->doubt);
		pending_clear(c->doubt);
	}
	const struct flow *flows = direct;
	size_t n = ndirect;
	if (pending_count(c->acc)) {
		flows = pending_flows(c->acc);
		n = pending_count(c->acc);
	}
	if (n == 0 && !(final && owes(c))) {
		log_recovery(c, delivered);
		return 0;
	}
	uint64_t seq = ++c->seq;
	r = write_batch(c, flows, n, seq, final, &in_doubt);
	if (r < 0) {
		if (in_doubt && flows != direct) {
			pending_swap(c->acc, c->doubt);
			c->doubt_seq = seq;
		} else if (in_doubt) {
			/* Direct flows go straight to the doubt set. */
			for (size_t i = 0; i < n; i++)
				if (pending_add(c->doubt, &flows[i],
						c->cfg->max_pending_flows) < 0)
					return -ENOMEM;
			c->doubt_seq = seq;
			*ret_direct_kept = true;
		}
		return r;
	}
	delivered += n;
	if (flows != direct)
		pending_clear(c->acc);
	log_recovery(c, delivered);
	return 0;
}

static int keep(struct cmdb_sink *c, const struct flow *flows, size_t n)
{
	size_t limit = c->cfg->max_pending_flows > pending_count(c->doubt)
			       ? c->cfg->max_pending_flows -
					 pending_count(c->doubt)
			       : 1;
	for (size_t i = 0; i < n; i++)
		if (pending_add(c->acc, &flows[i], limit) < 0)
			return -ENOMEM;
	uint64_t dropped = pending_dropped(c->acc) + pending_dropped(c->doubt);
	if (dropped != c->dropped_logged) {
		log_warn("CMDB buffer full (--max-pending-flows %llu): dropped "
			 "%llu oldest flows so far",
			 (unsigned long long)c->cfg->max_pending_flows,
			 (unsigned long long)dropped);
		c->dropped_logged = dropped;
	}
	return 0;
}

struct pod_rows_ctx {
	struct cmdb_pod_rows rows;
	bool full;
	size_t invalid;
};

static void pod_rows_add(const struct pod *p, void *ud)
{
	struct pod_rows_ctx *x = ud;
	int r = cmdb_pod_rows_add(&x->rows, p);
	if (r == -ENOSPC)
		x->full = true;
	else if (r == -EINVAL)
		x->invalid++;
}

/*
 * The pod list is state, not history: a write that fails is not kept,
 * the next interval writes the list again. Kept apart from the flow
 * flush so a pods problem never holds flows back.
 */
static void write_pods(struct cmdb_sink *c, int64_t now_ms)
{
	struct pod_rows_ctx x = { .full = false };
	int r;

	if (!c->pods || c->down || !c->ops->is_connected(c->db))
		return;
	cmdb_pod_rows_init(&x.rows, 0);
	pod_watch_foreach(c->pods, pod_rows_add, &x);
	c->pods_skipped += x.invalid;
	r = c->ops->store_pods(c->db, c->node_name, &x.rows, now_ms);
	cmdb_pod_rows_clear(&x.rows);
	if (r == -ENOTCONN || r == -ETIMEDOUT) {
		mark_down(c, c->ops->last_error(c->db));
		return;
	}
	int err = r < 0 ? r : 0;
	if (err != c->pods_err) {
		if (err)
			log_warn("CMDB: cannot record pods: %s",
				 err == -ENOMEM ? "out of memory"
						: c->ops->last_error(c->db));
		else
			log_info("CMDB: recording this node's pods again");
		c->pods_err = err;
	}
	if (r > 0)
		log_debug("CMDB: recorded %d pods%s", r,
			  x.full ? " (pod bound reached)" : "");
}

struct service_rows_ctx {
	struct cmdb_service_rows rows;
	bool full;
};

static void service_rows_add(const struct service *sv, void *ud)
{
	struct service_rows_ctx *x = ud;
	if (cmdb_service_rows_add(&x->rows, sv) == -ENOSPC)
		x->full = true;
}

/*
 * The Services list, once per list the pod watch fetched (every agent
 * writes the cluster's list: each refresh, not each flush). A failed
 * write is retried with the next flush.
 */
static void write_services(struct cmdb_sink *c, int64_t now_ms)
{
	struct service_rows_ctx x = { .full = false };
	int r;

	if (!c->pods || c->down || !c->ops->store_services ||
	    !c->ops->is_connected(c->db))
		return;
	cmdb_service_rows_init(&x.rows, 0);
	uint64_t gen = pod_watch_foreach_service(c->pods, service_rows_add, &x);
	if (gen == 0 || gen == c->services_gen) {
		cmdb_service_rows_clear(&x.rows);
		return;
	}
	r = c->ops->store_services(c->db, &x.rows, now_ms);
	cmdb_service_rows_clear(&x.rows);
	if (r == -ENOTCONN) {
		mark_down(c, c->ops->last_error(c->db));
		return;
	}
	int err = r < 0 ? r : 0;
	if (err != c->services_err) {
		if (err)
			log_warn("CMDB: cannot record Services: %s",
				 err == -ENOMEM ? "out of memory"
						: c->ops->last_error(c->db));
		else
			log_info("CMDB: recording Services again");
		c->services_err = err;
	}
	if (r >= 0) {
		c->services_gen = gen;
		log_debug("CMDB: recorded %d Services%s", r,
			  x.full ? " (bound reached)" : "");
	}
}

void sink_cmdb_set_pods(struct sink *s, struct pod_watch *w)
{
	((struct cmdb_sink *)s)->pods = w;
}

static int cmdb_sink_write_flows(struct sink *s, const struct flow *flows, size_t n,
			   int64_t now_ms)
{
	struct cmdb_sink *c = (struct cmdb_sink *)s;
	size_t m = 0;
	bool kept = false;
	(void)now_ms;

	if (n > c->scratch_cap) {
		struct flow *ns = realloc(c->scratch, n * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		c->scratch = ns;
		c->scratch_cap = n;
	}
	/* Shallow copies: the flows are only borrowed for this call. */
	for (size_t i = 0; i < n; i++)
		if (c->cfg->include_loopback || !flow_is_loopback(&flows[i]))
			c->scratch[m++] = flows[i];

	/* Queue behind what is already waiting, so batches stay in order. */
	if (pending_total(c)) {
		if (keep(c, c->scratch, m) < 0)
			return -ENOMEM;
		m = 0;
	}
	if (c->down && c->ops->now_ms() < c->next_try_ms)
		return keep(c, c->scratch, m);
	if (m == 0 && pending_total(c) == 0)
		return 0;
	int r = deliver(c, c->scratch, m, false, &kept);
	if (r == -ENOMEM)
		return r;
	if (r < 0 && !kept && m)
		return keep(c, c->scratch, m);
	return 0;
}

/*
 * Retention, between flushes: one bounded batch (shawk_prune) when due.
 * The database keeps it to one agent at a time (an advisory lock) and to
 * once an hour for the fleet; an agent asks every PRUNE_POLL_MS, or at
 * its next flush while old rows remain.
 */
#define PRUNE_POLL_MS (5 * 60 * 1000)
#define PRUNE_EVERY_MS (60 * 60 * 1000)
#define PRUNE_BATCH 5000

static void maybe_prune(struct cmdb_sink *c)
{
	struct cmdb_prune_result res;
	int64_t now = c->ops->now_ms();
	if (!c->ops->prune || c->cfg->retention_ms <= 0 ||
	    now < c->next_prune_ms)
		return;
	c->next_prune_ms = now + PRUNE_POLL_MS;
	int r = c->ops->prune(c->db, c->cfg->retention_ms, PRUNE_BATCH,
			      PRUNE_EVERY_MS, &res);
	if (r < 0) {
		log_debug("CMDB: retention: %s", c->ops->last_error(c->db));
		return;
	}
	if (res.skipped)
		return;
	c->pruned_partitions += (uint64_t)res.partitions;
	c->pruned_rows += (uint64_t)res.deleted;
	if (res.partitions || res.deleted)
		log_info("CMDB: retention dropped %d history partitions and "
			 "%lld rows%s",
			 res.partitions, (long long)res.deleted,
			 res.more ? ", more to go" : "");
	if (res.more && (res.partitions || res.deleted))
		c->next_prune_ms = now;
}

static int cmdb_sink_write(struct sink *s, const struct flow *flows, size_t n,
			   int64_t now_ms)
{
	struct cmdb_sink *c = (struct cmdb_sink *)s;
	int r = cmdb_sink_write_flows(s, flows, n, now_ms);
	if (r == -ENOMEM)
		return r;
	if (c->pods && !c->down && ensure_connected(c) == 0) {
		write_pods(c, now_ms);
		write_services(c, now_ms);
	}
	if (!c->down && c->db && c->ops->is_connected(c->db))
		maybe_prune(c);
	return r;
}

static int cmdb_sink_drain(struct sink *s, int64_t deadline_ms)
{
	struct cmdb_sink *c = (struct cmdb_sink *)s;
	bool kept;
	/* The last flush is final: no later one would send the flows owed
	 * their bucket's row (cmdb/delta.h); with the flows held, or alone. */
	while (pending_total(c) || owes(c)) {
		int r = deliver(c, NULL, 0, true, &kept);
		if (r == -ENOMEM)
			return r;
		if (r == 0)
			break;
		int64_t now = c->ops->now_ms();
		if (now + c->backoff_ms >= deadline_ms || c->cancelled) {
			log_warn("CMDB: %zu flows not delivered%s",
				 pending_total(c), owes(c) ? ", nor owed" : "");
			return -ETIMEDOUT;
		}
		c->ops->sleep_ms(c->backoff_ms);
	}
	return 0;
}

static void cmdb_sink_cancel(struct sink *s)
{
	struct cmdb_sink *c = (struct cmdb_sink *)s;
	uint64_t one = 1;
	c->cancelled = true;
	if (c->limits.cancel_fd >= 0 &&
	    write(c->limits.cancel_fd, &one, sizeof(one)) < 0)
		log_debug("cmdb: cancel: %s", strerror(errno));
}

static void cmdb_sink_stats(const struct sink *s, stat_fn fn, void *ud)
{
	const struct cmdb_sink *c = (const struct cmdb_sink *)s;
	fn("up", STAT_GAUGE, c->ever_up && !c->down,
	   "1 while the CMDB takes writes", ud);
	fn("writes", STAT_COUNTER, c->writes, "flush transactions tried", ud);
	fn("write_failures", STAT_COUNTER, c->write_failures,
	   "flush transactions that failed", ud);
	fn("pending_flows", STAT_GAUGE, pending_total(c),
	   "flows buffered for the CMDB", ud);
	fn("in_doubt_flows", STAT_GAUGE, pending_count(c->doubt),
	   "flows of a batch whose commit went unacknowledged", ud);
	fn("pods_skipped", STAT_COUNTER, c->pods_skipped,
	   "pods not written: they break Kubernetes' limits", ud);
	fn("abandoned_flushes", STAT_COUNTER, c->abandoned,
	   "flushes given up at the CMDB deadline (flows kept)", ud);
	fn("dropped_flows", STAT_COUNTER,
	   pending_dropped(c->acc) + pending_dropped(c->doubt),
	   "buffered flows dropped: buffer full", ud);
	fn("pruned_partitions", STAT_COUNTER, c->pruned_partitions,
	   "history partitions dropped by retention", ud);
	fn("pruned_rows", STAT_COUNTER, c->pruned_rows,
	   "flows, nodes and pods rows deleted by retention", ud);
}

static void cmdb_sink_free(struct sink *s)
{
	struct cmdb_sink *c = (struct cmdb_sink *)s;
	c->ops->free(c->db);
	cmdb_owed_free(c->owed);
	if (c->limits.cancel_fd >= 0)
		close(c->limits.cancel_fd);
	pending_free(c->acc);
	pending_free(c->doubt);
	free(c->scratch);
	free(c);
}

/*
 * The node's boot, for connection identities that hold across agent
 * processes (and never across boots: socket cookies start again). Without
 * the file, this process's own random id: nothing is then recognised from
 * an earlier process, and nothing is mistaken either.
 */
static uint64_t read_kernel_boot(const char *host_proc, uint64_t fallback)
{
	char path[PATH_MAX], buf[64];
	snprintf(path, sizeof(path), "%s/sys/kernel/random/boot_id",
		 host_proc ? host_proc : "/proc");
	int n = file_read(path, buf, sizeof(buf));
	if (n < 32) {
		log_warn("cannot read %s (%s): connections held across an agent "
			 "restart will be counted again",
			 path, n < 0 ? strerror(-n) : "too short");
		return fallback;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	return hash_bytes(buf, (size_t)n, 0x73686177);
}

struct sink *sink_cmdb_new_ops(const struct probe_config *cfg,
			       const struct sink_cmdb_ops *ops)
{
	struct cmdb_sink *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base.name = "cmdb";
	c->base.write = cmdb_sink_write;
	c->base.drain = cmdb_sink_drain;
	c->base.cancel = cmdb_sink_cancel;
	c->base.stats = cmdb_sink_stats;
	c->base.free = cmdb_sink_free;
	c->cfg = cfg;
	c->ops = ops;
	c->limits.timeout_ms = cfg->cmdb_timeout_ms;
	c->limits.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->limits.cancel_fd < 0)
		log_debug("cmdb: no eventfd (%s): shutdown waits for the "
			  "deadline", strerror(errno));
	c->backoff_ms = BACKOFF_MIN_MS;
	if (cfg->node_name)
		strscpy(c->node_name, cfg->node_name, sizeof(c->node_name));
	else if (gethostname(c->node_name, sizeof(c->node_name) - 1) < 0)
		strscpy(c->node_name, "unknown", sizeof(c->node_name));
	/* Not secret, only distinct per probe process. */
	if (getrandom(&c->boot_id, sizeof(c->boot_id), GRND_NONBLOCK) !=
	    sizeof(c->boot_id))
		c->boot_id = hash_u64((uint64_t)now_realtime_ms() ^
				      (uint64_t)getpid());
	c->kernel_boot = read_kernel_boot(cfg->host_proc, c->boot_id);
	c->acc = pending_new();
	c->doubt = pending_new();
	if (!c->acc || !c->doubt) {
		cmdb_sink_free(&c->base);
		return NULL;
	}
	return &c->base;
}
