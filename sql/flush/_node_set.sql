-- SPDX-License-Identifier: MIT
-- The SET list of a node update (passive_nodes or active_nodes, aliased
-- o) from a staged node row named "excluded": the ON CONFLICT row in
-- grouped.sql, the staging table's row in unique.sql. Known values
-- replace unknown ones, the time range widens. $1 is this agent's
-- node_name, the name every staged row carries.
  node_name = $1,
  pid = coalesce(excluded.pid, o.pid),
  cmdline = coalesce(excluded.cmdline, o.cmdline),
  cgroup = coalesce(excluded.cgroup, o.cgroup),
  container_id = coalesce(excluded.container_id, o.container_id),
  container_name = coalesce(excluded.container_name, o.container_name),
  pod_namespace = coalesce(excluded.pod_namespace, o.pod_namespace),
  pod_name = coalesce(excluded.pod_name, o.pod_name),
  pod_uid = coalesce(excluded.pod_uid, o.pod_uid),
  first_seen = least(o.first_seen, excluded.first_seen),
  last_seen = greatest(o.last_seen, excluded.last_seen)
