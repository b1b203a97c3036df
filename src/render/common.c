// SPDX-License-Identifier: MIT
#include "render/common.h"

#include "core/addr.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static int is_ctrl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

void escape_terminal(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* C1 controls arrive UTF-8 encoded as 0xC2 0x80..0x9F. */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', out);
			p++;
			continue;
		}
		fputc(is_ctrl(*p) ? '?' : *p, out);
	}
}

void escape_terminal_buf(char *buf, size_t bufsz, const char *s)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s;
	     *p && o + 1 < bufsz; p++) {
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			buf[o++] = '?';
			p++;
			continue;
		}
		buf[o++] = is_ctrl(*p) ? '?' : (char)*p;
	}
	buf[o] = '\0';
}

void escape_dot(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', out);
		if (*p == '\n')
			fputs("\\n", out);
		else if (is_ctrl(*p))
			fputc('?', out);
		else
			fputc(*p, out);
	}
}

void render_endpoint(char *buf, size_t bufsz, int family,
		     const uint8_t addr[16], uint16_t port)
{
	char a[ADDR_STRLEN];
	char p[8];
	addr_format(family, addr, a);
	if (port)
		snprintf(p, sizeof(p), "%u", port);
	else
		strcpy(p, "many");
	if (family == AF_INET6)
		snprintf(buf, bufsz, "[%s]:%s", a, p);
	else
		snprintf(buf, bufsz, "%s:%s", a, p);
}

const char *render_proto_name(uint8_t proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

void render_time_ms(char *buf, size_t bufsz, int64_t ms)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char date[24];
	gmtime_r(&s, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, bufsz, "%s.%03dZ", date, (int)(ms % 1000));
}

void render_age(char *buf, size_t bufsz, int64_t now_ms, int64_t ms)
{
	int64_t s = (now_ms - ms) / 1000;
	if (s < 1)
		snprintf(buf, bufsz, "just now");
	else if (s < 120)
		snprintf(buf, bufsz, "%llds ago", (long long)s);
	else if (s < 2 * 3600)
		snprintf(buf, bufsz, "%lldm ago", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, bufsz, "%lldh ago", (long long)(s / 3600));
	else
		snprintf(buf, bufsz, "%lldd ago", (long long)(s / 86400));
}

void render_vertex_endpoint(char *buf, size_t bufsz,
			    const struct graph_vertex *v)
{
	render_endpoint(buf, bufsz, v->family, v->addr, v->port);
}

void render_vertex_process(char *buf, size_t bufsz,
			   const struct graph_vertex *v)
{
	char who[600], tmp[1024];
	/* An end no agent saw (only its peer reported the flow). */
	if (!v->pgid && !*v->comm)
		snprintf(who, sizeof(who), "not seen by an agent");
	else
		snprintf(who, sizeof(who), "'%s', pgid=%u", v->comm, v->pgid);
	if (v->service && v->service_name)
		snprintf(tmp, sizeof(tmp), "service %s/%s",
			 v->service_namespace ? v->service_namespace : "",
			 v->service_name);
	else if (v->service)
		snprintf(tmp, sizeof(tmp), "service");
	else if (v->pod_name)
		snprintf(tmp, sizeof(tmp), "%s/%s %s%s%s",
			 v->pod_namespace ? v->pod_namespace : "",
			 v->pod_name, v->container ? v->container : "",
			 v->container ? " " : "", who);
	else
		snprintf(tmp, sizeof(tmp), "%s", who);
	escape_terminal_buf(buf, bufsz, tmp);
}

void render_edge_via(char *svc, size_t svcsz, char *nat, size_t natsz,
		     const struct graph *g, const struct graph_edge *e)
{
	int family = g->v[e->client].family;
	char tmp[512], ep[96];
	svc[0] = nat[0] = '\0';
	if (e->service) {
		render_endpoint(ep, sizeof(ep), family, e->svc_addr,
				e->svc_port);
		if (e->svc_name)
			snprintf(tmp, sizeof(tmp), "%s/%s %s",
				 e->svc_namespace ? e->svc_namespace : "",
				 e->svc_name, ep);
		else
			snprintf(tmp, sizeof(tmp), "%s", ep);
		escape_terminal_buf(svc, svcsz, tmp);
	}
	if (e->nat)
		addr_format(family, e->nat_seen, nat);
	(void)natsz;
}

void render_edge_count(char *buf, size_t bufsz, const struct graph *g,
		       const struct graph_edge *e)
{
	if (g->diff) {
		long long d = (long long)e->connections -
			      (long long)e->base_connections;
		snprintf(buf, bufsz, "%s %llu conn%s (%s%lld)",
			 render_proto_name(e->proto),
			 (unsigned long long)e->connections,
			 e->connections == 1 ? "" : "s", d >= 0 ? "+" : "", d);
		return;
	}
	snprintf(buf, bufsz, "%s %llu conn%s", render_proto_name(e->proto),
		 (unsigned long long)e->connections,
		 e->connections == 1 ? "" : "s");
}

bool render_edge_hidden(const struct graph *g, const struct graph_edge *e)
{
	return g->diff && g->hide_unchanged &&
	       graph_edge_change(e) == GRAPH_UNCHANGED;
}

const char *render_change_name(const struct graph_edge *e)
{
	switch (graph_edge_change(e)) {
	case GRAPH_ADDED:
		return "added";
	case GRAPH_REMOVED:
		return "removed";
	default:
		return "unchanged";
	}
}

int render_json_print(FILE *out, struct cJSON *doc)
{
	char *s = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!s)
		return -ENOMEM;
	int r = fputs(s, out) < 0 || fputc('\n', out) == EOF ? -EIO : 0;
	cJSON_free(s);
	return r;
}
