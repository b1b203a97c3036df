-- SPDX-License-Identifier: MIT
-- The history rows of the staged flows (sql/007_history.sql), included by
-- unique.sql and grouped.sql: each flow is active in every bucket of
-- width $2 seconds from its first_seen to its last_seen in this batch
-- (after an outage, the buckets of when it was seen, not of now), not
-- before $3 (epoch ms: the retention, whose partitions the flush's BEGIN
-- created); its new connections go to the bucket of its first_seen.
-- Grouped by the history's key: flows that differ only in columns the
-- history does not keep (or repeated keys) share a row, and ON CONFLICT
-- may not touch a row twice. A bucket an earlier flush wrote adds up,
-- and is only touched when it gains connections. $2 = 0: no history.
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
