-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 8: connections counted once across agent processes.
--
-- flows.connections_total counts each connection once. An agent process
-- remembers the connections it counted; a new process (a restart, each
-- `probe --once`) would count the held ones again. Each flush therefore
-- records the identity of the connections it counts as new — a hash of
-- the node's kernel boot id, the network namespace and the socket inode
-- (or cookie) — and counts only those not recorded yet; only connections
-- still open at the flush are recorded (a closed one cannot be seen by
-- another process), so the table holds about the node's long-lived
-- connections, not its churn. A reboot changes
-- the boot id: every connection after it is new, as it is (none survives
-- a reboot). Rows are refreshed whenever an agent reports the connection
-- again and deleted 30 days after that (src/cmdb/store.c): a connection
-- held longer across an agent restart is counted again.
CREATE TABLE IF NOT EXISTS seen_conns (
	node_name text NOT NULL,
	conn_id bigint NOT NULL,
	last_seen timestamptz NOT NULL,
	PRIMARY KEY (node_name, conn_id)
);
CREATE INDEX IF NOT EXISTS seen_conns_last_seen ON seen_conns (last_seen);
