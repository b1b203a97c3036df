-- SPDX-License-Identifier: MIT
-- unique.sql's condition for rewriting a node (o) from its staged row
-- (excluded): something _node_set.sql sets would change, or last_seen
-- enters a new history bucket ($2 seconds; 0: always, as before the
-- history). An unchanged node is not rewritten at every flush.
  AND ($2::integer = 0 OR o.node_name <> $1
   OR excluded.first_seen < o.first_seen
   OR o.last_seen < shawk_bucket(excluded.last_seen, greatest($2::integer, 1))
   OR ROW(coalesce(excluded.pid, o.pid),
    coalesce(excluded.cmdline, o.cmdline),
    coalesce(excluded.cgroup, o.cgroup),
    coalesce(excluded.container_id, o.container_id),
    coalesce(excluded.container_name, o.container_name),
    coalesce(excluded.pod_namespace, o.pod_namespace),
    coalesce(excluded.pod_name, o.pod_name),
    coalesce(excluded.pod_uid, o.pod_uid))
   IS DISTINCT FROM ROW(o.pid, o.cmdline, o.cgroup, o.container_id,
    o.container_name, o.pod_namespace, o.pod_name, o.pod_uid))
