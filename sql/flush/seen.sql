-- SPDX-License-Identifier: MIT
-- $1 node_name. Before the flows are written: records the identities of
-- the batch's new connections (shawk_flush_conns: flow row i, conn_id)
-- and takes those recorded before — by an earlier agent process on this
-- boot, which counted them already — off the flows' new_connections. An
-- inserted row has xmax 0; one that existed is updated (last_seen), which
-- sets it.
WITH seen AS (
 INSERT INTO seen_conns AS o (node_name, conn_id, last_seen)
 SELECT DISTINCT $1::text, conn_id, now() FROM shawk_flush_conns
 ORDER BY 2
 ON CONFLICT (node_name, conn_id) DO UPDATE SET last_seen = excluded.last_seen
 RETURNING o.conn_id, o.xmax <> 0 AS before
), old AS (
 SELECT c.i, count(*) AS n FROM shawk_flush_conns c
 JOIN seen USING (conn_id) WHERE seen.before GROUP BY c.i
)
UPDATE shawk_flush_flows s SET new_connections = greatest(s.new_connections - old.n, 0)
FROM old WHERE s.i = old.i
