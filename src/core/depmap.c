// SPDX-License-Identifier: MIT
#include "core/depmap.h"

#include "core/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DEPMAP_DEFAULT_MAX_NODES 100000

void depmap_init(struct depmap *m, enum depmap_level level, size_t max_nodes)
{
	*m = (struct depmap){ .level = level,
			      .max_nodes = max_nodes ? max_nodes
						     : DEPMAP_DEFAULT_MAX_NODES };
}

void depmap_clear(struct depmap *m)
{
	for (size_t i = 0; i < m->nn; i++) {
		struct depmap_node *n = &m->n[i];
		free(n->ns);
		free(n->wkind);
		free(n->name);
		free(n->addr);
		free(n->comm);
		free(n->key);
	}
	for (size_t i = 0; i < m->ne; i++)
		free(m->e[i].service);
	free(m->n);
	free(m->e);
	hindex_free(&m->nidx);
	hindex_free(&m->eidx);
	depmap_init(m, m->level, m->max_nodes);
}

static uint64_t str_hash(const char *s)
{
	return hash_bytes(s, strlen(s), 0x6d6170);
}

static uint64_t edge_hash(uint32_t c, uint32_t s, uint8_t proto,
			  uint16_t port)
{
	return hash_u64(((uint64_t)c << 32 | s) ^
			((uint64_t)proto << 16 | port) * 0x9e3779b97f4a7c15ULL);
}

static uint64_t node_hash_at(uint32_t i, const void *ud)
{
	const struct depmap *m = ud;
	return str_hash(m->n[i].key);
}

static uint64_t edge_hash_at(uint32_t i, const void *ud)
{
	const struct depmap *m = ud;
	const struct depmap_edge *e = &m->e[i];
	return edge_hash(e->client, e->server, e->proto, e->port);
}

struct node_probe {
	const struct depmap *m;
	const char *key;
};

static bool node_eq(uint32_t i, const void *key)
{
	const struct node_probe *p = key;
	return !strcmp(p->m->n[i].key, p->key);
}

struct edge_probe {
	const struct depmap *m;
	uint32_t client, server;
	uint8_t proto;
	uint16_t port;
};

