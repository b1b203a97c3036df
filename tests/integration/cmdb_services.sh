#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `look` through Kubernetes Services (issue 15) on a real PostgreSQL:
# flows as the agents write them once conntrack names the backend (the
# dialed ClusterIP kept as the flow's service, a source-NATed client kept
# as its nat_peer), pods and the Services list. Checks that
# `look --pod ... --depth 2` walks client -> both replicas -> database
# through the Service, that `look --host <ClusterIP>` (IPv4 and IPv6) roots
# the tree at the Service, the JSON and DOT shapes, an unnamed Service
# (address only), a Service recreated on the same name (the lifetime
# decides) and a NodePort. Rows go in by SQL: what is tested here is the
# reading side; the flush of the four columns is tested by test_flush_data
# and cmdb_schema.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
pg_test_begin

# flow DIR LADDR LPORT RADDR RPORT PGID COMM CONTAINER SVC_ADDR SVC_PORT NAT_ADDR NAT_PORT
flow() {
	local v=(); for x in "${@:9}"; do if [ "$x" = - ]; then v+=(NULL); else v+=("'$x'"); fi; done
	echo "INSERT INTO flows VALUES ('$2', 'node-a', '$1', 'tcp', $3, '$4', $5, 4026531840, $6, '$7', '$8', 2, 10, now() - interval '1 minute', now(), ${v[0]}, ${v[1]}, ${v[2]}, ${v[3]});"
}
node() { # node passive|active ADDR PORT PGID COMM CONTAINER POD_NS POD
	if [ "$1" = passive ]; then
		echo "INSERT INTO passive_nodes (addr, port, proto, pgid, comm, node_name, container_name, pod_namespace, pod_name, first_seen, last_seen) VALUES ('$2', $3, 'tcp', $4, '$5', 'node-a', '$6', '$7', '$8', now() - interval '1 hour', now());"
	else
		echo "INSERT INTO active_nodes (addr, pgid, comm, node_name, container_name, pod_namespace, pod_name, first_seen, last_seen) VALUES ('$2', $4, '$5', 'node-a', '$6', '$7', '$8', now() - interval '1 hour', now());"
	fi
}
pod() { # pod UID NS NAME IP...
	local ips; ips=$(printf ",%s" "${@:4}"); ips=${ips:1}
	echo "INSERT INTO pods (uid, namespace, name, node_name, ips, first_seen, last_seen) VALUES ('$1', '$2', '$3', 'node-a', '{$ips}', now() - interval '1 hour', now());"
}
CO=checkout-7f6d9b8c5-q2w3e CA=catalog-5c4b3a291-aaaa1 CB=catalog-5c4b3a291-bbbb2
{
	pod u1 shop $CO 198.18.62.61 2001:db8:62::61
	pod u2 shop $CA 198.18.62.62 2001:db8:62::62
	pod u3 shop $CB 198.18.62.63
	pod u4 shop mysql-0 198.18.62.70
	node active 198.18.62.61 0 7 checkout checkout shop $CO
	node active 2001:db8:62::61 0 7 checkout checkout shop $CO
	node passive 198.18.62.62 8300 9 catalog catalog shop $CA
	node passive 2001:db8:62::62 8300 9 catalog catalog shop $CA
	node active 198.18.62.62 0 9 catalog catalog shop $CA
	node passive 198.18.62.63 8300 10 catalog catalog shop $CB
	node passive 198.18.62.70 3306 30 mysqld mysql shop mysql-0
	# checkout dials the catalog Service; conntrack named each replica.
	flow active 198.18.62.61 0 198.18.62.62 8300 7 checkout checkout 198.18.162.10 80 - -
	flow active 198.18.62.61 0 198.18.62.63 8300 7 checkout checkout 198.18.162.10 80 - -
	# and the cache Service, which the API server list does not name.
	flow active 198.18.62.61 0 198.18.62.62 8300 7 checkout checkout 198.18.162.99 8300 - -
	# catalog calls its database directly.
	flow active 198.18.62.62 0 198.18.62.70 3306 9 catalog catalog - - - -
	flow passive 198.18.62.70 3306 198.18.62.62 0 30 mysqld mysql - - - -
	# A client outside the cluster through the NodePort, masqueraded:
	# the replica sees the node's address, conntrack the real client.
	flow passive 198.18.62.63 8300 198.18.62.1 0 10 catalog catalog - - 198.18.62.90 0
	# The same over IPv6 through the Service's IPv6 cluster IP.
	flow active 2001:db8:62::61 0 2001:db8:62::62 8300 7 checkout checkout 2001:db8:62::a 80 - -
	# The Service, and an older one that had the same address, gone.
	echo "INSERT INTO services (uid, namespace, name, type, cluster_ips, ports, node_ports, first_seen, last_seen) VALUES ('s1', 'shop', 'catalog', 'NodePort', '{198.18.162.10,2001:db8:62::a}', '[{\"port\": 80, \"protocol\": \"TCP\", \"nodePort\": 30080}]', '{30080}', now() - interval '1 hour', now());"
	echo "INSERT INTO services (uid, namespace, name, type, cluster_ips, ports, first_seen, last_seen) VALUES ('s0', 'old', 'gone', 'ClusterIP', '{198.18.162.10}', '[{\"port\": 80, \"protocol\": \"TCP\"}]', now() - interval '30 days', now() - interval '20 days');"
} >"$tmp/rows.sql"
psql "$CMDB" -XAtq -v ON_ERROR_STOP=1 -f "$tmp/rows.sql" >/dev/null 2>"$tmp/rows.err"
check "rows inserted" test $? -eq 0 || cat "$tmp/rows.err"

