// SPDX-License-Identifier: MIT
/*
 * The HTTP module on a real loopback socket: routing to the handler,
 * decoded query arguments, GET only, request size bound, idle cut-off,
 * and the listen address parser.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "test_util.h"

static void handler(void *ud, const struct http_request *req,
		    struct http_response *resp)
{
	int *calls = ud;
	const char *name = http_request_arg(req, "name");
	(*calls)++;
	http_response_printf(resp, 200, "text/plain", "path=%s name=%s",
			     http_request_path(req), name ? name : "(none)");
}

/* Sends req, reads the whole answer (the server closes) into buf. */
static void roundtrip(uint16_t port, const char *req, char *buf, size_t sz)
{
	int fd = test_dial_loopback(port);
	size_t len = strlen(req), off = 0;
	while (off < len) {
		ssize_t w = write(fd, req + off, len - off);
		if (w <= 0)
			break; /* the server may cut a large request short */
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
	size_t got = 0;
	ssize_t n;
	while (got + 1 < sz && (n = read(fd, buf + got, sz - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	close(fd);
}

static void test_http_serves_get_only(void **state)
{
	(void)state;
	int calls = 0;
	char err[128], buf[65536];
	struct http_server *s = NULL;
	struct http_config cfg = { .listen = "127.0.0.1:0", .timeout_s = 1,
				   .max_request = 4096 };
	assert_int_equal(http_server_start(&cfg, handler, &calls, &s, err,
					   sizeof(err)),
			 0);
	uint16_t port = http_server_port(s);
	assert_true(port > 0);

	roundtrip(port, "GET /a%20b?name=%3Cx%3E&x HTTP/1.1\r\nHost: t\r\n"
			"Connection: close\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "path=/a b name=<x>"));
	assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff"));

	roundtrip(port, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 405"));
	assert_non_null(strstr(buf, "Allow: GET, HEAD"));

	roundtrip(port, "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
			"Connection: close\r\n\r\nabc", buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 413"));

	/* Headers beyond the bound: refused by the library. */
	static char big[16384];
	int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: t\r\nX: ");
	memset(big + n, 'a', 10000);
	strcpy(big + n + 10000, "\r\nConnection: close\r\n\r\n");
	roundtrip(port, big, buf, sizeof(buf));
	assert_non_null(strstr(buf, "HTTP/1.1 431"));
	int before = calls;

	/* A client that sends half a request and stalls is cut off. */
	int fd = test_dial_loopback(port);
	assert_int_equal(write(fd, "GET / HT", 8), 8);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 5000), 1);
	assert_true(read(fd, buf, sizeof(buf)) <= 0); /* closed, no answer */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 4);
	close(fd);
	assert_int_equal(calls, before);
	assert_int_equal(calls, 1);
	http_server_free(s);
}

static void test_http_listen_errors(void **state)
{
	(void)state;
	char err[128];
	struct http_server *s = NULL, *s2 = NULL;
	struct http_config cfg = { .listen = "127.0.0.1:0" };
	int calls = 0;
	assert_int_equal(http_server_start(&cfg, handler, &calls, &s, err,
					   sizeof(err)),
			 0);
	char taken[32];
	snprintf(taken, sizeof(taken), "127.0.0.1:%u", http_server_port(s));
	cfg.listen = taken;
	assert_int_equal(http_server_start(&cfg, handler, &calls, &s2, err,
					   sizeof(err)),
			 -EADDRINUSE);
	assert_non_null(strstr(err, taken));
	cfg.listen = "nowhere:80";
	assert_int_equal(http_server_start(&cfg, handler, &calls, &s2, err,
					   sizeof(err)),
			 -EINVAL);
	http_server_free(s);
	http_server_free(NULL);
}

static void test_http_listen_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int ret, family;
		uint16_t port;
	} cases[] = {
		{ "127.0.0.1:8080", 0, AF_INET, 8080 },
		{ "0.0.0.0:9", 0, AF_INET, 9 },
		{ ":9100", 0, AF_INET, 9100 },
		{ "[::1]:8080", 0, AF_INET6, 8080 },
		{ "[::]:0", 0, AF_INET6, 0 },
		{ "::1:8080", -EINVAL, 0, 0 },
		{ "127.0.0.1", -EINVAL, 0, 0 },
		{ "127.0.0.1:65536", -EINVAL, 0, 0 },
		{ "127.0.0.1:-1", -EINVAL, 0, 0 },
		{ "127.0.0.1:", -EINVAL, 0, 0 },
		{ "localhost:80", -EINVAL, 0, 0 },
		{ "[::1]8080", -EINVAL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int r = http_listen_parse(cases[i].in, &ss, &len);
		assert_int_equal(r, cases[i].ret);
		if (r)
			continue;
		assert_int_equal(ss.ss_family, cases[i].family);
		assert_int_equal(ntohs(ss.ss_family == AF_INET
					       ? ((struct sockaddr_in *)&ss)->sin_port
					       : ((struct sockaddr_in6 *)&ss)->sin6_port),
				 cases[i].port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_serves_get_only),
		cmocka_unit_test(test_http_listen_errors),
		cmocka_unit_test(test_http_listen_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
