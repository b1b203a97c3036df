#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# History through a Kubernetes Service (issues 15 and 19), 1 s buckets:
# one client process in a pod netns calls a backend through a ClusterIP
# (kube-proxy-style DNAT in the node netns, tests/integration/lib/
# services_topo.sh) in phase 1, then the same backend directly in phase 2,
# recorded by the probe daemon into a throwaway PostgreSQL. The two flows
# differ only by their Service: each has its own history (sql/009), so a
# window over phase 1 shows the call via the Service and not the direct
# one, a window over phase 2 the other way round, and `look --host
# <ClusterIP>` in a window shows the calls through it then only. Then the
# upgrade from schema 8 with a Service flow in it: its history is copied
# to its own key.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/services_topo.sh
require_root
pg_require
command -v iptables >/dev/null || skip "needs iptables"

P=i19s-$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
probe_pid=
pids=()
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_cleanup
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pg_test_start

CLI=198.18.62.10 B1=198.18.62.21 SVC=198.18.62.100
topo_init "$P" || skip "cannot create network namespaces"
topo_pod cli $CLI || skip "cannot create network namespaces"
topo_pod b1 $B1 || skip "cannot create network namespaces"
ip netns exec "$P-node" iptables -t nat -A PREROUTING -d $SVC -p tcp \
	--dport 80 -j DNAT --to-destination $B1:8080 ||
	skip "cannot add DNAT rules in a netns (iptables nat table)"

ip netns exec "$P-b1" bash -c ". tests/integration/lib/common.sh; pyrun shawk-sbe tests/integration/lib/holder.py server $tmp/sv tcp:0.0.0.0:8080; wait" &
pids+=($!)
wait_for test -f "$tmp/sv" || { not_ok "backend started"; finish; }

# The client: one process for every phase (lib/pg.sh), one client
# identity: phase 1 through the Service, phase 2 to the backend directly.
history_client "$P-cli" shawk-scli $SVC:80 $B1:8080
pids+=("$client_pid")
history_probe_start
history_phase 1; s1=$S e1=$E
sleep 5
history_phase 2; s2=$S e2=$E
hist() { # hist SERVICE_CONDITION: the client's history rows
	psql_val "SELECT count(*) FROM flow_activity WHERE comm = 'shawk-scli' AND direction = 'active' AND $1"
}
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT count(*) FROM flow_activity WHERE comm = 'shawk-scli' AND service_addr IS NULL AND bucket >= to_timestamp($s2 / 1000.0 - 1)\")\" -gt 0 ]"
sleep 2 # the flush after the close

check "the call through the Service was recorded with its Service" test "$(psql_val "SELECT count(*) FROM flows WHERE comm = 'shawk-scli' AND service_addr = '$SVC' AND service_port = 80 AND raddr = '$B1'")" = 1
check "its history carries the Service" test "$(hist "service_addr = '$SVC' AND service_port = 80")" -gt 0
check "the direct call's history has no Service" test "$(hist "service_addr IS NULL AND raddr = '$B1'")" -gt 0
check "no history of the Service's call after phase 1" test "$(hist "service_addr = '$SVC' AND bucket >= to_timestamp($s2 / 1000.0)")" = 0
check "no history of the direct call before phase 2" test "$(hist "service_addr IS NULL AND bucket + interval '1 second' <= to_timestamp($e1 / 1000.0 + 1)")" = 0