L="$SHAWK_BIN look --cmdb $CMDB"
cat >"$tmp/co2" <<EOT
198.18.62.61:many (shop/$CO checkout 'checkout', pgid=7)
├--> 198.18.62.62:8300 (shop/$CA catalog 'catalog', pgid=9) via shop/catalog 198.18.162.10:80  [tcp 2 conns, AGO]
│    └--> 198.18.62.70:3306 (shop/mysql-0 mysql 'mysqld', pgid=30)  [tcp 2 conns, AGO]
├--> 198.18.62.62:8300 (shop/$CA catalog 'catalog', pgid=9) via 198.18.162.99:8300  [tcp 2 conns, AGO]
│    └--> 198.18.62.70:3306 (shop/mysql-0 mysql 'mysqld', pgid=30)  [tcp 2 conns, AGO]
└--> 198.18.62.63:8300 (shop/$CB catalog 'catalog', pgid=10) via shop/catalog 198.18.162.10:80  [tcp 2 conns, AGO]

[2001:db8:62::61]:many (shop/$CO checkout 'checkout', pgid=7)
└--> [2001:db8:62::62]:8300 (shop/$CA catalog 'catalog', pgid=9) via shop/catalog [2001:db8:62::a]:80  [tcp 2 conns, AGO]
EOT
expect "look --pod checkout --depth 2 walks through the Service to both replicas and the database" "$tmp/co2" $L --pod shop/$CO --depth 2

