-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 11: a flow's first history bucket on its flows row
-- (issue 19).
--
-- Every new flow wrote one flow_history row, for the bucket of its
-- first_seen, in the statement that inserted its flows row: a second row
-- and a second index entry per new flow (a history row cost about a third
-- of a flows row: the flush of new flows ran at 0.74-0.83 of the flush
-- without history, against a target of 0.8). That bucket now lives on the
-- flows row itself, written by the same insert: first_bucket (its start),
-- first_bucket_seconds (its width) and first_bucket_connections (the
-- connections started in it; later flushes in that bucket add theirs to
-- it, in the update that rewrites the row anyway). flow_history keeps
-- every other bucket. A flow's history is thus flow_history's rows of
-- (laddr, flow_id) plus, when first_bucket is set, that one bucket; the
-- flow_activity view and look read both. A bucket is in one place only:
-- the flush writes no flow_history row for a flow's first_bucket.
--
-- Existing flows keep first_bucket NULL and their history where it is;
-- flows written by the grouped statement (repeated keys, races) too when
-- they already exist. No data moves. Retention clears first buckets older
-- than the partitions it keeps (shawk_prune, below).
--
-- Agents older than this schema insert flows without first_bucket and
-- write every bucket to flow_history, as before: their history stays
-- whole.

ALTER TABLE flows ADD COLUMN first_bucket timestamptz,
	ADD COLUMN first_bucket_seconds integer,
	ADD COLUMN first_bucket_connections bigint;

-- The edges carry their flows row's first bucket (look reads it with the
-- edge's flow_history rows). Added at the end: pod_edges is created again.
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
       a.laddr AS flow_addr, a.flow_id,
       a.first_bucket, a.first_bucket_seconds, a.first_bucket_connections
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
       p.laddr, p.flow_id,
       p.first_bucket, p.first_bucket_seconds, p.first_bucket_connections
FROM flows p
WHERE p.direction = 'passive'
  AND NOT EXISTS (
	SELECT 1 FROM flows a
	WHERE a.laddr = coalesce(p.nat_peer_addr, p.raddr) AND a.lport = 0
	  AND a.direction = 'active' AND a.proto = p.proto
	  AND a.raddr = p.laddr AND a.rport = p.lport);

-- As in version 10.
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

-- The history with the key of its flow: flow_history's rows and the
-- first bucket kept on the flows row.
CREATE OR REPLACE VIEW flow_activity AS
SELECT f.laddr, f.lport, f.direction, f.proto, f.raddr, f.rport,
       f.node_name, f.netns, f.pgid, f.comm, f.service_addr,
       f.service_port, f.nat_peer_addr, f.nat_peer_port, f.flow_id,
       h.bucket, h.seconds, h.connections
FROM flow_history h
JOIN flows f ON f.laddr = h.laddr AND f.flow_id = h.flow_id
UNION ALL
SELECT f.laddr, f.lport, f.direction, f.proto, f.raddr, f.rport,
       f.node_name, f.netns, f.pgid, f.comm, f.service_addr,
       f.service_port, f.nat_peer_addr, f.nat_peer_port, f.flow_id,
       f.first_bucket, f.first_bucket_seconds, f.first_bucket_connections
FROM flows f
WHERE f.first_bucket IS NOT NULL;

-- As in version 7, and the first buckets of the days it drops.
CREATE OR REPLACE FUNCTION shawk_prune(retention interval, batch integer,
	every interval, OUT skipped boolean, OUT partitions integer,
	OUT deleted bigint, OUT more boolean)
LANGUAGE plpgsql AS $$
DECLARE
	cutoff timestamptz := now() - retention;
	p record;
	n bigint;
BEGIN
	skipped := true; partitions := 0; deleted := 0; more := false;
	-- "SHWL": another key than create-scheme's lock.
	IF NOT pg_try_advisory_xact_lock(1397249868) THEN
		RETURN;
	END IF;
	IF every IS NOT NULL AND EXISTS (SELECT 1 FROM shawk_prune_state
		WHERE NOT pending AND finished_at > now() - every) THEN
		RETURN;
	END IF;
	skipped := false;
	PERFORM set_config('lock_timeout', '1s', true);
	FOR p IN
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'flow_history'::regclass
		  AND c.relname ~ '^flow_history_p[0-9]{8}$'
		  AND (to_date(substr(c.relname, 15), 'YYYYMMDD') + 1)::timestamp
			AT TIME ZONE 'UTC' <= cutoff
		ORDER BY c.relname
	LOOP
		BEGIN
			EXECUTE format('DROP TABLE %I', p.relname);
			partitions := partitions + 1;
		EXCEPTION WHEN lock_not_available THEN
			more := true;
			EXIT;
		END;
	END LOOP;
	-- The first buckets kept on flows rows (version 11) go with the
	-- partitions of their days: those before the oldest day kept.
	UPDATE flows SET first_bucket = NULL, first_bucket_seconds = NULL,
		first_bucket_connections = NULL
	WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM flows WHERE first_bucket <
			date_trunc('day', cutoff AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
		LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	more := more OR n >= batch;
	-- No index on last_seen (it would make every flush's update of it
	-- a non-HOT one): a bounded scan per table.
	DELETE FROM flows WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM flows WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM passive_nodes WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM passive_nodes WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM active_nodes WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM active_nodes WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM pods WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM pods WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	INSERT INTO shawk_prune_state AS o (finished_at, pending)
		VALUES (now(), more)
		ON CONFLICT (id) DO UPDATE SET finished_at = EXCLUDED.finished_at,
			pending = EXCLUDED.pending;
END
$$;
