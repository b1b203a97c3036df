// SPDX-License-Identifier: MIT
/*
 * Connection-rate load for bench/streaming_rate.sh.
 *
 *   connrate server ADDR PORT THREADS
 *   connrate client ADDR PORT THREADS SECONDS [RATE]
 *
 * Each connection: connect, 1-byte request, 1-byte response, close. The
 * server runs THREADS accept loops on one SO_REUSEPORT port each; the client
 * runs THREADS loops for SECONDS and prints the connections per second.
 * RATE (total connections/s, 0 = as fast as possible) paces the client.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;
static double seconds;
static double rate;
static int nthreads;
static atomic_ulong total;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *server(void *arg)
{
	(void)arg;
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(l, 4096) < 0) {
		perror("server");
		exit(1);
	}
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		char b;
		if (read(c, &b, 1) == 1)
			(void)!write(c, &b, 1);
		close(c);
	}
	return NULL;
}

static void *client(void *arg)
{
	(void)arg;
	double end = now() + seconds;
	double gap = rate > 0 ? nthreads / rate : 0, next = now();
	unsigned long n = 0;
	while (now() < end) {
		if (gap > 0) {
			next += gap;
			double d = next - now();
			if (d > 0)
				usleep((useconds_t)(d * 1e6));
		}
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct linger lg = { 1, 0 }; /* RST: no TIME_WAIT pile-up */
		setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		char b = 'x';
		if (connect(c, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
		    write(c, &b, 1) == 1 && read(c, &b, 1) == 1)
			n++;
		close(c);
	}
	atomic_fetch_add(&total, n);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	addr.sin_family = AF_INET;
	inet_pton(AF_INET, argv[2], &addr.sin_addr);
	addr.sin_port = htons((uint16_t)atoi(argv[3]));
	nthreads = atoi(argv[4]);
	pthread_t t[64];
	if (nthreads < 1 || nthreads > 64)
		return 2;
	if (strcmp(argv[1], "server") == 0) {
		for (int i = 0; i < nthreads; i++)
			pthread_create(&t[i], NULL, server, NULL);
		pthread_join(t[0], NULL);
		return 0;
	}
	seconds = argc > 5 ? atof(argv[5]) : 2;
	rate = argc > 6 ? atof(argv[6]) : 0;
	double t0 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&t[i], NULL, client, NULL);
	for (int i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	printf("%.0f\n", atomic_load(&total) / (now() - t0));
	return 0;
}
