// SPDX-License-Identifier: MIT
/*
 * Records the fixtures of tests/test_sockdiag.c and tests/test_procfs.c from
 * the running kernel. Not built by `make`; see tests/fixtures/sockdiag/README.
 *
 *   cc -std=gnu11 -D_GNU_SOURCE -Isrc -o /tmp/record_sockdiag \
 *      tests/tools/record_sockdiag.c src/probe/sockdiag.c src/core/addr.c
 *   sudo /tmp/record_sockdiag tests/fixtures
 *
 * It enters a fresh network namespace (so the dumps hold only the sockets
 * made here, on fixed ports) and, when a cgroup v2 hierarchy is mounted, a
 * fresh cgroup (so INET_DIAG_CGROUP_ID is a known non-root id). Then it
 * opens a known set of sockets, dumps them with the request built by
 * sockdiag_build_request() and writes every recv() datagram to
 * <dir>/sockdiag/<name>.bin as [u32 length, little endian][datagram bytes]...
 * The sockets' inode, cookie and addresses go to <dir>/sockdiag/manifest.txt.
 * It also copies /proc/self/net/{tcp,tcp6,udp,udp6}, /proc/self/stat (with
 * a comm full of ')' and spaces), /proc/2/stat and /proc/self/cgroup to
 * <dir>/procfs/. Run it again and the tests still pass: they read inodes,
 * cookies, ports and seq numbers from the manifest.
 */
#include "probe/sockdiag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define SEQ_BASE 0x53480000u /* "SH": recognisable in a hex dump */

static const char *out_dir;
static FILE *manifest;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "record_sockdiag: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, ": %s\n", strerror(errno));
	va_end(ap);
	exit(1);
}

static void lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		die("SIOCGIFFLAGS lo");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		die("SIOCSIFFLAGS lo");
	close(fd);
}

/* ---- cgroup v2: a private cgroup so the sockets carry a known id. ---- */

static char cg_dir[512];
static char cg_orig_procs[512];

static const char *cgroup2_root(void)
{
	static const char *const roots[] = { "/sys/fs/cgroup/unified",
					     "/sys/fs/cgroup" };
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		struct statfs sf;
		if (statfs(roots[i], &sf) == 0 &&
		    sf.f_type == CGROUP2_SUPER_MAGIC)
			return roots[i];
	}
	return NULL;
}

static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, s, strlen(s));
	close(fd);
	return n < 0 ? -1 : 0;
}

static uint64_t cgroup_id_of(const char *path)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h;
	int mount_id;
	h.fh.handle_bytes = sizeof(h.id);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return 0;
	return h.id;
}

static uint64_t enter_cgroup(void)
{
	const char *root = cgroup2_root();
	char line[512], pid[32];
	if (!root)
		return 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(cg_orig_procs, sizeof(cg_orig_procs),
				 "%s%s/cgroup.procs", root, line + 3);
		}
	fclose(f);
	snprintf(cg_dir, sizeof(cg_dir), "%s/shawk-record", root);
	snprintf(pid, sizeof(pid), "%d", getpid());
	char procs[600];
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg_dir);
	if ((mkdir(cg_dir, 0755) < 0 && errno != EEXIST) ||
	    write_str(procs, pid) < 0) {
		fprintf(stderr, "record_sockdiag: no private cgroup (%s)\n",
			strerror(errno));
		cg_dir[0] = '\0';
		return 0;
	}
	return cgroup_id_of(cg_dir);
}

static void leave_cgroup(void)
{
	char pid[32];
	if (!cg_dir[0])
		return;
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (cg_orig_procs[0])
		(void)write_str(cg_orig_procs, pid);
	(void)rmdir(cg_dir);
}

/* ---- sockets ------------------------------------------------------------ */

union sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
};

