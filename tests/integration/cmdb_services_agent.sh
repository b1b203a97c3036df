#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The agent's side of Service names (issue 15): `probe --once` against the
# kubelet stand-in serving /api/v1/services (tests/integration/lib/
# kubelet_server.py) fetches the Services list with the service account's
# token and CA and writes it to the CMDB's services table (one bad Service
# skipped, not the batch); the in-cluster URL comes from
# KUBERNETES_SERVICE_HOST/_PORT; RBAC without `list services` is one
# warning and changes nothing else; Services unseen for 30 days are
# deleted; `look` names a flow's Service from the table.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
pg_require
command -v openssl >/dev/null || skip "needs openssl"

tmp=$(mktemp -d)
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_test_start

K=tests/integration/lib/kubelet_server.py
python3 $K certs "$tmp/certs" || { not_ok "test CA"; finish; }
echo "sa-token-62" >"$tmp/token"
cp tests/fixtures/kubelet/pods_empty.json "$tmp/pods.json"
cp tests/fixtures/apiserver/services.json "$tmp/services.json"
echo ok >"$tmp/control"
python3 $K serve --dir "$tmp/certs" --token-file "$tmp/token" --pods "$tmp/pods.json" \
	--services "$tmp/services.json" --port-file "$tmp/port" --control "$tmp/control" 2>"$tmp/srv.log" &
srv=$!
wait_for test -f "$tmp/port" || { not_ok "stand-in listens"; finish; }
port=$(cat "$tmp/port")
export SHAWK_KUBELET_TOKEN_FILE=$tmp/token SHAWK_KUBELET_CA_FILE=$tmp/certs/ca.crt \
	SHAWK_APISERVER_CA_FILE=$tmp/certs/ca.crt SHAWK_NODE_NAME=node-62
P=("$SHAWK_BIN" probe --once --mode polling --cmdb "$CMDB" --kubelet-url "https://127.0.0.1:$port")

# Something unseen for 40 days, to be deleted; something seen yesterday, kept.
psql_val "INSERT INTO services (uid, namespace, name, type, cluster_ips, ports, first_seen, last_seen) VALUES ('old', 'x', 'old', 'ClusterIP', '{198.18.162.200}', '[]', now() - interval '50 days', now() - interval '40 days'), ('recent', 'x', 'recent', 'ClusterIP', '{198.18.162.201}', '[]', now() - interval '2 days', now() - interval '1 day')" >/dev/null
"${P[@]}" --apiserver-url "https://127.0.0.1:$port" 2>"$tmp/p1.err"
check "probe --once with the API server exits 0" test $? -eq 0
check "one info line: the Services count" grep -q 'API server: 6 Services' "$tmp/p1.err"
check "no kubelet, API server or CMDB warning" bash -c "! grep -Eq 'warn: (kubelet|API server|CMDB)' '$tmp/p1.err'"
check "the API server saw the token on /api/v1/services" grep -q '"GET /api/v1/services HTTP/1.1" 200' "$tmp/srv.log"
check "services table: the 6 good Services (bad ones skipped, not the batch)" \
	test "$(psql_val "SELECT count(*) FROM services WHERE namespace <> 'x'")" = 6
check "dual-stack cluster IPs and ports with nodePorts stored" test "$(psql_val "SELECT type, array_to_string(cluster_ips, ','), ports::text FROM services WHERE namespace = 'shop' AND name = 'catalog'")" \
	= 'NodePort|198.18.162.10,2001:db8:62::a|[{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 9100, "nodePort": 30091, "protocol": "TCP"}]'
check "nodePorts also as an indexed array" test "$(psql_val "SELECT node_ports::text FROM services WHERE name = 'catalog'")" = "{30080,30091}"
check "protocols kept (kube-dns UDP and TCP)" test "$(psql_val "SELECT ports::text FROM services WHERE name = 'kube-dns'")" \
	= '[{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]'
check "headless Service: no cluster IP" test "$(psql_val "SELECT cardinality(cluster_ips) FROM services WHERE name = 'mysql'")" = 0
check "Services unseen for 30 days deleted, recent ones kept" test "$(psql_val "SELECT string_agg(uid, ',' ORDER BY uid) FROM services WHERE namespace = 'x'")" = recent
first=$(psql_val "SELECT first_seen FROM services WHERE name = 'catalog'")

# The in-cluster URL from the environment, as in a pod; a Service gone
# from the list stays (its lifetime ends at its last_seen).
python3 - "$tmp/services.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["items"] = [i for i in d["items"] if i["metadata"]["name"] != "kube-dns"]
json.dump(d, open(sys.argv[1], "w"))
EOF
sleep 1.1
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$port "${P[@]}" 2>"$tmp/p2.err"
check "KUBERNETES_SERVICE_HOST/_PORT: the in-cluster URL" grep -q 'API server: 5 Services' "$tmp/p2.err"
check "rewritten: first_seen kept, last_seen advanced" test "$(psql_val "SELECT first_seen = '$first' AND last_seen > first_seen FROM services WHERE name = 'catalog'")" = t
check "a Service gone from the list keeps its last_seen" test "$(psql_val "SELECT last_seen < (SELECT last_seen FROM services WHERE name = 'catalog') FROM services WHERE name = 'kube-dns'")" = t

# RBAC without list services: one warning naming it; pods and flows as before.
echo services-403 >"$tmp/control"
"${P[@]}" --apiserver-url "https://127.0.0.1:$port" 2>"$tmp/p3.err"
check "403 on the Services list: exit 0" test $? -eq 0
check "403: one warning naming the RBAC it needs" test "$(grep -c 'warn: API server: .*HTTP 403 .*services list.*address only' "$tmp/p3.err")" = 1
check "403: the kubelet still answers (no kubelet warning)" bash -c "! grep -q 'warn: kubelet' '$tmp/p3.err'"
echo ok >"$tmp/control"

# Without any API server: nothing fetched, nothing said above debug.
"${P[@]}" 2>"$tmp/p4.err"
check "no API server: exit 0, no Services line" bash -c "! grep -q 'API server' '$tmp/p4.err'"

# look names the Service a flow dialed from this table.
psql_val "INSERT INTO flows VALUES ('198.18.62.61', 'node-62', 'active', 'tcp', 0, '198.18.62.62', 8300, 1, 7, 'checkout', NULL, 1, 1, now(), now(), '198.18.162.10', 80, NULL, NULL)" >/dev/null
check "look names the Service the agent recorded" test "$("$SHAWK_BIN" look --cmdb "$CMDB" --host 198.18.62.61 | sed -n 2p | sed -E 's/  \[.*//')" = "└--> 198.18.62.62:8300 (not seen by an agent) via shop/catalog 198.18.162.10:80"
finish
