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
  connections_total, first_seen, last_seen)
 SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,
  comm, max(container_name), sum(connections)::int,
  sum(new_connections), min(first_seen), max(last_seen)
 FROM shawk_flush_flows GROUP BY laddr, direction, proto, lport, raddr,
  rport, netns, pgid, comm
 ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,
  netns, pgid, comm) DO UPDATE SET
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
-- History as in unique.sql, the repeated keys merged first.
), h AS (
 INSERT INTO flow_history AS o (laddr, lport, direction, proto, raddr,
  rport, node_name, netns, pgid, comm, bucket, seconds, connections)
 SELECT laddr, lport, direction, proto, raddr, rport, $1, netns, pgid,
  comm, b.bucket, $2::integer,
  sum(CASE WHEN b.bucket = shawk_bucket(greatest(s.first_seen,
   to_timestamp($3::float8 / 1000)), greatest($2::integer, 1))
   THEN new_connections ELSE 0 END)
 FROM shawk_flush_flows s, generate_series(shawk_bucket(greatest(
  s.first_seen, to_timestamp($3::float8 / 1000)), greatest($2::integer, 1)),
  s.last_seen, make_interval(secs => greatest($2::integer, 1))) b(bucket)
 WHERE $2::integer > 0 AND s.last_seen >= to_timestamp($3::float8 / 1000)
 GROUP BY laddr, lport, direction, proto, raddr, rport, netns, pgid, comm,
  b.bucket
 ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,
  netns, pgid, comm, bucket) DO UPDATE SET
  connections = o.connections + EXCLUDED.connections
  WHERE EXCLUDED.connections > 0
) SELECT 1
