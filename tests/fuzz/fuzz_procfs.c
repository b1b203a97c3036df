// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the /proc parsers: <pid>/stat, <pid>/cgroup,
 * net/{tcp,udp}[6] lines, cmdline, net/sockstat and net/snmp, fd link
 * targets. Seeds: the files of tests/fixtures/procfs.
 */
#include "fuzz.h"
#include "probe/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	struct procfs_stat st;
	if (procfs_parse_stat(s, size, &st) == 0)
		FUZZ_ASSERT(memchr(st.comm, '\0', sizeof(st.comm)));
	char out[256];
	if (procfs_parse_cgroup_v2(s, size, out, sizeof(out)) == 0)
		FUZZ_ASSERT(memchr(out, '\0', sizeof(out)));
	/* Line by line, as the reader feeds it. */
	for (char *line = s, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct sock_record rec;
		memset(&rec, 0, sizeof(rec));
		procfs_parse_net_line(line, &rec);
		if (nl)
			*nl = '\n';
	}
	uint64_t v;
	procfs_parse_sockstat_inuse(s, size, &v);
	procfs_parse_sockstat_value(s, size, "TCP", "inuse", &v);
	struct procfs_snmp_tcp snmp;
	procfs_parse_snmp_tcp(s, size, &snmp);
	procfs_socket_inode(s, size);
	/* Last: it rewrites the buffer. */
	procfs_cmdline_to_string(s, size);
	free(s);
	return 0;
}
