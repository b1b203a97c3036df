-- SPDX-License-Identifier: MIT
-- Inserts the staged passive nodes (staging rows aliased s); the including
-- statement adds its WHERE or ON CONFLICT.
 INSERT INTO passive_nodes AS o (addr, port, proto, pgid, comm,
  node_name, pid, cmdline, cgroup, container_id, container_name,
  pod_namespace, pod_name, pod_uid, first_seen, last_seen)
 SELECT addr, port, proto, pgid, comm, $1, pid, cmdline, cgroup,
  container_id, container_name, pod_namespace, pod_name, pod_uid,
  first_seen, last_seen FROM shawk_flush_passive s
