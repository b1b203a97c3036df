-- SPDX-License-Identifier: MIT
-- $1 node_name, $2 history bucket (seconds), $3 history start (epoch
-- ms). Writes the staged batch when every flow key in it is
-- distinct (the usual case: the probe's flow table is keyed by it).
--
-- The flows and nodes that exist are updated through a join, and only the
-- others are inserted, by a plain INSERT. That is half the work of
-- INSERT ... ON CONFLICT, whose speculative insertion checks, inserts and
-- confirms every row (measured in psql on 100k flows: 640 ms vs 780-1190
-- ms for new flows, 470 vs 480-770 ms for existing ones). Flow keys start
-- with this agent's node_name: only two agents given the same node name
-- can race on one. Nodes are shared between agents (the same address, pgid
-- and comm on several hosts, e.g. behind a docker bridge): two agents may
-- insert the same new node at the same moment. Either race makes the plain
-- INSERT fail with a unique violation; cmdb_store_flush() then rolls back
-- to a savepoint and writes the batch with grouped.sql (ON CONFLICT), one
-- statement more.
--
-- At steady state most flows change nothing but last_seen: a flow is
-- rewritten only when it has new connections, another count, an earlier
-- first_seen or a container name, or when its last_seen enters a new
-- history bucket ($2 seconds; 0: every flow, as before the history). Its
-- activity is in flow_history anyway. (The agent leaves most of those
-- flows out of the batch already: src/cmdb/delta.c.)
--
-- Every staged row is looked up once, in k, by a LATERAL ... LIMIT 1:
-- always a nested loop of index probes, whatever the statistics of the
-- moment (this statement is prepared with a generic plan and kept;
-- temporary tables have none). A plain join was planned as a hash join
-- over a sequential scan of the whole table (the nodes, at every flush:
-- its cost grew with the fleet), or as probes of flows_raddr_idx
-- filtering every flow of a common peer, once in k and again in u. k
-- keeps the row's ctid: u updates through it (a TID scan of the matched
-- rows, never a second key lookup), and the inserts take the staged rows
-- k did not match straight from k. A row updated meanwhile by another
-- writer with this node name is followed to its new version, as any
-- UPDATE does; one deleted meanwhile (retention: not seen for its
-- retention) is not updated, and the next bucket's refresh inserts it.
-- The updates still equate the distribution column (laddr, addr) with
-- the staged row's, besides the ctid (docs/cmdb.md, Citus).
WITH k AS (
 SELECT s.*, m.tid, m.old_last, m.tid IS NOT NULL AS known
 FROM shawk_flush_flows s LEFT JOIN LATERAL (
  SELECT o.ctid AS tid, o.last_seen AS old_last FROM flows o
  WHERE o.laddr = s.laddr AND o.lport = s.lport
   AND o.direction = s.direction AND o.proto = s.proto
   AND o.raddr = s.raddr AND o.rport = s.rport AND o.node_name = $1
   AND o.netns = s.netns AND o.pgid = s.pgid AND o.comm = s.comm
   AND o.service_addr IS NOT DISTINCT FROM s.service_addr
   AND o.service_port IS NOT DISTINCT FROM s.service_port
   AND o.nat_peer_addr IS NOT DISTINCT FROM s.nat_peer_addr
   AND o.nat_peer_port IS NOT DISTINCT FROM s.nat_peer_port
  LIMIT 1) m ON true
), u AS (
 UPDATE flows AS o SET connections = s.connections::int,
  connections_total = o.connections_total + s.new_connections,
  first_seen = least(o.first_seen, s.first_seen),
  last_seen = greatest(o.last_seen, s.last_seen),
  container_name = coalesce(s.container_name, o.container_name)
 FROM k s
 WHERE o.ctid = ANY (ARRAY(SELECT tid FROM k WHERE known))
  AND o.ctid = s.tid AND o.laddr = s.laddr
  AND ($2::integer = 0 OR s.new_connections > 0
   OR o.connections <> s.connections OR s.first_seen < o.first_seen
   OR o.last_seen < shawk_bucket(s.last_seen, greatest($2::integer, 1))
   OR o.container_name IS DISTINCT FROM
    coalesce(s.container_name, o.container_name))
 RETURNING s.i, o.laddr, o.flow_id, s.first_seen, s.last_seen,
  s.new_connections, s.old_last
), f AS (
 INSERT INTO flows (laddr, node_name, direction, proto, lport,
  raddr, rport, netns, pgid, comm, container_name, connections,
  connections_total, first_seen, last_seen, service_addr, service_port,
  nat_peer_addr, nat_peer_port)
 SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,
  comm, container_name, connections::int, new_connections,
  first_seen, last_seen, service_addr, service_port, nat_peer_addr,
  nat_peer_port FROM k WHERE NOT known
 RETURNING laddr, flow_id, first_seen, last_seen, connections_total
-- The nodes the same way as the flows: update those that exist and
-- changed, insert the others plainly. The staged row is named "excluded" as in
-- ON CONFLICT, so that both statements share _node_set.sql.
), pk AS (
 SELECT s.i, m.tid, m.tid IS NOT NULL AS known
 FROM shawk_flush_passive s LEFT JOIN LATERAL (
  SELECT p.ctid AS tid FROM passive_nodes p
  WHERE p.addr = s.addr AND p.port = s.port AND p.proto = s.proto
   AND p.pgid = s.pgid AND p.comm = s.comm LIMIT 1) m ON true
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
 JOIN pk ON pk.i = s.i AND NOT pk.known
), ak AS (
 SELECT s.i, m.tid, m.tid IS NOT NULL AS known
 FROM shawk_flush_active s LEFT JOIN LATERAL (
  SELECT p.ctid AS tid FROM active_nodes p
  WHERE p.addr = s.addr AND p.pgid = s.pgid AND p.comm = s.comm
  LIMIT 1) m ON true
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
 JOIN ak ON ak.i = s.i AND NOT ak.known
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
