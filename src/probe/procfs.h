/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_PROCFS_H
#define SHAWK_PROBE_PROCFS_H

#include "probe/source.h"

#include <stddef.h>
#include <stdint.h>

/* Pure parsers for procfs text: no I/O, buffers in, values out. */

struct procfs_stat {
	uint32_t pid;
	uint32_t ppid;
	uint32_t pgid;
	uint64_t starttime; /* clock ticks after boot (field 22) */
	char comm[16];
};

/*
 * Parses the content of /proc/<pid>/stat. comm may hold spaces and ')',
 * so it is delimited by the first '(' and the last ')'.
 * Returns 0 or -EINVAL.
 */
int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *ret);

/*
 * Returns the socket inode from an fd link target "socket:[12345]",
 * 0 for any other target.
 */
uint64_t procfs_socket_inode(const char *link, size_t len);

/*
 * Finds the cgroup v2 path ("0::/path") in /proc/<pid>/cgroup content and
 * copies it to out. Falls back to the name=systemd v1 line on hosts
 * without a unified hierarchy. Returns 0, or -ENOENT when neither exists,
 * -ENAMETOOLONG when out is too small.
 */
int procfs_parse_cgroup_v2(const char *buf, size_t len, char *out,
			   size_t outsz);

/*
 * Parses one data line of /proc/net/{tcp,tcp6,udp,udp6} into rec (proto
 * and netns are left to the caller). Returns 0, -ENOENT for the header
 * line, -EINVAL for garbage.
 */
int procfs_parse_net_line(const char *line, struct sock_record *rec);

/* Replaces NULs in a cmdline buffer with spaces; strips the tail NUL. */
void procfs_cmdline_to_string(char *buf, size_t len);

/*
 * Sums the "inuse" counters of TCP, UDP, TCP6 and UDP6 in the text of
 * /proc/<pid>/net/sockstat and/or sockstat6 (the kernel's per-netns counts
 * of hashed sockets: listeners, connections, bound UDP). Pure. Returns 0 and
 * *ret, or -EBADMSG when none of those lines is present.
 */
int procfs_parse_sockstat_inuse(const char *buf, size_t len, uint64_t *ret);

/*
 * One counter of /proc/<pid>/net/sockstat{,6}: the number after key on the
 * line starting with "<proto>: " ("TCP", "inuse"). Pure. Returns 0 and *ret,
 * -ENOENT when the line or key is absent, -EBADMSG for a malformed number.
 */
int procfs_parse_sockstat_value(const char *buf, size_t len, const char *proto,
				const char *key, uint64_t *ret);

/* The TCP MIB counters of /proc/<pid>/net/snmp that track the socket set. */
struct procfs_snmp_tcp {
	uint64_t active_opens;
	uint64_t passive_opens;
	uint64_t attempt_fails;
	uint64_t estab_resets;
	uint64_t curr_estab;
};

/*
 * Parses the "Tcp:" header and value lines of /proc/<pid>/net/snmp (the
 * per-netns TCP MIB, shared by IPv4 and IPv6). Pure. Returns 0 and *ret, or
 * -EBADMSG when either line, one of the five fields or its number is
 * missing or malformed.
 */
int procfs_parse_snmp_tcp(const char *buf, size_t len,
			  struct procfs_snmp_tcp *ret);

#endif
