-- SPDX-License-Identifier: MIT
-- $1 node_name. Writes the staged batch when some keys repeat (e.g.
-- sanitising turned two comms into the same text), or after unique.sql met
-- a flow or node inserted meanwhile: merge the flows first, and let
-- ON CONFLICT sort out the rows that exist. Node keys are unique in their
-- staging tables (merged client-side): ON CONFLICT may not touch a row
-- twice in one statement.
WITH f AS (
 INSERT INTO flows AS o (laddr, node_name, direction, proto, lport,
  raddr, rport, netns, pgid, comm, container_name, connections,
  connections_total, first_seen, last_seen)
 SELECT laddr, $1, direction, proto, lport, raddr, rport, netns, pgid,
  comm, max(container_name), sum(connections)::int,
  sum(new_connections), min(first_seen), max(last_seen)
 FROM shawk_flush_flows GROUP BY laddr, direction, proto, lport, raddr,
  rport, netns, pgid, comm
 ON CONFLICT (laddr, lport, direction, proto, raddr, rport, node_name,
  netns, pgid, comm) DO UPDATE SET
  connections = EXCLUDED.connections,
  connections_total = o.connections_total + EXCLUDED.connections_total,
  first_seen = least(o.first_seen, EXCLUDED.first_seen),
  last_seen = greatest(o.last_seen, EXCLUDED.last_seen),
  container_name = coalesce(EXCLUDED.container_name, o.container_name)
), pn AS (
 INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,
  node_name, pid, cmdline, cgroup, container_id, container_name,
  pod_namespace, pod_name, pod_uid, first_seen, last_seen)
 SELECT addr, port, proto, pgid, comm, $1, pid, cmdline, cgroup,
  container_id, container_name, pod_namespace, pod_name, pod_uid,
  first_seen, last_seen FROM shawk_flush_passive
 ON CONFLICT (addr, port, proto, pgid, comm) DO UPDATE SET
  node_name = EXCLUDED.node_name,
  pid = coalesce(EXCLUDED.pid, o.pid),
  cmdline = coalesce(EXCLUDED.cmdline, o.cmdline),
  cgroup = coalesce(EXCLUDED.cgroup, o.cgroup),
  container_id = coalesce(EXCLUDED.container_id, o.container_id),
  container_name = coalesce(EXCLUDED.container_name, o.container_name),
  pod_namespace = coalesce(EXCLUDED.pod_namespace, o.pod_namespace),
  pod_name = coalesce(EXCLUDED.pod_name, o.pod_name),
  pod_uid = coalesce(EXCLUDED.pod_uid, o.pod_uid),
  first_seen = least(o.first_seen, EXCLUDED.first_seen),
  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)
), an AS (
 INSERT INTO active_nodes AS o (addr, pgid, comm, node_name, pid,
  cmdline, cgroup, container_id, container_name, pod_namespace,
  pod_name, pod_uid, first_seen, last_seen)
 SELECT addr, pgid, comm, $1, pid, cmdline, cgroup, container_id,
  container_name, pod_namespace, pod_name, pod_uid, first_seen,
  last_seen FROM shawk_flush_active
 ON CONFLICT (addr, pgid, comm) DO UPDATE SET
  node_name = EXCLUDED.node_name,
  pid = coalesce(EXCLUDED.pid, o.pid),
  cmdline = coalesce(EXCLUDED.cmdline, o.cmdline),
  cgroup = coalesce(EXCLUDED.cgroup, o.cgroup),
  container_id = coalesce(EXCLUDED.container_id, o.container_id),
  container_name = coalesce(EXCLUDED.container_name, o.container_name),
  pod_namespace = coalesce(EXCLUDED.pod_namespace, o.pod_namespace),
  pod_name = coalesce(EXCLUDED.pod_name, o.pod_name),
  pod_uid = coalesce(EXCLUDED.pod_uid, o.pod_uid),
  first_seen = least(o.first_seen, EXCLUDED.first_seen),
  last_seen = greatest(o.last_seen, EXCLUDED.last_seen)
) SELECT 1
