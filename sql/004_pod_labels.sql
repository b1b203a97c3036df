-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 4: pods written by the agents, and edges with the
-- pod at each end.

-- A hostNetwork pod shares its node's address: its IPs are recorded, but
-- an address alone never names it (its processes do, by cgroup).
ALTER TABLE pods ADD COLUMN host_network boolean NOT NULL DEFAULT false;

-- The pod at each end of an edge. A process the agents labelled (from its
-- cgroup, in passive_nodes / active_nodes) names its pod; otherwise the
-- address does, through the pods table: only a pod that was not
-- hostNetwork and whose lifetime overlaps the edge's (pod IPs are reused),
-- the latest such pod first. The lifetime ends a minute after the pod was
-- last recorded: agents record pods at each flush, a flow may be written
-- by another agent just before the pod's next record arrives.
CREATE VIEW pod_edges AS
SELECT e.*,
       coalesce(cn.pod_namespace, cp.namespace) AS client_pod_namespace,
       coalesce(cn.pod_name, cp.name) AS client_pod_name,
       coalesce(sn.pod_namespace, sp.namespace) AS server_pod_namespace,
       coalesce(sn.pod_name, sp.name) AS server_pod_name
FROM edges e
LEFT JOIN LATERAL (
	SELECT n.pod_namespace, n.pod_name FROM active_nodes n
	WHERE n.addr = e.client_addr AND n.pgid = e.client_pgid
	  AND n.comm = e.client_comm AND n.pod_name IS NOT NULL
	LIMIT 1) cn ON e.client_pgid <> 0
LEFT JOIN LATERAL (
	SELECT p.namespace, p.name FROM pods p
	WHERE cn.pod_name IS NULL AND p.ips @> ARRAY[e.client_addr]
	  AND NOT p.host_network
	  AND p.first_seen <= e.last_seen
	  AND p.last_seen + interval '1 minute' >= e.first_seen
	ORDER BY p.last_seen DESC LIMIT 1) cp ON true
LEFT JOIN LATERAL (
	SELECT n.pod_namespace, n.pod_name FROM passive_nodes n
	WHERE n.addr = e.server_addr AND n.port = e.server_port
	  AND n.proto = e.proto AND n.pgid = e.server_pgid
	  AND n.comm = e.server_comm AND n.pod_name IS NOT NULL
	LIMIT 1) sn ON e.server_pgid <> 0
LEFT JOIN LATERAL (
	SELECT p.namespace, p.name FROM pods p
	WHERE sn.pod_name IS NULL AND p.ips @> ARRAY[e.server_addr]
	  AND NOT p.host_network
	  AND p.first_seen <= e.last_seen
	  AND p.last_seen + interval '1 minute' >= e.first_seen
	ORDER BY p.last_seen DESC LIMIT 1) sp ON true;

-- `look --pod` finds the addresses of a pod's processes (hostNetwork pods
-- have no address of their own).
CREATE INDEX passive_nodes_pod_idx ON passive_nodes (pod_namespace, pod_name)
	WHERE pod_name IS NOT NULL;
CREATE INDEX active_nodes_pod_idx ON active_nodes (pod_namespace, pod_name)
	WHERE pod_name IS NOT NULL;
