// SPDX-License-Identifier: MIT
/*
 * conn_holder: holds many loopback TCP connections for bench/probe_scan.sh.
 *
 *   conn_holder server ADDR PORT COUNT
 *       listens on ADDR:PORT, accepts connections (closing those the peer
 *       closes) and prints "ready COUNT" once COUNT are held at the same time.
 *   conn_holder client LADDR RADDR PORT COUNT [CHURN_PER_SEC]
 *       opens COUNT connections from LADDR to RADDR:PORT and prints
 *       "ready COUNT"; with CHURN_PER_SEC > 0, once it gets SIGUSR1, it
 *       closes that many of its oldest connections every second and opens
 *       as many new ones.
 *
 * One process holds at most what RLIMIT_NOFILE allows (20000 on the bench
 * machine), so the script starts several. Each process is its own process
 * group (so shawk reports a distinct pgid) and names itself holder-srv or
 * holder-cli. It dies with its parent, on SIGTERM, and after a safety
 * lifetime ($CONN_HOLDER_LIFETIME seconds, default 600) so that a crashed
 * benchmark leaves nothing behind.
 *
 * Held sockets are reset when the process dies (SO_LINGER 0): killing a
 * holder leaves no TIME_WAIT sockets behind, which would otherwise sit in
 * the host-wide TCP hash that every sock_diag dump walks. Churn closes
 * gracefully, as real clients do (TIME_WAIT on the client side).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_S 600

static volatile sig_atomic_t churn_on;

static void on_usr1(int sig)
{
	(void)sig;
	churn_on = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "conn_holder: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void setup(const char *name)
{
	struct rlimit rl;
	const char *life = getenv("CONN_HOLDER_LIFETIME");

	(void)setpgid(0, 0);
	(void)prctl(PR_SET_NAME, name, 0, 0, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() == 1)
		exit(1); /* the benchmark is already gone */
	alarm(life && atoi(life) > 0 ? (unsigned)atoi(life) : LIFETIME_S);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void parse_addr(const char *s, uint16_t port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, s, &sa->sin_addr) != 1) {
		fprintf(stderr, "conn_holder: bad IPv4 address %s\n", s);
		exit(2);
	}
}

static long parse_num(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < 0) {
		fprintf(stderr, "conn_holder: bad number %s\n", s);
		exit(2);
	}
	return v;
}

/* on: reset when closed (no TIME_WAIT); off: the usual FIN handshake. */
static void set_abort_on_close(int fd, int on)
{
	struct linger lg = { .l_onoff = on, .l_linger = 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void ready(long count)
{
	printf("ready %ld\n", count);
	fflush(stdout);
}

static _Noreturn void run_server(const char *addr, uint16_t port, long count)
{
	struct sockaddr_in sa;
	int one = 1;
	long held = 0;
	int announced = 0;

	setup("holder-srv");
	parse_addr(addr, port, &sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	/* Capped by net.core.somaxconn, which the script raises. */
	if (listen(lfd, 65535) < 0)
		die("listen");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl");

	for (;;) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd != lfd) {
				/* Peer closed (churn): free the slot. */
				set_abort_on_close(fd, 0);
				close(fd);
				held--;
				continue;
			}
			for (;;) {
				int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
				if (c < 0) {
					if (errno == EAGAIN || errno == EINTR)
						break;
					if (errno == EMFILE || errno == ENFILE)
						break; /* retried on next event */
					die("accept4");
				}
				set_abort_on_close(c, 1);
				struct epoll_event cev = {
					.events = EPOLLRDHUP, .data.fd = c
				};
				if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0)
					die("epoll_ctl");
				held++;
			}
			if (!announced && held >= count) {
				ready(held);
				announced = 1;
			}
		}
	}
}

static int open_one(const struct sockaddr_in *local,
		    const struct sockaddr_in *remote)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Port chosen at connect(): unique per 4-tuple, not per address. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			 sizeof(one));
	if (bind(fd, (const struct sockaddr *)local, sizeof(*local)) < 0 ||
	    connect(fd, (const struct sockaddr *)remote, sizeof(*remote)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	set_abort_on_close(fd, 1);
	return fd;
}

static _Noreturn void run_client(const char *laddr, const char *raddr, uint16_t port,
		      long count, long churn)
{
	struct sockaddr_in local, remote;
	long failures = 0;

	setup("holder-cli");
	struct sigaction act = { .sa_handler = on_usr1 };
	sigset_t usr1, waitmask;
	sigemptyset(&act.sa_mask);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	/* Blocked until sigsuspend(): a signal sent early is not lost. */
	if (sigprocmask(SIG_BLOCK, &usr1, &waitmask) < 0 ||
	    sigaction(SIGUSR1, &act, NULL) < 0)
		die("sigaction");
	sigdelset(&waitmask, SIGUSR1);
	parse_addr(laddr, 0, &local);
	parse_addr(raddr, port, &remote);
	int *fds = calloc((size_t)count + 1, sizeof(*fds));
	if (!fds)
		die("calloc");
	for (long i = 0; i < count; i++) {
		int fd = open_one(&local, &remote);
		if (fd < 0) {
			errno = -fd;
			die("connect");
		}
		fds[i] = fd;
	}
	ready(count);
	while (!churn_on || !churn)
		sigsuspend(&waitmask);

	long next = 0;
	struct timespec tick;
	clock_gettime(CLOCK_MONOTONIC, &tick);
	for (;;) {
		tick.tv_sec++;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &tick,
				       NULL) == EINTR)
			;
		for (long k = 0; k < churn && k < count; k++) {
			set_abort_on_close(fds[next], 0);
			close(fds[next]);
			int fd = open_one(&local, &remote);
			if (fd < 0) {
				if (++failures == 1)
					fprintf(stderr,
						"conn_holder: churn connect: "
						"%s\n",
						strerror(-fd));
				/* Keep the slot valid: retried next round. */
				fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			}
			fds[next] = fd;
			next = (next + 1) % count;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "server") == 0)
		run_server(argv[2], (uint16_t)parse_num(argv[3]),
			   parse_num(argv[4]));
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "client") == 0)
		run_client(argv[2], argv[3], (uint16_t)parse_num(argv[4]),
			   parse_num(argv[5]), argc == 7 ? parse_num(argv[6]) : 0);
	fprintf(stderr,
		"usage: conn_holder server ADDR PORT COUNT\n"
		"       conn_holder client LADDR RADDR PORT COUNT "
		"[CHURN_PER_SEC]\n");
	return 2;
}
