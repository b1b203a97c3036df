-- SPDX-License-Identifier: MIT
-- A history bucket an earlier flush wrote adds up the new connections,
-- and is only touched when it gains some.
 ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,
  netns, pgid, comm, service_addr, service_port, nat_peer_addr,
  nat_peer_port, bucket) DO UPDATE SET
  connections = o.connections + EXCLUDED.connections
  WHERE EXCLUDED.connections > 0
