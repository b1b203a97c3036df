-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 9: the history keeps the Service and the NAT peer
-- (issue 19 after issue 15). Since version 6 a flow's identity includes
-- the Service it dialed (service_addr, service_port) and a passive
-- flow's source-NATed client (nat_peer_addr, nat_peer_port); version 7's
-- history did not, so a call through a Service and the direct call to
-- the same backend shared their history rows, and a windowed `look`
-- showed the one active whenever the other was. The history key is now
-- the flows key and the bucket (NULLs equal, as in flows).
--
-- Agents older than this schema name the old key in their flush's
-- ON CONFLICT: their flushes fail until they are upgraded (they keep
-- their flows buffered meanwhile), as a new agent's do on a CMDB not yet
-- upgraded.
ALTER TABLE flow_history
	ADD COLUMN service_addr  inet,
	ADD COLUMN service_port  integer,
	ADD COLUMN nat_peer_addr inet,
	ADD COLUMN nat_peer_port integer;
ALTER TABLE flow_history DROP CONSTRAINT flow_history_pkey;
ALTER TABLE flow_history ADD CONSTRAINT flow_history_key
	UNIQUE NULLS NOT DISTINCT (laddr, lport, direction, proto, raddr,
		rport, node_name, netns, pgid, comm, service_addr, service_port,
		nat_peer_addr, nat_peer_port, bucket);

-- Existing data kept: the rows written so far belong to every flow with
-- their key; those of a flow through a Service or from a NATed client
-- are copied to its own key (the rows without one stay the direct
-- flow's).
INSERT INTO flow_history (laddr, lport, direction, proto, raddr, rport,
	node_name, netns, pgid, comm, service_addr, service_port,
	nat_peer_addr, nat_peer_port, bucket, seconds, connections)
SELECT h.laddr, h.lport, h.direction, h.proto, h.raddr, h.rport,
       h.node_name, h.netns, h.pgid, h.comm, f.service_addr,
       f.service_port, f.nat_peer_addr, f.nat_peer_port, h.bucket,
       h.seconds, h.connections
FROM flows f JOIN flow_history h
	ON h.laddr = f.laddr AND h.lport = f.lport
	AND h.direction = f.direction AND h.proto = f.proto
	AND h.raddr = f.raddr AND h.rport = f.rport
	AND h.node_name = f.node_name AND h.netns = f.netns
	AND h.pgid = f.pgid AND h.comm = f.comm
	AND h.service_addr IS NULL AND h.nat_peer_addr IS NULL
WHERE f.service_addr IS NOT NULL OR f.nat_peer_addr IS NOT NULL;

-- Whether an edge has history near its last_seen (the legacy fallback of
-- version 7), now with the Service it dialed or the NATed client's
-- address the server saw (the edges view's service_addr/service_port and
-- nat_seen_addr).
DROP FUNCTION shawk_edge_has_history(text, inet, bigint, text, inet,
	integer, bigint, text, timestamptz);
CREATE FUNCTION shawk_edge_has_history(e_proto text, c_addr inet,
	c_pgid bigint, c_comm text, s_addr inet, s_port integer,
	s_pgid bigint, s_comm text, e_last timestamptz, e_svc_addr inet,
	e_svc_port integer, e_nat_seen inet)
RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT EXISTS (
	SELECT 1 FROM flow_history f
	WHERE f.laddr = c_addr AND f.lport = 0 AND f.direction = 'active'
	  AND f.proto = e_proto AND f.raddr = s_addr AND f.rport = s_port
	  AND f.pgid = c_pgid AND f.comm = c_comm
	  AND f.service_addr IS NOT DISTINCT FROM e_svc_addr
	  AND f.service_port IS NOT DISTINCT FROM e_svc_port
	  AND f.bucket > e_last - interval '1 day' AND f.bucket <= e_last
	UNION ALL
	SELECT 1 FROM flow_history f
	WHERE c_pgid = 0 AND c_comm = ''
	  AND f.laddr = s_addr AND f.lport = s_port
	  AND f.direction = 'passive' AND f.proto = e_proto
	  AND f.raddr = coalesce(e_nat_seen, c_addr) AND f.rport = 0
	  AND f.nat_peer_addr IS NOT DISTINCT FROM
		CASE WHEN e_nat_seen IS NOT NULL THEN c_addr END
	  AND f.pgid = s_pgid AND f.comm = s_comm
	  AND f.bucket > e_last - interval '1 day' AND f.bucket <= e_last)
$$;
