-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 10: a narrow history key (issue 19).
--
-- Versions 7 and 9 keyed flow_history by the whole flows key (14
-- columns, six of them text or inet compared by value) and the bucket: a
-- history row was as wide as its flow, and its index entry wider, so the
-- history cost the flush more than the flows themselves. A flow now has a
-- random 64-bit id (flows.flow_id), and its history rows are keyed by
-- (laddr, flow_id, bucket): laddr stays the distribution key, co-located
-- with the flow's row; the id names the flow within its address. No
-- sequence, no global state: the id is drawn where the row is inserted.
-- Two flows of one address drawing the same id (about n^2 / 2^65 for n
-- flows of one address) would share their history. flows has no index
-- on it: nothing looks a flow up by its id (look goes from flows to their
-- history).
--
-- The history of a flow is now that of its flows row, node_name and
-- netns included: the same edge seen by two agents (e.g. one address
-- behind two docker bridges) no longer counts the other's history.
--
-- Agents older than this schema write the old history columns: their
-- flushes fail until they are upgraded (they keep their flows buffered
-- meanwhile), as a new agent's do on a CMDB not yet upgraded.

-- 32 + 32 random bits (random() has 52).
CREATE FUNCTION shawk_flow_id() RETURNS bigint LANGUAGE sql VOLATILE
PARALLEL RESTRICTED AS
$$ SELECT (floor(random() * 4294967296)::bigint << 32)
	  # floor(random() * 4294967296)::bigint $$;

-- Every existing flow draws its id now (the table is rewritten once).
ALTER TABLE flows ADD COLUMN flow_id bigint NOT NULL DEFAULT shawk_flow_id();

-- The old history and its partitions step aside under other names; the
-- new table takes the names shawk_prune and shawk_history_prepare know.
ALTER TABLE flow_history RENAME TO flow_history_v9;
DO $$
DECLARE
	p record;
BEGIN
	FOR p IN
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'flow_history_v9'::regclass
	LOOP
		EXECUTE format('ALTER TABLE %I RENAME TO %I', p.relname,
			       'v9_' || p.relname);
	END LOOP;
END
$$;

-- One row per flow and bucket, partitioned by day as in version 7.
CREATE TABLE flow_history (
	laddr       inet        NOT NULL, -- distribution key: flows.laddr
	flow_id     bigint      NOT NULL, -- flows.flow_id
	bucket      timestamptz NOT NULL, -- start of the bucket
	seconds     integer     NOT NULL, -- its width (SHAWK_HISTORY_BUCKET)
	connections bigint      NOT NULL, -- connections started in it
	-- laddr first: a batch's rows come in flows key order, so their
	-- index entries land on neighbouring leaf pages. With flow_id (a
	-- random number) first, a 100k-flow flush ran at 0.67 of the flush
	-- without history, against 0.75 and 0.81 with laddr first (one
	-- run each, on a shared machine).
	PRIMARY KEY (laddr, flow_id, bucket)
) PARTITION BY RANGE (bucket);

-- Existing data kept: each history row goes to the flow of its key; rows
-- of flows deleted meanwhile (which no look could reach) go with the old
-- table.
DO $$
DECLARE
	lo timestamptz;
	hi timestamptz;
BEGIN
	SELECT min(bucket), max(bucket) INTO lo, hi FROM flow_history_v9;
	PERFORM shawk_history_prepare(least(coalesce(lo, now()), now()),
				      greatest(coalesce(hi, now()), now())
				      + interval '1 day');
END
$$;
INSERT INTO flow_history (laddr, flow_id, bucket, seconds, connections)
SELECT f.laddr, f.flow_id, h.bucket, max(h.seconds), sum(h.connections)
FROM flow_history_v9 h JOIN flows f
	ON h.laddr = f.laddr AND h.lport = f.lport
	AND h.direction = f.direction AND h.proto = f.proto
	AND h.raddr = f.raddr AND h.rport = f.rport
	AND h.node_name = f.node_name AND h.netns = f.netns
	AND h.pgid = f.pgid AND h.comm = f.comm
	AND h.service_addr IS NOT DISTINCT FROM f.service_addr
	AND h.service_port IS NOT DISTINCT FROM f.service_port
	AND h.nat_peer_addr IS NOT DISTINCT FROM f.nat_peer_addr
	AND h.nat_peer_port IS NOT DISTINCT FROM f.nat_peer_port
GROUP BY f.laddr, f.flow_id, h.bucket;
DROP TABLE flow_history_v9;

-- The edges name the flows row they come from (flow_addr, flow_id): an
-- active flow's is its client's address, a passive one's its server's.
-- look reads an edge's history by them. Added at the end: pod_edges
-- (e.* and its own columns) is created again.
DROP VIEW pod_edges;
CREATE OR REPLACE VIEW edges AS
SELECT a.proto,
       a.laddr AS client_addr, a.pgid AS client_pgid, a.comm AS client_comm,
       a.container_name AS client_container,
       a.raddr AS server_addr, a.rport AS server_port,
       coalesce(s.pgid, 0) AS server_pgid, coalesce(s.comm, '') AS server_comm,
       s.container_name AS server_container,
       a.connections, a.connections_total, a.first_seen, a.last_seen,
       a.service_addr, a.service_port,
       NULL::inet AS nat_seen_addr,
       a.laddr AS flow_addr, a.flow_id
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
       CASE WHEN p.nat_peer_addr IS NOT NULL THEN p.raddr END,
       p.laddr, p.flow_id
FROM flows p
WHERE p.direction = 'passive'
  AND NOT EXISTS (
	SELECT 1 FROM flows a
	WHERE a.laddr = coalesce(p.nat_peer_addr, p.raddr) AND a.lport = 0
	  AND a.direction = 'active' AND a.proto = p.proto
	  AND a.raddr = p.laddr AND a.rport = p.lport);

-- As in version 6.
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

-- The history with the key of its flow, for people and scripts asking
-- SQL ("which buckets was this process active in?"); look does not use it.
CREATE VIEW flow_activity AS
SELECT f.laddr, f.lport, f.direction, f.proto, f.raddr, f.rport,
       f.node_name, f.netns, f.pgid, f.comm, f.service_addr,
       f.service_port, f.nat_peer_addr, f.nat_peer_port, f.flow_id,
       h.bucket, h.seconds, h.connections
FROM flow_history h
JOIN flows f ON f.laddr = h.laddr AND f.flow_id = h.flow_id;

-- Whether a flow has history near its last_seen (the legacy fallback of
-- version 7: if not, an agent older than version 7 wrote it), by the
-- edge's flow_addr and flow_id.
DROP FUNCTION shawk_edge_has_history(text, inet, bigint, text, inet,
	integer, bigint, text, timestamptz, inet, integer, inet);
CREATE FUNCTION shawk_edge_has_history(e_flow_addr inet, e_flow_id bigint,
	e_last timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT EXISTS (
	SELECT 1 FROM flow_history f
	WHERE f.laddr = e_flow_addr AND f.flow_id = e_flow_id
	  AND f.bucket > e_last - interval '1 day' AND f.bucket <= e_last)
$$;
