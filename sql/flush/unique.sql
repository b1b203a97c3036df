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
-- k did not match (_unique_write.sql). A row updated meanwhile by another
-- writer with this node name is followed to its new version, as any
-- UPDATE does; one deleted meanwhile (retention: not seen for its
-- retention) is not updated, and the next bucket's refresh inserts it.
-- The updates still equate the distribution column (laddr, addr) with
-- the staged row's, besides the ctid (docs/cmdb.md, Citus). The writes
-- are _unique_write.sql, shared with unique_join.sql: the same statement
-- with plain joins, for a batch planned for its own size.
WITH k AS (
 SELECT s.i, m.tid, m.old_last, m.tid IS NOT NULL AS known
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
), pk AS (
 SELECT s.i, m.tid, m.tid IS NOT NULL AS known
 FROM shawk_flush_passive s LEFT JOIN LATERAL (
  SELECT p.ctid AS tid FROM passive_nodes p
  WHERE p.addr = s.addr AND p.port = s.port AND p.proto = s.proto
   AND p.pgid = s.pgid AND p.comm = s.comm LIMIT 1) m ON true
), ak AS (
 SELECT s.i, m.tid, m.tid IS NOT NULL AS known
 FROM shawk_flush_active s LEFT JOIN LATERAL (
  SELECT p.ctid AS tid FROM active_nodes p
  WHERE p.addr = s.addr AND p.pgid = s.pgid AND p.comm = s.comm
  LIMIT 1) m ON true
\ir _unique_write.sql
