-- SPDX-License-Identifier: MIT
-- The writes of unique.sql and unique_join.sql, after their lookups k
-- (flows), pk (passive nodes) and ak (active nodes): each gives every
-- staged row's i, the matched row's ctid (tid, NULL if none), known, and k
-- also the matched row's last_seen (old_last). The updates go through the
-- ctid (a TID scan of the matched rows, never a second key lookup), and
-- the inserts take the staged rows that no known lookup row names (an
-- anti join whose hash holds only the known rows: nothing to build for a
-- batch of new flows). The lookups stay narrow: k once carried every
-- staged column, and materializing 100k of those wide rows, then joining
-- them back for the insert, cost a new flow more than a quarter of the
-- flush without history (EXPLAIN ANALYZE, 100k new flows: k's scan 215
-- ms and the active nodes' merge join 82 ms, against 42 and 15 ms for
-- the anti joins of the flush of the day issue 19 was filed).
), u AS (
 UPDATE flows AS o SET connections = s.connections::int,
  connections_total = o.connections_total + s.new_connections,
  first_seen = least(o.first_seen, s.first_seen),
  last_seen = greatest(o.last_seen, s.last_seen),
  container_name = coalesce(s.container_name, o.container_name)
 FROM k JOIN shawk_flush_flows s ON s.i = k.i
 WHERE o.ctid = ANY (ARRAY(SELECT tid FROM k WHERE known))
  AND o.ctid = k.tid AND o.laddr = s.laddr
  AND ($2::integer = 0 OR s.new_connections > 0
   OR o.connections <> s.connections OR s.first_seen < o.first_seen
   OR o.last_seen < shawk_bucket(s.last_seen, greatest($2::integer, 1))
   OR o.container_name IS DISTINCT FROM
    coalesce(s.container_name, o.container_name))
 RETURNING s.i, o.laddr, o.flow_id, s.first_seen, s.last_seen,
  s.new_connections, k.old_last
), f AS (
 INSERT INTO flows (laddr, node_name, direction, proto, lport,
  raddr, rport, netns, pgid, comm, container_name, connections,
  connections_total, first_seen, last_seen, service_addr, service_port,
  nat_peer_addr, nat_peer_port)
 SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,
  comm, container_name, connections::int, new_connections,
  first_seen, last_seen, service_addr, service_port, nat_peer_addr,
  nat_peer_port FROM shawk_flush_flows s
 WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.i = s.i AND k.known)
 RETURNING laddr, flow_id, first_seen, last_seen, connections_total
-- The nodes the same way as the flows: update those that exist and
-- changed, insert the others plainly. The staged row is named "excluded" as in
-- ON CONFLICT, so that both statements share _node_set.sql.
), pu AS (
 UPDATE passive_nodes AS o SET
\ir _node_set.sql
 FROM shawk_flush_passive excluded JOIN pk ON pk.i = excluded.i
 WHERE o.ctid = ANY (ARRAY(SELECT tid FROM pk WHERE known))
  AND o.ctid = pk.tid AND o.addr = excluded.addr
\ir _node_changed.sql
 RETURNING excluded.i
), pn AS (
\ir _passive_insert.sql
 WHERE NOT EXISTS (SELECT 1 FROM pk WHERE pk.i = s.i AND pk.known)
), au AS (
 UPDATE active_nodes AS o SET
\ir _node_set.sql
 FROM shawk_flush_active excluded JOIN ak ON ak.i = excluded.i
 WHERE o.ctid = ANY (ARRAY(SELECT tid FROM ak WHERE known))
  AND o.ctid = ak.tid AND o.addr = excluded.addr
\ir _node_changed.sql
 RETURNING excluded.i
), an AS (
\ir _active_insert.sql
 WHERE NOT EXISTS (SELECT 1 FROM ak WHERE ak.i = s.i AND ak.known)
-- The history of the flows written: a flow that u left alone has nothing
-- new to say (no new connection, its last_seen already in the bucket
-- whose row an earlier flush wrote). Rows are keyed by the flow row's
-- laddr and flow_id (u's RETURNING: the stored id; f's: the one its
-- insert drew). A new flow's buckets have no row yet, nor those of a
-- known flow that start after its row's last_seen before this statement
-- (k's old_last): every history row was written with a bucket at or
-- before its flow's last_seen. Those flows' rows are a plain INSERT
-- (hn); meeting a row after all (another writer with this node name,
-- between k's snapshot and now) is a unique violation, and the batch goes
-- again through grouped.sql. The other updated flows' rows add up
-- through ON CONFLICT (hu), which costs twice a plain insert.
), hall AS NOT MATERIALIZED (
 SELECT u.laddr, u.flow_id, u.last_seen, u.new_connections, h.b0,
  h.b0 > u.old_last AS plain
 FROM u,
 LATERAL (SELECT shawk_bucket(greatest(u.first_seen,
  to_timestamp($3::float8 / 1000)), greatest($2::integer, 1)) AS b0) h
 UNION ALL
 SELECT laddr, flow_id, last_seen, connections_total,
  shawk_bucket(greatest(first_seen, to_timestamp($3::float8 / 1000)),
   greatest($2::integer, 1)), true
 FROM f
), hu AS (
 WITH hw AS NOT MATERIALIZED (SELECT * FROM hall WHERE NOT plain)
\ir _history_insert.sql
\ir _history_conflict.sql
), hn AS (
 WITH hw AS NOT MATERIALIZED (SELECT * FROM hall WHERE plain)
\ir _history_insert.sql
) SELECT 1
