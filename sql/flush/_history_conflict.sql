-- SPDX-License-Identifier: MIT
-- A history bucket an earlier flush wrote adds up the new connections,
-- and is only touched when it gains some.
 ON CONFLICT (laddr, flow_id, bucket) DO UPDATE SET
  connections = o.connections + EXCLUDED.connections
  WHERE EXCLUDED.connections > 0
