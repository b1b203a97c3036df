/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_TESTS_CMDB_FLOWS_H
#define SHAWK_TESTS_CMDB_FLOWS_H

/* Flows for the tests of src/cmdb (test_cmdb.c, test_flush_data.c). */

#include "core/flow.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* A TCP flow of pgid 77 (pid 78) at 10.0.0.1, peer 10.0.0.last_octet. */
static inline struct flow mkflow(uint8_t dir, const char *comm,
				 uint16_t lport, uint8_t last_octet)
{
	struct flow f;
	memset(&f, 0, sizeof(f));
	f.key.dir = dir;
	f.key.proto = IPPROTO_TCP;
	f.key.family = AF_INET;
	f.key.lport = lport;
	f.key.laddr[0] = 10;
	f.key.laddr[3] = 1;
	f.key.raddr[0] = 10;
	f.key.raddr[3] = last_octet;
	f.key.rport = dir == SOCK_DIR_ACTIVE ? 80 : 0;
	f.key.netns = 4026531840u;
	f.key.pgid = 77;
	/* comm fills all 16 bytes: no NUL inside the key. */
	memcpy(f.key.comm, comm, strnlen(comm, sizeof(f.key.comm)));
	f.pid = 78;
	f.connections = 3;
	f.new_connections = 2;
	f.first_seen_ms = 1000;
	f.last_seen_ms = 2000;
	return f;
}

#endif