L="$SHAWK_BIN look --cmdb $CMDB"
p1_s=$(rfc3339_ms $((s1 - 1500))) p1_e=$(rfc3339_ms $((e1 + 500)))
p2_s=$(rfc3339_ms $((s2 - 500))) p2_e=$(rfc3339_ms $((e2 + 2000)))
$L --ipv4 $CLI --since "$p1_s" --until "$p1_e" >"$tmp/w1" 2>&1
cat "$tmp/w1" | sed 's/^/# /'
check "window over phase 1: the call via the Service" grep -q "$B1:8080 .*via $SVC:80" "$tmp/w1"
check "window over phase 1: no direct call" test "$(grep -c "$B1:8080" "$tmp/w1")" = 1
$L --ipv4 $CLI --since "$p2_s" --until "$p2_e" >"$tmp/w2" 2>&1
cat "$tmp/w2" | sed 's/^/# /'
check "window over phase 2: the direct call" grep -q "$B1:8080 " "$tmp/w2"
check "window over phase 2: nothing via the Service" bash -c "! grep -q via '$tmp/w2'"
$L --ipv4 $CLI >"$tmp/w0" 2>&1
check "no window: both calls (the flows as they are)" test "$(grep -c "$B1:8080" "$tmp/w0")" = 2
$L --ipv4 $SVC --since "$p1_s" --until "$p1_e" >"$tmp/h1" 2>&1
cat "$tmp/h1" | sed 's/^/# /'
check "look --host <ClusterIP> over phase 1: the call through it" grep -q "$CLI" "$tmp/h1"
$L --ipv4 $SVC --since "$p2_s" --until "$p2_e" >"$tmp/h2" 2>&1
check "look --host <ClusterIP> over phase 2: no call through it" bash -c "! grep -q '$CLI' '$tmp/h2'"
j=$($L --ipv4 $CLI --since "$p1_s" --until "$p2_e" --format json | python3 -c '
import json, sys
g = json.load(sys.stdin)
print(" ".join(sorted("%s:%s" % ("via" if e.get("service") else "direct", e["connections"]) for e in g["edges"])))')
check "window over both: one connection each, via and direct ($j)" test "$j" = "direct:1 via:1"

history_probe_end

# Upgrade from schema 8: a direct flow and one through a Service shared
# their history rows; the Service's flow gets a copy of its own.
pg_test_old_db up8 8
# The history rows below are up to 100 minutes old: yesterday's partition
# too when the test runs just after midnight UTC.
psql "$UP" -XAtq -v ON_ERROR_STOP=1 <<'EOF'
DO $$ BEGIN PERFORM shawk_history_prepare(now() - interval '1 day', now()); END $$;
INSERT INTO flows VALUES ('198.18.62.40', 'n1', 'active', 'tcp', 0, '198.18.62.41', 8080, 1, 70, 'app', NULL, 1, 3, now() - interval '2 hours', now() - interval '90 minutes', '198.18.62.101', 80, NULL, NULL);
INSERT INTO flows VALUES ('198.18.62.40', 'n1', 'active', 'tcp', 0, '198.18.62.41', 8080, 1, 70, 'app', NULL, 1, 2, now() - interval '2 hours', now() - interval '90 minutes', NULL, NULL, NULL, NULL);
INSERT INTO flow_history VALUES ('198.18.62.40', 0, 'active', 'tcp', '198.18.62.41', 8080, 'n1', 1, 70, 'app', shawk_bucket(now() - interval '100 minutes', 60), 60, 5);
EOF
out=$("$SHAWK_BIN" create-scheme --cmdb "$UP")
newest=$(ls sql/[0-9]*.sql | tail -1 | sed -e 's,^sql/0*,,' -e 's,_.*,,')
check "upgrade from 8 ($out)" test "$out" = "schema upgraded from version 8 to $newest"
check "upgrade: the direct flow keeps its history row" test "$(psql "$UP" -XAtqc "SELECT sum(connections) FROM flow_activity WHERE comm = 'app' AND service_addr IS NULL")" = 5
check "upgrade: the Service's flow has its own copy" test "$(psql "$UP" -XAtqc "SELECT sum(connections) FROM flow_activity WHERE comm = 'app' AND service_addr = '198.18.62.101' AND service_port = 80")" = 5
check "upgrade: look --since 3h shows both" test "$("$SHAWK_BIN" look --cmdb "$UP" --ipv4 198.18.62.40 --since 3h | grep -c 198.18.62.41)" = 2
finish