static socklen_t sa_make(union sa *a, const char *addr, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	if (strchr(addr, ':')) {
		a->in6.sin6_family = AF_INET6;
		a->in6.sin6_port = htons(port);
		if (inet_pton(AF_INET6, addr, &a->in6.sin6_addr) != 1)
			die("inet_pton %s", addr);
		return sizeof(a->in6);
	}
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &a->in.sin_addr) != 1)
		die("inet_pton %s", addr);
	return sizeof(a->in);
}

static void sa_text(const union sa *a, char *addr, size_t n, unsigned *port)
{
	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->in6.sin6_addr, addr, (socklen_t)n);
		*port = ntohs(a->in6.sin6_port);
	} else {
		inet_ntop(AF_INET, &a->in.sin_addr, addr, (socklen_t)n);
		*port = ntohs(a->in.sin_port);
	}
}

/* One manifest line: role dump laddr lport raddr rport inode cookie. */
static void note(int fd, const char *role, const char *dump)
{
	union sa l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);
	char la[INET6_ADDRSTRLEN] = "", ra[INET6_ADDRSTRLEN] = "";
	unsigned lp = 0, rp = 0;
	uint64_t cookie = 0;
	socklen_t cl = sizeof(cookie);
	struct stat st;

	if (getsockname(fd, &l.sa, &ll) < 0)
		die("getsockname %s", role);
	sa_text(&l, la, sizeof(la), &lp);
	if (getpeername(fd, &r.sa, &rl) == 0) {
		sa_text(&r, ra, sizeof(ra), &rp);
	} else {
		strcpy(ra, l.sa.sa_family == AF_INET6 ? "::" : "0.0.0.0");
		rp = 0;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &cl) < 0)
		die("SO_COOKIE %s", role);
	if (fstat(fd, &st) < 0)
		die("fstat %s", role);
	fprintf(manifest, "%s %s %s %u %s %u %llu %llu\n", role, dump, la, lp,
		ra, rp, (unsigned long long)st.st_ino,
		(unsigned long long)cookie);
}

static int sock_new(int family, int type, int v6only)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6 && v6only >= 0 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		       sizeof(v6only)) < 0)
		die("IPV6_V6ONLY");
	return fd;
}

static int tcp_listen(const char *addr, uint16_t port, int v6only)
{
	union sa a;
	socklen_t len = sa_make(&a, addr, port);
	int fd = sock_new(a.sa.sa_family, SOCK_STREAM, v6only);
	if (bind(fd, &a.sa, len) < 0 || listen(fd, 16) < 0)
		die("bind/listen %s:%u", addr, port);
	return fd;
}

static void tcp_pair(int lfd, int client_family, const char *addr,
		     uint16_t port, int *ret_client, int *ret_server)
{
	union sa a;
	socklen_t len = sa_make(&a, addr, port);
	int c = sock_new(client_family, SOCK_STREAM, -1);
	if (connect(c, &a.sa, len) < 0)
		die("connect %s:%u", addr, port);
	int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		die("accept");
	*ret_client = c;
	*ret_server = s;
}

static int udp_bound(const char *addr, uint16_t port, int v6only)
{
	union sa a;
	socklen_t len = sa_make(&a, addr, port);
	int fd = sock_new(a.sa.sa_family, SOCK_DGRAM, v6only);
	if (bind(fd, &a.sa, len) < 0)
		die("bind udp %s:%u", addr, port);
	return fd;
}

static int udp_connected(int family, const char *addr, uint16_t port)
{
	union sa a;
	socklen_t len = sa_make(&a, addr, port);
	int fd = sock_new(family, SOCK_DGRAM, family == AF_INET6 ? 0 : -1);
	if (connect(fd, &a.sa, len) < 0)
		die("connect udp %s:%u", addr, port);
	return fd;
}

/* ---- dumps -------------------------------------------------------------- */

static void put_frame(FILE *f, const void *buf, uint32_t len)
{
	uint8_t le[4] = { (uint8_t)len, (uint8_t)(len >> 8),
			  (uint8_t)(len >> 16), (uint8_t)(len >> 24) };
	if (fwrite(le, 1, 4, f) != 4 || fwrite(buf, 1, len, f) != len)
		die("write frame");
}

