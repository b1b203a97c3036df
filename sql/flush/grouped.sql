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
), pn AS (
\ir _passive_insert.sql
 ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET
\ir _node_set.sql
), an AS (
\ir _active_insert.sql
 ON CONFLICT (addr, pgid, comm) DO UPDATE SET
\ir _node_set.sql
-- The history of every staged flow, merged like the flows (the buckets of
-- its earliest first_seen to its latest last_seen), through ON CONFLICT.
), hw AS (
 SELECT laddr, direction, proto, lport, raddr, rport, netns, pgid, comm,
  service_addr, service_port, nat_peer_addr, nat_peer_port,
  min(first_seen) AS first_seen, max(last_seen) AS last_seen,
  sum(new_connections) AS new_connections, true AS known
 FROM shawk_flush_flows GROUP BY laddr, direction, proto, lport, raddr,
  rport, netns, pgid, comm, service_addr, service_port, nat_peer_addr,
  nat_peer_port
), h AS (
\ir _history_insert.sql
\ir _history_conflict.sql
) SELECT 1