static bool edge_eq(uint32_t i, const void *key)
{
	const struct edge_probe *p = key;
	const struct depmap_edge *e = &p->m->e[i];
	return e->client == p->client && e->server == p->server &&
	       e->proto == p->proto && e->port == p->port;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The node an end stands for at this level; added when new. */
static int node_get(struct depmap *m, const struct depmap_end *end,
		    uint32_t *ret)
{
	enum depmap_kind kind;
	_cleanup_(freep) char *key = NULL;
	int n;
	const char *comm = end->comm ? end->comm : "";
	if (end->pod_name && end->pod_namespace) {
		kind = m->level == DEPMAP_WORKLOAD && end->workload_kind &&
				       end->workload_name
			       ? DEPMAP_KIND_WORKLOAD
			       : DEPMAP_KIND_POD;
	} else {
		kind = DEPMAP_KIND_PROCESS;
	}
	if (kind == DEPMAP_KIND_WORKLOAD)
		n = asprintf(&key, "w\x1f%s\x1f%s\x1f%s", end->pod_namespace,
			     end->workload_kind, end->workload_name);
	else if (kind == DEPMAP_KIND_POD)
		n = asprintf(&key, "p\x1f%s\x1f%s", end->pod_namespace,
			     end->pod_name);
	else
		n = asprintf(&key, "h\x1f%s\x1f%s", end->addr, comm);
	if (n < 0) {
		key = NULL;
		return -ENOMEM;
	}
	uint64_t h = str_hash(key);
	uint32_t at = hindex_find(&m->nidx, h, node_eq,
				  &(struct node_probe){ m, key });
	if (at != HINDEX_NONE) {
		*ret = at;
		return 0;
	}
	if (m->nn >= m->max_nodes)
		return -E2BIG;
	if (hindex_reserve(&m->nidx, m->nn + 1, node_hash_at, m) < 0)
		return -ENOMEM;
	if (m->nn == m->cap_n) {
		size_t cap = m->cap_n ? m->cap_n * 2 : 64;
		struct depmap_node *t = realloc(m->n, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		m->n = t;
		m->cap_n = cap;
	}
	struct depmap_node *nd = &m->n[m->nn];
	*nd = (struct depmap_node){ .kind = kind };
	if (kind == DEPMAP_KIND_PROCESS) {
		nd->addr = dup_or_null(end->addr ? end->addr : "");
		nd->comm = strdup(comm);
		if (!nd->addr || !nd->comm)
			goto oom;
	} else {
		nd->ns = strdup(end->pod_namespace);
		nd->name = strdup(kind == DEPMAP_KIND_WORKLOAD
					  ? end->workload_name
					  : end->pod_name);
		if (!nd->ns || !nd->name)
			goto oom;
		if (kind == DEPMAP_KIND_WORKLOAD &&
		    !(nd->wkind = strdup(end->workload_kind)))
			goto oom;
	}
	nd->key = TAKE_PTR(key);
	hindex_add(&m->nidx, h, (uint32_t)m->nn);
	*ret = (uint32_t)m->nn++;
	return 0;
oom:
	free(nd->ns);
	free(nd->name);
	free(nd->wkind);
	free(nd->addr);
	free(nd->comm);
	return -ENOMEM;
}

int depmap_add(struct depmap *m, const struct depmap_end *client,
	       const struct depmap_end *server, uint8_t proto, uint16_t port,
	       uint64_t connections, int64_t last_seen_ms)
{
	return depmap_add_via(m, client, server, proto, port, connections,
			      last_seen_ms, NULL, NULL);
}

/* Names e's Service unless it has one. Returns 0 or -ENOMEM. */
static int edge_service(struct depmap_edge *e, const char *ns,
			const char *name)
{
	if (e->service || !name)
		return 0;
	if (asprintf(&e->service, "%s/%s", ns ? ns : "", name) < 0) {
		e->service = NULL;
		return -ENOMEM;
	}
	return 0;
}

int depmap_add_via(struct depmap *m, const struct depmap_end *client,
		   const struct depmap_end *server, uint8_t proto,
		   uint16_t port, uint64_t connections, int64_t last_seen_ms,
		   const char *svc_ns, const char *svc_name)
{
	uint32_t c, s;
	int r;
	if ((r = node_get(m, client, &c)) < 0 ||
	    (r = node_get(m, server, &s)) < 0)
		return r;
	uint64_t h = edge_hash(c, s, proto, port);
	uint32_t at = hindex_find(&m->eidx, h, edge_eq,
				  &(struct edge_probe){ m, c, s, proto, port });
	if (at != HINDEX_NONE) {
		struct depmap_edge *e = &m->e[at];
		e->connections += connections;
		if (last_seen_ms > e->last_seen_ms)
			e->last_seen_ms = last_seen_ms;
		return edge_service(e, svc_ns, svc_name);
	}
	if (m->ne >= m->max_nodes * 4)
		return -E2BIG;
	if ((r = hindex_reserve(&m->eidx, m->ne + 1, edge_hash_at, m)) < 0)
		return r;
	if (m->ne == m->cap_e) {
		size_t cap = m->cap_e ? m->cap_e * 2 : 64;
		struct depmap_edge *t = realloc(m->e, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		m->e = t;
		m->cap_e = cap;
	}
	m->e[m->ne] = (struct depmap_edge){ .client = c,
					    .server = s,
					    .proto = proto,
					    .port = port,
					    .connections = connections,
					    .last_seen_ms = last_seen_ms };
	if ((r = edge_service(&m->e[m->ne], svc_ns, svc_name)) < 0)
		return r;
	hindex_add(&m->eidx, h, (uint32_t)m->ne++);
	return 0;
}

static bool eq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

size_t depmap_root_workload(struct depmap *m, const char *ns,
			    const char *kind, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < m->nn; i++) {
		struct depmap_node *n = &m->n[i];
		if (n->kind == DEPMAP_KIND_WORKLOAD && eq(n->ns, ns) &&
		    eq(n->wkind, kind) && eq(n->name, name))
			n->root = true, k++;
	}
	return k;
}

size_t depmap_root_pod(struct depmap *m, const char *ns, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < m->nn; i++) {
		struct depmap_node *n = &m->n[i];
		if (n->kind == DEPMAP_KIND_POD && eq(n->ns, ns) &&
		    eq(n->name, name))
			n->root = true, k++;
	}
	return k;
}

size_t depmap_root_addr(struct depmap *m, const char *addr)
{
	size_t k = 0;
	for (size_t i = 0; i < m->nn; i++) {
		struct depmap_node *n = &m->n[i];
		if (n->kind == DEPMAP_KIND_PROCESS && eq(n->addr, addr))
			n->root = true, k++;
	}
	return k;
}

static bool in_ns(const struct depmap *m, const struct depmap_edge *e,
		  const char *ns)
{
	return !ns || eq(m->n[e->client].ns, ns) || eq(m->n[e->server].ns, ns);
}

/* One direction of the walk: callers (into) or callees. */
static int walk(struct depmap *m, const char *ns, int depth, bool into,
		size_t *marked)
{
	_cleanup_(freep) uint8_t *level = calloc(m->nn ? m->nn : 1, 1);
	if (!level)
		return -ENOMEM;
	/* level[i]: 1 + the level at which node i was reached. */
	for (size_t i = 0; i < m->nn; i++)
		if (m->n[i].root)
			level[i] = 1;
	for (int d = 1; d <= depth; d++) {
		bool more = false;
		for (size_t i = 0; i < m->ne; i++) {
			struct depmap_edge *e = &m->e[i];
			uint32_t from = into ? e->server : e->client;
			uint32_t to = into ? e->client : e->server;
			if (level[from] != d || !in_ns(m, e, ns))
				continue;
			if (!e->used)
				e->used = true, (*marked)++;
			if (!level[to]) {
				level[to] = (uint8_t)(d + 1);
				more = true;
			}
		}
		if (!more)
			break;
	}
	return 0;
}

size_t depmap_select(struct depmap *m, const char *ns, int depth)
{
	size_t marked = 0;
	bool roots = false;
	for (size_t i = 0; i < m->nn; i++) {
		m->n[i].used = m->n[i].root;
		roots |= m->n[i].root;
	}
	for (size_t i = 0; i < m->ne; i++)
		m->e[i].used = false;
	if (!roots) {
		for (size_t i = 0; i < m->ne; i++)
			if (in_ns(m, &m->e[i], ns))
				m->e[i].used = true, marked++;
	} else if (depth > 0 && depth < 250) {
		/* On OOM the map shows the roots alone. */
		(void)walk(m, ns, depth, true, &marked);
		(void)walk(m, ns, depth, false, &marked);
	}
	for (size_t i = 0; i < m->ne; i++)
		if (m->e[i].used)
			m->n[m->e[i].client].used = m->n[m->e[i].server].used =
				true;
	return marked;
}