static void record(const char *name, int family, int proto, uint32_t states,
		   uint32_t seq)
{
	char path[1024], req[256];
	static char buf[1 << 16];
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK };

	int fd = sockdiag_open();
	if (fd < 0) {
		errno = -fd;
		die("sockdiag_open");
	}
	int len = sockdiag_build_request(req, sizeof(req), family, proto,
					 states, seq);
	if (len < 0 || sendto(fd, req, (size_t)len, 0, (struct sockaddr *)&nl,
			      sizeof(nl)) < 0)
		die("sendto %s", name);

	snprintf(path, sizeof(path), "%s/sockdiag/%s.bin", out_dir, name);
	FILE *f = fopen(path, "we");
	if (!f)
		die("%s", path);
	int frames = 0;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0)
			die("recv %s", name);
		put_frame(f, buf, (uint32_t)n);
		frames++;
		/* The last datagram of a dump ends with DONE or ERROR. */
		const struct nlmsghdr *h = (const void *)buf;
		int last = 0;
		for (int left = (int)n; NLMSG_OK(h, left);
		     h = NLMSG_NEXT(h, left))
			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR)
				last = 1;
		if (last)
			break;
	}
	fclose(f);
	close(fd);
	fprintf(stderr, "record_sockdiag: %s: %d datagram(s), seq %#x\n", name,
		frames, seq);
}

static void copy_file(const char *from, const char *to)
{
	char path[1024], buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		die("%s", from);
	snprintf(path, sizeof(path), "%s/procfs/%s", out_dir, to);
	FILE *out = fopen(path, "we");
	if (!out)
		die("%s", path);
	ssize_t n;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n)
			die("write %s", path);
	fclose(out);
	close(in);
}

