-- SPDX-License-Identifier: MIT
-- unique.sql for a batch planned for its own size (store.c: over
-- PREPARED_MAX_FLOWS flows, or plan_each): the same writes
-- (_unique_write.sql), the same parameters, but each lookup is a plain
-- LEFT JOIN that the planner may make a hash join. unique.sql's LATERAL
-- probes cost a few microseconds per staged row, which a hash join of a
-- large batch does not (cmdb_bench flush 10000 100000: 15-20 % of the
-- flows/s, with and without the history). The keys are unique (flows_key
-- is NULLS NOT DISTINCT, the nodes' primary keys): at most one row
-- matches a staged row, as with unique.sql's LIMIT 1.
WITH k AS (
 SELECT s.i, o.ctid AS tid, o.last_seen AS old_last,
  o.ctid IS NOT NULL AS known
 FROM shawk_flush_flows s LEFT JOIN flows o
  ON o.laddr = s.laddr AND o.lport = s.lport
  AND o.direction = s.direction AND o.proto = s.proto
  AND o.raddr = s.raddr AND o.rport = s.rport AND o.node_name = $1
  AND o.netns = s.netns AND o.pgid = s.pgid AND o.comm = s.comm
  AND o.service_addr IS NOT DISTINCT FROM s.service_addr
  AND o.service_port IS NOT DISTINCT FROM s.service_port
  AND o.nat_peer_addr IS NOT DISTINCT FROM s.nat_peer_addr
  AND o.nat_peer_port IS NOT DISTINCT FROM s.nat_peer_port
), pk AS (
 SELECT s.i, p.ctid AS tid, p.ctid IS NOT NULL AS known
 FROM shawk_flush_passive s LEFT JOIN passive_nodes p
  ON p.addr = s.addr AND p.port = s.port AND p.proto = s.proto
  AND p.pgid = s.pgid AND p.comm = s.comm
), ak AS (
 SELECT s.i, p.ctid AS tid, p.ctid IS NOT NULL AS known
 FROM shawk_flush_active s LEFT JOIN active_nodes p
  ON p.addr = s.addr AND p.pgid = s.pgid AND p.comm = s.comm
\ir _unique_write.sql
