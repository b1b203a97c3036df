// SPDX-License-Identifier: MIT
/*
 * The pure half of the agent's endpoints (agent/metrics.c serves them):
 * the workload index (pods by uid and by address), the labels of a flow's
 * dependency series, and the /healthz judgement.
 */
#include "agent/metrics.h"

#include "core/addr.h"
#include "core/hindex.h"
#include "core/util.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define MIN(a, b) ((a) < (b) ? (a) : (b))

const char *const agent_metrics_conn_keys[CONN_L_N] = {
	[CONN_L_DIRECTION] = "direction",
	[CONN_L_CLIENT_NS] = "client_namespace",
	[CONN_L_CLIENT_WORKLOAD] = "client_workload",
	[CONN_L_SERVER_NS] = "server_namespace",
	[CONN_L_SERVER_WORKLOAD] = "server_workload",
	[CONN_L_SERVER_PORT] = "server_port",
	[CONN_L_PROTO] = "proto",
};

/* ---- pods by uid and by address ----------------------------------------- */

struct wl_entry {
	char *key; /* uid, or "a:" + address */
	char *ns;
	char *workload;
};

struct workload_index {
	struct wl_entry *e;
	size_t n, cap;
	struct hindex idx; /* over e, by key */
};

struct workload_index *workload_index_new(void)
{
	return calloc(1, sizeof(struct workload_index));
}

void workload_index_clear(struct workload_index *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free(x->e[i].key);
		free(x->e[i].ns);
		free(x->e[i].workload);
	}
	x->n = 0;
	hindex_clear(&x->idx);
}

void workload_index_free(struct workload_index *x)
{
	if (!x)
		return;
	workload_index_clear(x);
	free(x->e);
	hindex_free(&x->idx);
	free(x);
}

static uint64_t wl_hash(const char *k)
{
	return hash_bytes(k, strlen(k), 0x776c);
}

static uint64_t wl_hash_at(uint32_t i, const void *ud)
{
	const struct workload_index *x = ud;
	return wl_hash(x->e[i].key);
}

/* What the index compares an entry with. */
struct wl_probe {
	const struct workload_index *x;
	const char *key;
};

static bool wl_eq(uint32_t i, const void *key)
{
	const struct wl_probe *p = key;
	return !strcmp(p->x->e[i].key, p->key);
}

static const struct wl_entry *wl_find(const struct workload_index *x,
				      const char *key)
{
	if (!x)
		return NULL;
	uint32_t at = hindex_find(&x->idx, wl_hash(key), wl_eq,
				  &(struct wl_probe){ x, key });
	return at == HINDEX_NONE ? NULL : &x->e[at];
}