cat >"$tmp/svc" <<EOT
198.18.162.10:80 (service shop/catalog)
├<-- 198.18.62.61:many (shop/$CO checkout 'checkout', pgid=7)  [tcp 4 conns, AGO]
├--> 198.18.62.62:8300 (shop/$CA catalog 'catalog', pgid=9)  [tcp 2 conns, AGO]
│    └--> 198.18.62.70:3306 (shop/mysql-0 mysql 'mysqld', pgid=30)  [tcp 2 conns, AGO]
└--> 198.18.62.63:8300 (shop/$CB catalog 'catalog', pgid=10)  [tcp 2 conns, AGO]
EOT
expect "look --host <ClusterIP> roots the tree at the Service" "$tmp/svc" $L --host 198.18.162.10 --depth 2
cat >"$tmp/svc6" <<EOT
[2001:db8:62::a]:80 (service shop/catalog)
├<-- [2001:db8:62::61]:many (shop/$CO checkout 'checkout', pgid=7)  [tcp 2 conns, AGO]
└--> [2001:db8:62::62]:8300 (shop/$CA catalog 'catalog', pgid=9)  [tcp 2 conns, AGO]
EOT
expect "look --ipv6 <IPv6 cluster IP> roots the tree at the Service" "$tmp/svc6" $L --ipv6 2001:db8:62::a
cat >"$tmp/cb" <<EOT
198.18.62.63:8300 (shop/$CB catalog 'catalog', pgid=10)
├<-- 198.18.62.61:many (shop/$CO checkout 'checkout', pgid=7) via shop/catalog 198.18.162.10:80  [tcp 2 conns, AGO]
└<-- 198.18.62.90:many (not seen by an agent) seen as 198.18.62.1  [tcp 2 conns, AGO]
EOT
expect "a replica's callers: through the Service, and the real client behind the NodePort's NAT" "$tmp/cb" $L --host 198.18.62.63

$L --pod shop/$CO --depth 2 --format json >"$tmp/j" 2>"$tmp/j.err"
check "json: edges through the Service carry it, named" python3 - "$tmp/j" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
svc = [e["service"] for e in d["edges"] if e["service"]]
assert {"addr": "198.18.162.10", "port": 80, "namespace": "shop", "name": "catalog"} in svc, svc
assert {"addr": "198.18.162.99", "port": 8300, "namespace": None, "name": None} in svc, svc
assert all("nat_peer" in e for e in d["edges"])
direct = [e for e in d["edges"] if e["service"] is None]
assert len(direct) == 1, direct
EOF
$L --host 198.18.62.63 --format json >"$tmp/jn" 2>&1
check "json: the NAT peer and the address the server saw" python3 -c "
import json, sys
d = json.load(open('$tmp/jn'))
n = [e['nat_peer'] for e in d['edges'] if e['nat_peer']]
assert n == [{'addr': '198.18.62.90', 'seen_as': '198.18.62.1'}], n
"
$L --host 198.18.162.10 --format json >"$tmp/js" 2>&1
check "json: the Service is the root, role service" python3 -c "
import json
d = json.load(open('$tmp/js'))
r = d['nodes'][d['roots'][0]]
assert r['role'] == 'service' and r['service'] == {'namespace': 'shop', 'name': 'catalog'}, r
"
$L --pod shop/$CO --format dot >"$tmp/dot" 2>&1
check "dot: the Service on the edge label" grep -qF 'via shop/catalog 198.18.162.10:80"' "$tmp/dot"

# A NodePort dialed at a node's address names the Service by its nodePort.
psql_val "$(flow active 198.18.62.61 0 198.18.62.63 8300 7 checkout checkout 198.18.62.1 30080 - -)" >/dev/null
$L --host 198.18.62.1 >"$tmp/np" 2>&1
$L --pod shop/$CO >"$tmp/np2" 2>&1
check "a NodePort: rooted at the node address and port" grep -qF "└--> 198.18.62.63:8300 (shop/$CB catalog 'catalog', pgid=10)  [tcp 2 conns," "$tmp/np"
check "a NodePort is named by its nodePort" grep -qF "via shop/catalog 198.18.62.1:30080" "$tmp/np2"
# Without any Service name: the address alone.
psql_val "DELETE FROM services WHERE uid = 's1'" >/dev/null
$L --pod shop/$CO >"$tmp/nos" 2>&1
check "no Service named there (the old one is gone): the address alone" grep -qF "198.18.62.63:8300 (shop/$CB catalog 'catalog', pgid=10) via 198.18.162.10:80  [" "$tmp/nos"
$L --host 198.18.62.70 >"$tmp/db" 2>&1
check "a flow without a service prints as before" test "$(sed -n 2p "$tmp/db" | sed -E 's/, ([0-9]+[smhd] ago|just now)\]$/]/')" = "└<-- 198.18.62.62:many (shop/$CA catalog 'catalog', pgid=9)  [tcp 2 conns]"
finish
