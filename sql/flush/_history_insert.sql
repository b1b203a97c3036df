-- SPDX-License-Identifier: MIT
-- The history rows (sql/010_history_narrow.sql: keyed by the flow's
-- laddr and flow_id, and the bucket) of the flows in CTE hw (laddr,
-- flow_id, the batch's last_seen, new_connections, and b0: the bucket of
-- the batch's first_seen, not before $3), included by unique.sql and
-- grouped.sql, which add their ON CONFLICT. Each flow is active in every bucket of width $2 seconds from its
-- first_seen (b0) to its last_seen in this batch (after an outage, the
-- buckets of when it was seen, not of now), not before $3 (epoch ms: the
-- retention, whose partitions the flush's BEGIN created); its new
-- connections go to the bucket of its first_seen. Most flows of a batch
-- are in one bucket: those are written without a generate_series()
-- (a function scan per flow: ~10% of the history's cost). $2 = 0: no
-- history.
 INSERT INTO flow_history AS o (laddr, flow_id, bucket, seconds,
  connections)
 SELECT w.laddr, w.flow_id, w.b0, $2::integer, w.new_connections
 FROM hw w
 WHERE $2::integer > 0 AND w.last_seen >= to_timestamp($3::float8 / 1000)
  AND w.last_seen < w.b0 + make_interval(secs => greatest($2::integer, 1))
 UNION ALL
 SELECT w.laddr, w.flow_id, b.bucket, $2::integer,
  CASE WHEN b.bucket = w.b0 THEN w.new_connections ELSE 0 END
 FROM hw w, generate_series(w.b0, w.last_seen,
   make_interval(secs => greatest($2::integer, 1))) b(bucket)
 WHERE $2::integer > 0
  AND w.last_seen >= w.b0 + make_interval(secs => greatest($2::integer, 1))