static int wl_put(struct workload_index *x, const char *key, const char *ns,
		  const char *workload)
{
	if (wl_find(x, key))
		return 0; /* first one wins: an address reused by two pods */
	if (x->n == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 64;
		struct wl_entry *e = realloc(x->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		x->e = e;
		x->cap = cap;
	}
	if (hindex_reserve(&x->idx, x->n + 1, wl_hash_at, x) < 0)
		return -ENOMEM;
	struct wl_entry *e = &x->e[x->n];
	e->key = strdup(key);
	e->ns = strdup(ns);
	e->workload = strdup(workload);
	if (!e->key || !e->ns || !e->workload) {
		free(e->key);
		free(e->ns);
		free(e->workload);
		return -ENOMEM;
	}
	hindex_add(&x->idx, wl_hash(key), (uint32_t)x->n++);
	return 0;
}

int workload_index_add(struct workload_index *x, const struct pod *p)
{
	char wl[512], key[ADDR_STRLEN + 2];
	if (!p->uid || !p->namespace || !p->name)
		return 0;
	if (p->workload_kind && p->workload_name)
		snprintf(wl, sizeof(wl), "%s/%s", p->workload_kind,
			 p->workload_name);
	else
		snprintf(wl, sizeof(wl), "Pod/%s", p->name);
	int r = wl_put(x, p->uid, p->namespace, wl);
	/* A host-network pod has the node's address: not its own. */
	for (size_t i = 0; r == 0 && !p->host_network && i < p->n_ips; i++) {
		uint8_t a[16];
		int fam;
		if (!p->ips[i] || addr_parse(p->ips[i], AF_UNSPEC, &fam, a) < 0)
			continue;
		key[0] = 'a';
		key[1] = ':';
		addr_format(fam, a, key + 2);
		r = wl_put(x, key, p->namespace, wl);
	}
	return r;
}

/* ---- labels of one flow -------------------------------------------------- */

static bool addr_zero(const uint8_t a[16])
{
	static const uint8_t z[16];
	return !memcmp(a, z, 16);
}

void agent_metrics_flow_labels(const struct flow *f,
			       const struct workload_index *x,
			       const char *v[CONN_L_N], char *buf,
			       size_t bufsz)
{
	const struct flow_key *k = &f->key;
	bool passive = k->dir == SOCK_DIR_PASSIVE;
	char la[ADDR_STRLEN], pa[ADDR_STRLEN + 2];
	const char *local_ns = "", *local_wl, *peer_ns = "", *peer_wl;
	size_t used = 0;

	addr_format(k->family, k->laddr, la);
	/* A source-NATed client of a passive flow: the original one. */
	const uint8_t *peer = passive && !addr_zero(k->nat_addr) ? k->nat_addr
								 : k->raddr;
	pa[0] = 'a';
	pa[1] = ':';
	addr_format(k->family, peer, pa + 2);

	const struct wl_entry *e = f->pod_uid ? wl_find(x, f->pod_uid) : NULL;
	if (e) {
		local_ns = e->ns;
		local_wl = e->workload;
	} else if (f->pod_name) {
		local_ns = f->pod_namespace ? f->pod_namespace : "";
		int n = snprintf(buf, bufsz, "Pod/%s", f->pod_name);
		local_wl = buf;
		used = n > 0 ? MIN((size_t)n + 1, bufsz) : 0;
	} else {
		char comm[sizeof(k->comm) + 1];
		memcpy(comm, k->comm, sizeof(k->comm));
		comm[sizeof(k->comm)] = '\0';
		int n = snprintf(buf, bufsz, "%s@%s", *comm ? comm : "?", la);
		local_wl = buf;
		used = n > 0 ? MIN((size_t)n + 1, bufsz) : 0;
	}
	if ((e = wl_find(x, pa))) {
		peer_ns = e->ns;
		peer_wl = e->workload;
	} else {
		peer_wl = pa + 2;
	}
	/* pa lives on our stack: the peer's address goes into buf too. */
	if (peer_wl == pa + 2) {
		char *dst = buf + used;
		size_t left = bufsz > used ? bufsz - used : 0;
		if (left) {
			strscpy(dst, pa + 2, left);
			peer_wl = dst;
			used += strlen(dst) + 1;
		} else {
			peer_wl = "";
		}
	}
	char *port = buf + used;
	size_t left = bufsz > used ? bufsz - used : 0;
	if (left)
		snprintf(port, left, "%u",
			 (unsigned)(passive ? k->lport : k->rport));
	v[CONN_L_DIRECTION] = passive ? "passive" : "active";
	v[CONN_L_CLIENT_NS] = passive ? peer_ns : local_ns;
	v[CONN_L_CLIENT_WORKLOAD] = passive ? peer_wl : local_wl;
	v[CONN_L_SERVER_NS] = passive ? local_ns : peer_ns;
	v[CONN_L_SERVER_WORKLOAD] = passive ? local_wl : peer_wl;
	v[CONN_L_SERVER_PORT] = left ? port : "";
	v[CONN_L_PROTO] = k->proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* ---- health -------------------------------------------------------------- */

bool agent_health_check(const struct agent_health_state *s, int64_t now_ms,
			char *why, size_t whysz)
{
	if (s->flush_since_ms && now_ms - s->flush_since_ms >= s->stall_ms) {
		snprintf(why, whysz,
			 "flush to %s running for %.1fs (bound %.1fs)",
			 s->flush_sink ? s->flush_sink : "a sink",
			 (double)(now_ms - s->flush_since_ms) / 1000,
			 (double)s->stall_ms / 1000);
		return false;
	}
	int64_t since = s->last_scan_ok_ms ? s->last_scan_ok_ms : s->started_ms;
	int64_t bound = s->interval_ms + s->stall_ms;
	if (now_ms - since > bound) {
		int n = snprintf(why, whysz, "no successful scan for %.1fs "
				 "(interval %.1fs, bound %.1fs)",
				 (double)(now_ms - since) / 1000,
				 (double)s->interval_ms / 1000,
				 (double)bound / 1000);
		if (s->last_scan_err && n > 0 && (size_t)n < whysz)
			snprintf(why + n, whysz - (size_t)n,
				 ": last scan failed: %s",
				 strerror(-s->last_scan_err));
		return false;
	}
	return true;
}

