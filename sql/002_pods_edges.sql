-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 2: pods (filled by the Kubernetes enrichment), the
-- indexes behind `shawk look`, and the edges view.

-- A pod over its lifetime. Pod IPs are reused after a pod is gone, so an
-- address belongs to a pod only within [first_seen, last_seen].
CREATE TABLE pods (
	uid         text        NOT NULL, -- distribution key (or a reference table)
	namespace   text        NOT NULL,
	name        text        NOT NULL,
	node_name   text,
	ips         inet[]      NOT NULL DEFAULT '{}',
	labels      jsonb       NOT NULL DEFAULT '{}',
	owner_kind  text,
	owner_name  text,
	containers  text[]      NOT NULL DEFAULT '{}',
	first_seen  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL,
	PRIMARY KEY (uid)
);
CREATE INDEX pods_ips_idx ON pods USING gin (ips);
CREATE INDEX pods_name_idx ON pods (namespace, name);

-- look: "who calls A" reads active flows by their peer address; "whom does
-- A call" reads passive flows by their peer address (the local address is
-- the primary key's prefix).
CREATE INDEX flows_raddr_idx ON flows (raddr, rport);

-- Edges client -> server, one per client process and server endpoint.
-- An active flow (seen at the client) names the client process; the server
-- process comes from the passive node listening there. A passive flow
-- (seen at the server) adds an edge only when no active flow describes it,
-- i.e. when the client is not probed: its process is then unknown.
CREATE VIEW edges AS
SELECT a.proto,
       a.laddr AS client_addr, a.pgid AS client_pgid, a.comm AS client_comm,
       a.container_name AS client_container,
       a.raddr AS server_addr, a.rport AS server_port,
       coalesce(s.pgid, 0) AS server_pgid, coalesce(s.comm, '') AS server_comm,
       s.container_name AS server_container,
       a.connections, a.connections_total, a.first_seen, a.last_seen
FROM flows a
LEFT JOIN LATERAL (
	SELECT p.pgid, p.comm, p.container_name FROM passive_nodes p
	WHERE p.addr = a.raddr AND p.port = a.rport AND p.proto = a.proto
	ORDER BY p.last_seen DESC LIMIT 1) s ON true
WHERE a.direction = 'active'
UNION ALL
SELECT p.proto,
       p.raddr, 0, '', NULL,
       p.laddr, p.lport, p.pgid, p.comm, p.container_name,
       p.connections, p.connections_total, p.first_seen, p.last_seen
FROM flows p
WHERE p.direction = 'passive'
  AND NOT EXISTS (
	SELECT 1 FROM flows a
	WHERE a.laddr = p.raddr AND a.lport = 0 AND a.direction = 'active'
	  AND a.proto = p.proto AND a.raddr = p.laddr AND a.rport = p.lport);
