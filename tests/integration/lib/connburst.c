// SPDX-License-Identifier: MIT
/*
 * Peers for tests/integration/streaming_netns.sh and bench/streaming_rate.sh.
 *
 *   connburst COMM tcp-server ADDR PORT READYFILE
 *   connburst COMM tcp-client ADDR PORT N
 *   connburst COMM udp-server ADDR PORT READYFILE
 *   connburst COMM udp-client ADDR PORT N
 *
 * COMM becomes the process name (prctl) so tests can check attribution.
 * The TCP server accepts and closes; the TCP client makes N connections,
 * each closed right after connect() returns (well under a millisecond on a
 * veth). The UDP server answers each datagram; the UDP client makes N
 * connected sockets, each sending one datagram and awaiting the answer, and
 * prints the local port of each (ports get reused, and a server sees one
 * peer per distinct client port).
 * Exit status 0 on success; errors go to stderr.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static socklen_t parse_addr(const char *a, const char *p,
			    struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(p));
		return sizeof(*s4);
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(p));
		return sizeof(*s6);
	}
	fprintf(stderr, "bad address %s\n", a);
	exit(2);
}

static void ready(const char *file)
{
	FILE *f = fopen(file, "w");
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: connburst COMM MODE ADDR PORT ARG\n");
		return 2;
	}
	prctl(PR_SET_NAME, argv[1], 0, 0, 0);
	const char *mode = argv[2];
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(argv[3], argv[4], &ss);
	int one = 1;

	if (strcmp(mode, "tcp-server") == 0) {
		int l = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(l, (struct sockaddr *)&ss, len) < 0 ||
		    listen(l, 4096) < 0) {
			perror("bind/listen");
			return 1;
		}
		ready(argv[5]);
		for (;;) {
			int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0)
				close(c);
		}
	}
	if (strcmp(mode, "tcp-client") == 0) {
		int n = atoi(argv[5]);
		for (int i = 0; i < n; i++) {
			int c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (connect(c, (struct sockaddr *)&ss, len) < 0) {
				perror("connect");
				return 1;
			}
			close(c);
		}
		return 0;
	}
	if (strcmp(mode, "udp-server") == 0) {
		int s = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (bind(s, (struct sockaddr *)&ss, len) < 0) {
			perror("bind");
			return 1;
		}
		ready(argv[5]);
		for (;;) {
			char buf[64];
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t r = recvfrom(s, buf, sizeof(buf), 0,
					     (struct sockaddr *)&from, &fl);
			if (r > 0)
				sendto(s, buf, (size_t)r, 0,
				       (struct sockaddr *)&from, fl);
		}
	}
	if (strcmp(mode, "udp-client") == 0) {
		int n = atoi(argv[5]);
		for (int i = 0; i < n; i++) {
			int c = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
			if (connect(c, (struct sockaddr *)&ss, len) < 0 ||
			    send(c, "x", 1, 0) != 1) {
				perror("udp connect/send");
				return 1;
			}
			struct sockaddr_storage me;
			socklen_t ml = sizeof(me);
			getsockname(c, (struct sockaddr *)&me, &ml);
			printf("%u\n", ntohs(((struct sockaddr_in *)&me)->sin_port));
			struct pollfd pfd = { .fd = c, .events = POLLIN };
			char b;
			if (poll(&pfd, 1, 2000) != 1 || recv(c, &b, 1, 0) != 1) {
				fprintf(stderr, "udp: no answer\n");
				return 1;
			}
			close(c);
		}
		return 0;
	}
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