int main(int argc, char **argv)
{
	int c, s, fds[32], nfd = 0;
	char path[1024];

	if (argc != 2) {
		fprintf(stderr, "usage: record_sockdiag FIXTURES_DIR\n");
		return 2;
	}
	out_dir = argv[1];
	snprintf(path, sizeof(path), "%s/sockdiag", out_dir);
	(void)mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/procfs", out_dir);
	(void)mkdir(path, 0755);

	if (unshare(CLONE_NEWNET) < 0)
		die("unshare(CLONE_NEWNET) (run as root)");
	lo_up();
	uint64_t cgid = enter_cgroup();

	snprintf(path, sizeof(path), "%s/sockdiag/manifest.txt", out_dir);
	manifest = fopen(path, "we");
	if (!manifest)
		die("%s", path);
	fprintf(manifest,
		"# Written by tests/tools/record_sockdiag.c; see README.\n"
		"# cgroup_id ID\n"
		"# seq DUMP SEQ\n"
		"# ROLE DUMP LADDR LPORT RADDR RPORT INODE COOKIE\n"
		"cgroup_id %llu\n",
		(unsigned long long)cgid);

	/* tcp4: listener and an established pair on 127.0.0.1. */
	int l4 = tcp_listen("127.0.0.1", 40001, -1);
	fds[nfd++] = l4;
	note(l4, "tcp4_listen", "tcp4");
	tcp_pair(l4, AF_INET, "127.0.0.1", 40001, &c, &s);
	note(c, "tcp4_client", "tcp4");
	note(s, "tcp4_server", "tcp4");
	fds[nfd++] = c;
	fds[nfd++] = s;

	/* tcp6: the same on ::1 (v6-only). */
	int l6 = tcp_listen("::1", 40002, 1);
	fds[nfd++] = l6;
	note(l6, "tcp6_listen", "tcp6");
	tcp_pair(l6, AF_INET6, "::1", 40002, &c, &s);
	note(c, "tcp6_client", "tcp6");
	note(s, "tcp6_server", "tcp6");
	fds[nfd++] = c;
	fds[nfd++] = s;

	/* Dual-stack [::] listener, reached from an AF_INET client: the
	 * accepted socket is AF_INET6 with v4-mapped addresses. */
	int ld = tcp_listen("::", 40003, 0);
	fds[nfd++] = ld;
	note(ld, "tcp6_any_listen", "tcp6");
	tcp_pair(ld, AF_INET, "127.0.0.1", 40003, &c, &s);
	note(c, "mapped_client", "tcp4");
	note(s, "mapped_server", "tcp6");
	fds[nfd++] = c;
	fds[nfd++] = s;

	/* An AF_INET6 listener bound to a v4-mapped address (what the JVM
	 * does for an IPv4 bind address): local mapped, peer "::". */
	int lm = tcp_listen("::ffff:127.0.0.1", 40004, 0);
	fds[nfd++] = lm;
	note(lm, "tcp6_mapped_listen", "tcp6");

	/* udp4: a bound server socket and a client connected to it. */
	int u4 = udp_bound("127.0.0.1", 40005, -1);
	fds[nfd++] = u4;
	note(u4, "udp4_bound", "udp4");
	c = udp_connected(AF_INET, "127.0.0.1", 40005);
	fds[nfd++] = c;
	note(c, "udp4_connected", "udp4");

	/* udp6: the same on ::1, a dual-stack [::] bound socket, and a v6
	 * socket connected to a v4-mapped peer. */
	int u6 = udp_bound("::1", 40006, 1);
	fds[nfd++] = u6;
	note(u6, "udp6_bound", "udp6");
	c = udp_connected(AF_INET6, "::1", 40006);
	fds[nfd++] = c;
	note(c, "udp6_connected", "udp6");
	int ua = udp_bound("::", 40007, 0);
	fds[nfd++] = ua;
	note(ua, "udp6_any_bound", "udp6");
	c = udp_connected(AF_INET6, "::ffff:127.0.0.1", 40005);
	fds[nfd++] = c;
	note(c, "udp6_mapped_connected", "udp6");

	static const struct {
		const char *name;
		int family, proto;
		uint32_t states;
	} dumps[] = {
		{ "tcp4", AF_INET, IPPROTO_TCP, SOCKDIAG_TCP_STATES },
		{ "tcp6", AF_INET6, IPPROTO_TCP, SOCKDIAG_TCP_STATES },
		{ "udp4", AF_INET, IPPROTO_UDP, SOCKDIAG_UDP_STATES },
		{ "udp6", AF_INET6, IPPROTO_UDP, SOCKDIAG_UDP_STATES },
		/* Both families in one legacy TCPDIAG_GETSOCK dump. */
		{ "tcp46", AF_UNSPEC, IPPROTO_TCP, SOCKDIAG_TCP_STATES },
		/* No inet_diag handler for protocol 255: the dump ends
		 * with NLMSG_DONE carrying -ENOENT. */
		{ "noproto", AF_INET, 255, ~0u },
		/* Family >= AF_MAX is refused before the dump starts:
		 * NLMSG_ERROR carrying -EINVAL. */
		{ "badfamily", 255, IPPROTO_TCP, ~0u },
	};
	for (size_t i = 0; i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		uint32_t seq = SEQ_BASE + (uint32_t)i + 1;
		record(dumps[i].name, dumps[i].family, dumps[i].proto,
		       dumps[i].states, seq);
		fprintf(manifest, "seq %s %u\n", dumps[i].name, seq);
	}

	copy_file("/proc/self/net/tcp", "net_tcp");
	copy_file("/proc/self/net/tcp6", "net_tcp6");
	copy_file("/proc/self/net/udp", "net_udp");
	copy_file("/proc/self/net/udp6", "net_udp6");
	copy_file("/proc/self/cgroup", "cgroup_hybrid");
	copy_file("/proc/2/stat", "stat_kthreadd");
	/* A comm the kernel lets any process choose, '(' and ')' included. */
	if (prctl(PR_SET_NAME, "a) b) (c", 0, 0, 0) < 0)
		die("PR_SET_NAME");
	copy_file("/proc/self/stat", "stat_self");

	fclose(manifest);
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	leave_cgroup();
	return 0;
}
