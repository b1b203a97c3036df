/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_PROBE_SOCKDIAG_H
#define SHAWK_PROBE_SOCKDIAG_H

#include "probe/source.h"

#include <stddef.h>
#include <stdint.h>

/* TCP states we report: connected ones plus LISTEN (for classification). */
#define SOCKDIAG_TCP_STATES                                                    \
	((1u << 1) /* ESTABLISHED */ | (1u << 4) /* FIN_WAIT1 */ |           \
	 (1u << 5) /* FIN_WAIT2 */ | (1u << 8) /* CLOSE_WAIT */ |            \
	 (1u << 9) /* LAST_ACK */ | (1u << 10) /* LISTEN */ |                \
	 (1u << 11) /* CLOSING */)
/* UDP: connected sockets (ESTABLISHED) and bound ones (CLOSE). */
#define SOCKDIAG_UDP_STATES ((1u << 1) | (1u << 7))

/*
 * Writes a NETLINK_SOCK_DIAG dump request for (family, proto) into buf.
 * Returns its length, or -ENOBUFS when bufsz is too small.
 */
int sockdiag_build_request(void *buf, size_t bufsz, int family, int proto,
			   uint32_t states, uint32_t seq);

/*
 * Parses one datagram of a sock_diag dump reply. Pure: no I/O.
 * For each socket calls fn with a record tagged with proto and netns.
 * Messages whose nlmsg_seq differs from seq are ignored (stale replies).
 * Returns 1 when NLMSG_DONE was seen, 0 when more datagrams follow,
 * -EBADMSG for a malformed or truncated message, the negated netlink
 * error for NLMSG_ERROR, or fn's negative return.
 */
int sockdiag_parse(const void *buf, size_t len, uint32_t seq, int proto,
		   uint64_t netns, sock_record_fn fn, void *userdata);

/* Opens a NETLINK_SOCK_DIAG socket in the caller's netns. Returns fd or -errno. */
int sockdiag_open(void);

/*
 * Runs one dump on fd and parses it. Returns the number of records or
 * -errno (-ENOENT when the kernel lacks the diag module for proto).
 * If fn fails the rest of the dump is drained and its error returned.
 */
int sockdiag_dump(int fd, int family, int proto, uint32_t states,
		  uint64_t netns, sock_record_fn fn, void *userdata);

#endif
