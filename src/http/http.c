// SPDX-License-Identifier: MIT
#include "http/http.h"

#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct http_server {
	struct MHD_Daemon *d;
	http_handler_fn fn;
	void *userdata;
	uint16_t port;
};

struct http_request {
	struct MHD_Connection *conn;
	const char *path;
};

const char *http_request_path(const struct http_request *req)
{
	return req->path;
}

const char *http_request_arg(const struct http_request *req,
			     const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   name);
}

struct each_ctx {
	int (*fn)(void *ud, const char *key, const char *value);
	void *ud;
	int r;
};

static enum MHD_Result each_arg(void *cls, enum MHD_ValueKind kind,
				const char *key, const char *value)
{
	struct each_ctx *c = cls;
	(void)kind;
	c->r = c->fn(c->ud, key, value);
	return c->r ? MHD_NO : MHD_YES;
}

int http_request_args_each(const struct http_request *req,
			   int (*fn)(void *ud, const char *key,
				     const char *value),
			   void *ud)
{
	struct each_ctx c = { .fn = fn, .ud = ud };
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, each_arg,
				  &c);
	return c.r;
}

static int parse_port(const char *s, uint16_t *ret)
{
	char *end;
	unsigned long v;
	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

int http_listen_parse(const char *s, struct sockaddr_storage *ss,
		      socklen_t *ret_len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon;
	uint16_t port;
	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' ||
		    (size_t)(close - s - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (strchr(host, ':'))
			return -EINVAL; /* IPv6 needs brackets */
		if (!*host)
			strscpy(host, "127.0.0.1", sizeof(host));
	}
	if (parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*ret_len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*ret_len = sizeof(*a);
	}
	return 0;
}

void http_response_printf(struct http_response *resp, int status,
			  const char *content_type, const char *fmt, ...)
{
	va_list ap;
	char *body = NULL;
	int n;
	va_start(ap, fmt);
	n = vasprintf(&body, fmt, ap);
	va_end(ap);
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	if (n < 0) {
		resp->status = 500;
		resp->content_type = "text/plain; charset=utf-8";
		return;
	}
	resp->status = status;
	resp->content_type = content_type;
	resp->body = body;
	resp->len = (size_t)n;
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
				     struct http_response *r,
				     const char *allow)
{
	struct MHD_Response *mr = MHD_create_response_from_buffer(
		r->len, r->body ? r->body : (char *)"",
		r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!mr) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
				r->content_type ? r->content_type
						: "text/plain; charset=utf-8");
	/* A read-only view of internal data: never framed, never sniffed,
	 * never allowed to run or fetch anything it did not come with. */
	MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(mr, "X-Frame-Options", "DENY");
	MHD_add_response_header(mr, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; "
				"img-src 'self'; frame-ancestors 'none'");
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(mr, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret =
		MHD_queue_response(conn, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_response resp = { .status = 200 };
	(void)version;
	(void)upload_data;
	(void)con_cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
		http_response_printf(&resp, 405, "text/plain; charset=utf-8",
				     "only GET and HEAD are served\n");
		return send_response(conn, &resp, "GET, HEAD");
	}
	/* Answered before any body is read: a GET that carries one is
	 * refused whole (the library then closes the connection). */
	if (*upload_data_size ||
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	    ((upload_data = MHD_lookup_connection_value(
		      conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH)) &&
	     strcmp(upload_data, "0") != 0)) {
		http_response_printf(&resp, 413, "text/plain; charset=utf-8",
				     "a GET request takes no body\n");
		return send_response(conn, &resp, NULL);
	}
	struct http_request req = { .conn = conn, .path = url };
	s->fn(s->userdata, &req, &resp);
	return send_response(conn, &resp, NULL);
}

int http_server_start(const struct http_config *cfg, http_handler_fn fn,
		      void *userdata, struct http_server **ret, char *err,
		      size_t errsz)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	const char *where = cfg->listen ? cfg->listen : "127.0.0.1:8080";
	int fd, r;

	if (http_listen_parse(where, &ss, &sl) < 0) {
		snprintf(err, errsz, "invalid listen address '%s'", where);
		return -EINVAL;
	}
	/* Our own socket: its bind error is reported exactly, and it is
	 * close-on-exec like every fd of ours. */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errsz, "socket: %s", strerror(-r));
		return r;
	}
	int one = 1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		snprintf(err, errsz, "cannot listen on %s: %s", where,
			 strerror(-r));
		close(fd);
		return r;
	}
	struct sockaddr_storage bound;
	socklen_t bl = sizeof(bound);
	uint16_t port = 0;
	if (getsockname(fd, (struct sockaddr *)&bound, &bl) == 0)
		port = ntohs(bound.ss_family == AF_INET6
				     ? ((struct sockaddr_in6 *)&bound)->sin6_port
				     : ((struct sockaddr_in *)&bound)->sin_port);

	struct http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fn = fn;
	s->userdata = userdata;
	s->port = port;
	/* The server's thread inherits the signal mask: with every signal
	 * blocked there, SIGTERM and friends reach the thread that waits for
	 * them, whenever it starts waiting. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET,
		fd, MHD_OPTION_CONNECTION_LIMIT,
		cfg->max_connections ? cfg->max_connections
				     : HTTP_DEFAULT_MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_TIMEOUT,
		cfg->timeout_s ? cfg->timeout_s : HTTP_DEFAULT_TIMEOUT_S,
		/* The per-connection pool holds the request line and headers
		 * (and the read buffer): its size is the request bound. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)(cfg->max_request ? cfg->max_request
					  : HTTP_DEFAULT_MAX_REQUEST),
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!s->d) {
		close(fd);
		free(s);
		snprintf(err, errsz, "cannot start the HTTP server on %s",
			 where);
		return -EIO;
	}
	*ret = s;
	return 0;
}

uint16_t http_server_port(const struct http_server *s)
{
	return s->port;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	if (s->d)
		MHD_stop_daemon(s->d); /* closes the listen socket too */
	free(s);
}
