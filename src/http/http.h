/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_HTTP_HTTP_H
#define SHAWK_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The embedded HTTP server of `shawk serve` and of the agent's /metrics:
 * the only module that includes libmicrohttpd. GET (and HEAD) only, one
 * internal thread that calls the handler for each request in turn,
 * bounded connections, request sizes and idle time. Library code: it
 * does not log, it returns errors.
 */

#define HTTP_DEFAULT_MAX_CONNECTIONS 64
#define HTTP_DEFAULT_TIMEOUT_S 10
/* Request line plus headers: larger requests are answered 431/414 and
 * closed by the library. */
#define HTTP_DEFAULT_MAX_REQUEST 8192

struct http_request; /* opaque: valid during the handler call only */

struct http_response {
	int status;		  /* default 200 */
	const char *content_type; /* static string; default text/plain */
	char *body;		  /* malloc'd, freed by the server */
	size_t len;
};

/* Called on the server's thread for each GET/HEAD request; fills resp.
 * A handler that leaves body NULL sends an empty body. */
typedef void (*http_handler_fn)(void *userdata, const struct http_request *req,
				struct http_response *resp);

struct http_config {
	const char *listen;	    /* "ADDR:PORT", "[V6]:PORT"; NULL: 127.0.0.1:8080 */
	unsigned max_connections;   /* 0: HTTP_DEFAULT_MAX_CONNECTIONS */
	unsigned timeout_s;	    /* idle connection cut; 0: default */
	size_t max_request;	    /* 0: HTTP_DEFAULT_MAX_REQUEST */
};

/* The path of the request, percent-decoded, without the query string. */
const char *http_request_path(const struct http_request *req);

/* The value of query argument name (decoded), or NULL when absent. */
const char *http_request_arg(const struct http_request *req,
			     const char *name);

/*
 * Calls fn for each query argument (value NULL for "?flag"); stops when fn
 * returns non-zero and returns that, else 0.
 */
int http_request_args_each(const struct http_request *req,
			   int (*fn)(void *ud, const char *key,
				     const char *value),
			   void *ud);

/*
 * Parses "ADDR:PORT" (IPv4), "[ADDR]:PORT" (IPv6) or ":PORT" (127.0.0.1)
 * into ss. Returns 0 or -EINVAL.
 */
int http_listen_parse(const char *s, struct sockaddr_storage *ss,
		      socklen_t *ret_len);

struct http_server;

/*
 * Binds and starts serving on the library's thread. Returns 0 and the
 * server, -EINVAL (bad listen address), -EADDRINUSE/-EACCES/-EIO (cannot
 * listen: err says why) or -ENOMEM.
 */
int http_server_start(const struct http_config *cfg, http_handler_fn fn,
		      void *userdata, struct http_server **ret, char *err,
		      size_t errsz);

/* The bound port (useful after listening on port 0). */
uint16_t http_server_port(const struct http_server *s);

/* Stops the thread, closes every connection; accepts NULL. */
void http_server_free(struct http_server *s);
static inline void http_server_freep(struct http_server **s)
{
	http_server_free(*s);
}

/*
 * Response helpers: set status, type and a copy of the formatted body.
 * On OOM the response becomes a bodiless 500.
 */
void http_response_printf(struct http_response *resp, int status,
			  const char *content_type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
