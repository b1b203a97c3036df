-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 6: Kubernetes Services (issue 15). Needs
-- PostgreSQL 15 or newer (UNIQUE NULLS NOT DISTINCT).
--
-- A call through a ClusterIP or NodePort is recorded by the client's
-- agent against the backend it reached (conntrack's DNAT), keeping the
-- address it dialed as the flow's service; a passive flow whose client was
-- source-NATed keeps the original client as its nat_peer (port 0: many).
-- NULL when none. Both are part of the flow's identity: one client process
-- calling one backend directly and through a Service is two flows.
ALTER TABLE flows
	ADD COLUMN service_addr  inet,
	ADD COLUMN service_port  integer,
	ADD COLUMN nat_peer_addr inet,
	ADD COLUMN nat_peer_port integer,
	ADD CONSTRAINT flows_service_check
		CHECK ((service_addr IS NULL) = (service_port IS NULL)),
	ADD CONSTRAINT flows_nat_peer_check
		CHECK ((nat_peer_addr IS NULL) = (nat_peer_port IS NULL));

-- The key gains the four columns; NULLs compare equal in it, so a flow
-- without a service is one row however often it is flushed. Same column
-- order as before (laddr first: the distribution key), extended.
ALTER TABLE flows DROP CONSTRAINT flows_pkey;
ALTER TABLE flows ADD CONSTRAINT flows_key UNIQUE NULLS NOT DISTINCT
	(laddr, lport, direction, proto, raddr, rport, node_name, netns, pgid,
	 comm, service_addr, service_port, nat_peer_addr, nat_peer_port);

-- `look --host <ClusterIP>`: the flows that dialed a Service.
CREATE INDEX flows_service_idx ON flows (service_addr, service_port)
	WHERE service_addr IS NOT NULL;

-- Services from the API server's list, written by the agents with their
-- pods. Like pod IPs, a ClusterIP is reused after its Service is gone: an
-- address names a Service only within [first_seen, last_seen]. ports holds
-- [{"port": 80, "protocol": "TCP", "nodePort": 30080}, ...] (nodePort when
-- there is one), node_ports the nodePorts alone (indexed). Rows not seen for 30 days are deleted by the next write.
CREATE TABLE services (
	uid         text        NOT NULL, -- distribution key (or a reference table)
	namespace   text        NOT NULL,
	name        text        NOT NULL,
	type        text,
	cluster_ips inet[]      NOT NULL DEFAULT '{}',
	ports       jsonb       NOT NULL DEFAULT '[]',
	node_ports  integer[]   NOT NULL DEFAULT '{}', -- the nodePorts of ports
	first_seen  timestamptz NOT NULL,
	last_seen   timestamptz NOT NULL,
	PRIMARY KEY (uid)
);
-- pod_edges finds a Service by cluster IP or by nodePort: both indexed.
-- The table is small and written once a minute per agent: no pending
-- list (fastupdate), which every lookup would scan until a vacuum.
CREATE INDEX services_ips_idx ON services USING gin (cluster_ips)
	WITH (fastupdate = off);
CREATE INDEX services_node_ports_idx ON services USING gin (node_ports)
	WITH (fastupdate = off);
CREATE INDEX services_name_idx ON services (namespace, name);

-- The edges with the Service each active flow dialed (service_addr,
-- service_port), and the real client of a source-NATed passive flow: its
-- client_addr is the nat_peer, nat_seen_addr the address the server saw
-- (a node's). Same columns as version 2 first.
DROP VIEW pod_edges;
DROP VIEW edges;
CREATE VIEW edges AS
SELECT a.proto,
       a.laddr AS client_addr, a.pgid AS client_pgid, a.comm AS client_comm,
       a.container_name AS client_container,
       a.raddr AS server_addr, a.rport AS server_port,
       coalesce(s.pgid, 0) AS server_pgid, coalesce(s.comm, '') AS server_comm,
       s.container_name AS server_container,
       a.connections, a.connections_total, a.first_seen, a.last_seen,
       a.service_addr, a.service_port,
       NULL::inet AS nat_seen_addr
FROM flows a
LEFT JOIN LATERAL (
	SELECT p.pgid, p.comm, p.container_name FROM passive_nodes p
	WHERE p.addr = a.raddr AND p.port = a.rport AND p.proto = a.proto
	ORDER BY p.last_seen DESC LIMIT 1) s ON true
WHERE a.direction = 'active'
UNION ALL
SELECT p.proto,
       coalesce(p.nat_peer_addr, p.raddr), 0, '', NULL,
       p.laddr, p.lport, p.pgid, p.comm, p.container_name,
       p.connections, p.connections_total, p.first_seen, p.last_seen,
       NULL, NULL,
       CASE WHEN p.nat_peer_addr IS NOT NULL THEN p.raddr END
FROM flows p
WHERE p.direction = 'passive'
  AND NOT EXISTS (
	SELECT 1 FROM flows a
	WHERE a.laddr = coalesce(p.nat_peer_addr, p.raddr) AND a.lport = 0
	  AND a.direction = 'active' AND a.proto = p.proto
	  AND a.raddr = p.laddr AND a.rport = p.lport);

-- As in version 4, plus the Service's name: a Service whose lifetime
-- overlaps the edge's and that has the address among its cluster IPs and
-- the port among its ports, or (a NodePort, dialed at any node's address)
-- the port among its nodePorts; a cluster IP match first. Two lookups,
-- each an indexed containment test (an OR of both is not); the tests on
-- the outer row inside them are one-time filters: edges without a Service
-- never read the services table.
CREATE VIEW pod_edges AS
SELECT e.*,
       coalesce(cn.pod_namespace, cp.namespace) AS client_pod_namespace,
       coalesce(cn.pod_name, cp.name) AS client_pod_name,
       coalesce(sn.pod_namespace, sp.namespace) AS server_pod_namespace,
       coalesce(sn.pod_name, sp.name) AS server_pod_name,
       coalesce(sc.namespace, sn2.namespace) AS service_namespace,
       coalesce(sc.name, sn2.name) AS service_name
FROM edges e
LEFT JOIN LATERAL (
	SELECT n.pod_namespace, n.pod_name FROM active_nodes n
	WHERE n.addr = e.client_addr AND n.pgid = e.client_pgid
	  AND n.comm = e.client_comm AND n.pod_name IS NOT NULL
	LIMIT 1) cn ON e.client_pgid <> 0
LEFT JOIN LATERAL (
	SELECT p.namespace, p.name FROM pods p
	WHERE cn.pod_name IS NULL AND p.ips @> ARRAY[e.client_addr]
	  AND NOT p.host_network
	  AND p.first_seen <= e.last_seen
	  AND p.last_seen + interval '1 minute' >= e.first_seen
	ORDER BY p.last_seen DESC LIMIT 1) cp ON true
LEFT JOIN LATERAL (
	SELECT n.pod_namespace, n.pod_name FROM passive_nodes n
	WHERE n.addr = e.server_addr AND n.port = e.server_port
	  AND n.proto = e.proto AND n.pgid = e.server_pgid
	  AND n.comm = e.server_comm AND n.pod_name IS NOT NULL
	LIMIT 1) sn ON e.server_pgid <> 0
LEFT JOIN LATERAL (
	SELECT p.namespace, p.name FROM pods p
	WHERE sn.pod_name IS NULL AND p.ips @> ARRAY[e.server_addr]
	  AND NOT p.host_network
	  AND p.first_seen <= e.last_seen
	  AND p.last_seen + interval '1 minute' >= e.first_seen
	ORDER BY p.last_seen DESC LIMIT 1) sp ON true
LEFT JOIN LATERAL (
	SELECT v.namespace, v.name FROM services v
	WHERE e.service_addr IS NOT NULL
	  AND v.cluster_ips @> ARRAY[e.service_addr]
	  AND v.ports @> jsonb_build_array(jsonb_build_object(
		'port', e.service_port, 'protocol', upper(e.proto)))
	  AND v.first_seen <= e.last_seen
	  AND v.last_seen + interval '5 minutes' >= e.first_seen
	ORDER BY v.last_seen DESC LIMIT 1) sc ON true
LEFT JOIN LATERAL (
	SELECT v.namespace, v.name FROM services v
	WHERE e.service_addr IS NOT NULL AND sc.name IS NULL
	  AND v.node_ports @> ARRAY[e.service_port]
	  AND v.ports @> jsonb_build_array(jsonb_build_object(
		'nodePort', e.service_port, 'protocol', upper(e.proto)))
	  AND v.first_seen <= e.last_seen
	  AND v.last_seen + interval '5 minutes' >= e.first_seen
	ORDER BY v.last_seen DESC LIMIT 1) sn2 ON true;
