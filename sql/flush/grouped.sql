-- SPDX-License-Identifier: MIT
-- $1 node_name, $2 history bucket (seconds), $3 history start (epoch
-- ms). Writes the staged batch when some keys repeat (e.g.
-- sanitising turned two comms into the same text), or after unique.sql met
-- a flow or node inserted meanwhile: merge the flows first, and let
-- ON CONFLICT sort out the rows that exist. Node keys are unique in their
-- staging tables (merged client-side): ON CONFLICT may not touch a row
-- twice in one statement.
WITH f AS (
 INSERT INTO flows AS o (laddr, node_name, direction, proto, lport,
  raddr, rport, netns, pgid, comm, container_name, connections,
  connections_total, first_seen, last_seen, service_addr, service_port,
  nat_peer_addr, nat_peer_port)
 SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,
  comm, max(container_name), sum(connections)::int,
  sum(new_connections), min(first_seen), max(last_seen), service_addr,
  service_port, nat_peer_addr, nat_peer_port
 FROM shawk_flush_flows GROUP BY laddr, direction, proto, lport, raddr,
  rport, netns, pgid, comm, service_addr, service_port, nat_peer_addr,
  nat_peer_port
 ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,
  netns, pgid, comm, service_addr, service_port, nat_peer_addr,
  nat_peer_port) DO UPDATE SET
  connections = EXCLUDED.connections,
  connections_total = o.connections_total + EXCLUDED.connections_total,
  first_seen = least(o.first_seen, EXCLUDED.first_seen),
  last_seen = greatest(o.last_seen, EXCLUDED.last_seen),
  container_name = coalesce(EXCLUDED.container_name, o.container_name)
 RETURNING o.laddr, o.lport, o.direction, o.proto, o.raddr, o.rport,
  o.netns, o.pgid, o.comm, o.service_addr, o.service_port,
  o.nat_peer_addr, o.nat_peer_port, o.flow_id
), pn AS (
\ir _passive_insert.sql
 ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET
\ir _node_set.sql
), an AS (
\ir _active_insert.sql
 ON CONFLICT (addr, pgid, comm) DO UPDATE SET
\ir _node_set.sql
-- The history of every staged flow, merged like the flows (the buckets of
-- its earliest first_seen to its latest last_seen), through ON CONFLICT,
-- keyed by the flow row's id: the one it had, or the one its insert drew
-- (f's RETURNING, matched by the flows key: hashed on its NOT NULL
-- columns, the nullable ones compared after).
), g AS (
 SELECT laddr, direction, proto, lport, raddr, rport, netns, pgid, comm,
  service_addr, service_port, nat_peer_addr, nat_peer_port,
  min(first_seen) AS first_seen, max(last_seen) AS last_seen,
  sum(new_connections) AS new_connections
 FROM shawk_flush_flows GROUP BY laddr, direction, proto, lport, raddr,
  rport, netns, pgid, comm, service_addr, service_port, nat_peer_addr,
  nat_peer_port
), hw AS (
 SELECT f.laddr, f.flow_id, g.last_seen, g.new_connections,
  shawk_bucket(greatest(g.first_seen, to_timestamp($3::float8 / 1000)),
   greatest($2::integer, 1)) AS b0
 FROM g JOIN f ON f.laddr = g.laddr AND f.lport = g.lport
  AND f.direction = g.direction AND f.proto = g.proto
  AND f.raddr = g.raddr AND f.rport = g.rport AND f.netns = g.netns
  AND f.pgid = g.pgid AND f.comm = g.comm
  AND f.service_addr IS NOT DISTINCT FROM g.service_addr
  AND f.service_port IS NOT DISTINCT FROM g.service_port
  AND f.nat_peer_addr IS NOT DISTINCT FROM g.nat_peer_addr
  AND f.nat_peer_port IS NOT DISTINCT FROM g.nat_peer_port
), h AS (
\ir _history_insert.sql
\ir _history_conflict.sql
) SELECT 1
