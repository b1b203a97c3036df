-- SPDX-License-Identifier: MIT
-- The history rows (sql/007_history.sql, key of 009) of the flows in CTE
-- hw (aliased w: the flows key without node_name, the batch's first_seen
-- and last_seen, new_connections, and "known": whether the flow row
-- existed), included by unique.sql and grouped.sql, which add a condition
-- on w.known and their ON CONFLICT. Each flow is active in every bucket
-- of width $2 seconds from its first_seen to its last_seen in this batch
-- (after an outage, the buckets of when it was seen, not of now), not
-- before $3 (epoch ms: the retention, whose partitions the flush's BEGIN
-- created); its new connections go to the bucket of its first_seen.
-- $2 = 0: no history.
 INSERT INTO flow_history AS o (laddr, lport, direction, proto, raddr,
  rport, node_name, netns, pgid, comm, service_addr, service_port,
  nat_peer_addr, nat_peer_port, bucket, seconds, connections)
 SELECT w.laddr, w.lport, w.direction, w.proto, w.raddr, w.rport, $1,
  w.netns, w.pgid, w.comm, w.service_addr, w.service_port,
  w.nat_peer_addr, w.nat_peer_port, b.bucket, $2::integer,
  CASE WHEN b.bucket = shawk_bucket(greatest(w.first_seen,
   to_timestamp($3::float8 / 1000)), greatest($2::integer, 1))
   THEN w.new_connections ELSE 0 END
 FROM hw w, generate_series(shawk_bucket(greatest(w.first_seen,
  to_timestamp($3::float8 / 1000)), greatest($2::integer, 1)),
  w.last_seen, make_interval(secs => greatest($2::integer, 1))) b(bucket)
 WHERE $2::integer > 0 AND w.last_seen >= to_timestamp($3::float8 / 1000)
