#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A 3-tier chain client -> mid -> backend, each in its own network
# namespace on one bridge, recorded by the probe daemon into a throwaway
# PostgreSQL. Checks `look` at depth 1 and 2 in tree, json and dot, time
# windows, connections_total over several flushes, and an outage: the CMDB
# is stopped, a short-lived connection comes and goes, the CMDB restarts,
# and that connection's flow arrives.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/bridge.sh
require_root
pg_require

SW=shawk-sw-$$ CL=shawk-cl-$$ MI=shawk-mi-$$ BK=shawk-bk-$$
tmp=$(mktemp -d)
probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	pkill -f "$tmp/" 2>/dev/null
	wait 2>/dev/null
	for ns in "$CL" "$MI" "$BK" "$SW"; do ip netns del "$ns" 2>/dev/null; done
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pg_test_start

bridge_hosts "$SW" sh "$CL:198.18.7.2" "$MI:198.18.7.1" "$BK:198.18.7.3" || skip "cannot create network namespaces"
t0=$(date -u -d '-1 sec' +%Y-%m-%dT%H:%M:%SZ)
inns "$BK" shawk-back server "$tmp/bk" tcp:198.18.7.3:5432
wait_for test -f "$tmp/bk" || { not_ok "backend started"; finish; }
inns "$MI" shawk-mid relay "$tmp/mi" tcp:198.18.7.1:8080 tcp:198.18.7.3:5432:2
wait_for test -f "$tmp/mi" || { not_ok "mid tier started"; finish; }
inns "$CL" shawk-cli client "$tmp/cl" tcp:198.18.7.1:8080:3
wait_for test -f "$tmp/cl" || { not_ok "client connected"; finish; }
pg_bk=$(ps -o pgid= -p "$(pgrep -x shawk-back | head -1)" | tr -d ' ')
pg_mi=$(ps -o pgid= -p "$(pgrep -x shawk-mid | head -1)" | tr -d ' ')
pg_cl=$(ps -o pgid= -p "$(pgrep -x shawk-cli | head -1)" | tr -d ' ')

"$SHAWK_BIN" probe --cmdb "$CMDB" --interval 200ms --flush-interval 1s >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
flows_of() { psql_val "SELECT count(*) FROM flows WHERE comm = '$1'" 2>/dev/null; }
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT count(DISTINCT comm) FROM flows WHERE comm IN ('shawk-back','shawk-mid','shawk-cli')\")\" = 3 ]"
check "probe daemon wrote the three tiers" test "$(psql_val "SELECT count(DISTINCT comm) FROM flows WHERE comm IN ('shawk-back','shawk-mid','shawk-cli')")" = 3
sleep 2.2 # several more flushes of the same held connections

L="$SHAWK_BIN look --cmdb $CMDB"
cat >"$tmp/mid1" <<EOT
198.18.7.1:8080 ('shawk-mid', pgid=$pg_mi)
├<-- 198.18.7.2:many ('shawk-cli', pgid=$pg_cl)  [tcp 3 conns, AGO]
└--> 198.18.7.3:5432 ('shawk-back', pgid=$pg_bk)  [tcp 2 conns, AGO]
EOT
expect "look mid, depth 1 (tree)" "$tmp/mid1" $L --ipv4 198.18.7.1
cat >"$tmp/cl2" <<EOT
198.18.7.2:many ('shawk-cli', pgid=$pg_cl)
└--> 198.18.7.1:8080 ('shawk-mid', pgid=$pg_mi)  [tcp 3 conns, AGO]
     └--> 198.18.7.3:5432 ('shawk-back', pgid=$pg_bk)  [tcp 2 conns, AGO]
EOT
expect "look client, depth 2 (tree)" "$tmp/cl2" $L --host 198.18.7.2 --depth 2
head -2 "$tmp/cl2" >"$tmp/cl1"
expect "look client, depth 1 stops at the mid tier" "$tmp/cl1" $L --ipv4 198.18.7.2 --depth 1
cat >"$tmp/bk2" <<EOT
198.18.7.3:5432 ('shawk-back', pgid=$pg_bk)
└<-- 198.18.7.1:many ('shawk-mid', pgid=$pg_mi)  [tcp 2 conns, AGO]
     └<-- 198.18.7.2:many ('shawk-cli', pgid=$pg_cl)  [tcp 3 conns, AGO]
EOT
expect "look backend, depth 2 (tree)" "$tmp/bk2" $L --ipv4 198.18.7.3 --depth 2

$L --ipv4 198.18.7.2 --depth 2 --format json >"$tmp/j2"
check "json depth 2 exits 0" test $? -eq 0
python3 - "$tmp/j2" <<'PY'
import json, sys
g = json.load(open(sys.argv[1]))
nodes = {n["id"]: n for n in g["nodes"]}
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)
check("json: 3 nodes, 2 edges", len(nodes) == 3 and len(g["edges"]) == 2)
names = {(nodes[e["client"]]["process"]["name"], nodes[e["server"]]["process"]["name"]): e for e in g["edges"]}
check("json: client -> mid edge counts 3 connections once", names.get(("shawk-cli", "shawk-mid"), {}).get("connections_total") == 3)
check("json: mid -> backend edge counts 2 connections once", names.get(("shawk-mid", "shawk-back"), {}).get("connections_total") == 2)
e = names.get(("shawk-cli", "shawk-mid"), {})
check("json: edge has timestamps", e.get("first_seen", "").endswith("Z") and e.get("last_seen", "") >= e.get("first_seen", "~"))
check("json: root is the client", [nodes[r]["addr"] for r in g["roots"]] == ["198.18.7.2"])
PY
$L --ipv4 198.18.7.1 --depth 1 --format json | python3 -c 'import json,sys; g=json.load(sys.stdin); print(("ok - " if len(g["nodes"]) == 3 and len(g["edges"]) == 2 else "not ok - ") + "json depth 1 from the mid tier")'
for d in 1 2; do
	$L --ipv4 198.18.7.2 --depth $d --format dot >"$tmp/g$d.dot"
	check "dot depth $d renders with dot -Tsvg" bash -c "dot -Tsvg '$tmp/g$d.dot' | grep -q '<svg'"
done
check "dot: clients point to servers" bash -c "[ \$(grep -c -- '->' '$tmp/g2.dot') -eq 2 ] && grep -q 'shawk-mid' '$tmp/g2.dot'"

# Time windows.
expect "--since 1h shows the chain" "$tmp/mid1" $L --ipv4 198.18.7.1 --since 1h
expect "--since RFC 3339 before the start shows the chain" "$tmp/mid1" $L --ipv4 198.18.7.1 --since "$t0"
$L --ipv4 198.18.7.1 --until "$t0" >/dev/null 2>"$tmp/err"
check "--until before the first flow: nothing, exit 1" test $? -eq 1
$L --ipv4 198.18.7.1 --until 2000-01-01T00:00:00Z --format json >"$tmp/empty.json"
check "--until in the past, json: empty graph" grep -q '"nodes":\[\]' "$tmp/empty.json"

# Counted once over several flushes, per interval in `connections`.
check "connections_total counts held connections once" test "$(psql_val "SELECT connections, connections_total FROM flows WHERE comm = 'shawk-mid' AND direction = 'passive'")" = "3|3"
# Flushes run every second; on a loaded machine the first ones may come late,
# so wait (up to 10 s) for the fourth instead of sampling once.
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc 'SELECT max(seq) > 3 FROM flush_batches')\" = t ]"
check "flushes batched (flush_batches seq > 3)" test "$(psql_val "SELECT max(seq) > 3 FROM flush_batches")" = t

# Outage: stop PostgreSQL, a short-lived connection comes and goes, start
# PostgreSQL again: the flow must arrive.
scripts/pg-throwaway.sh ctl "$PGDIR" -m fast -w stop >/dev/null 2>&1
check "CMDB stopped" bash -c "! psql '$CMDB' -XAtqc 'SELECT 1' >/dev/null 2>&1"
inns "$CL" shawk-late client "$tmp/late" tcp:198.18.7.1:8080:1
wait_for test -f "$tmp/late" || not_ok "late client connected"
sleep 1
pkill -f "$tmp/late"
sleep 2.5 # flushes fail meanwhile; the flow waits in memory
check "probe still running during the outage" kill -0 "$probe_pid"
scripts/pg-throwaway.sh start "$PGDIR" >/dev/null || not_ok "CMDB restarted"
for i in $(seq 1 40); do
	[ "$(flows_of shawk-late)" = 1 ] && break
	sleep 0.5
done
check "flow seen during the outage is in the CMDB after it" test "$(flows_of shawk-late)" = 1
check "late connection counted" test "$(psql_val "SELECT connections_total FROM flows WHERE comm = 'shawk-late'")" = 1
check "probe logged the outage" grep -q "CMDB unreachable" "$tmp/probe.err"
check "probe logged the recovery" grep -q "CMDB reachable again" "$tmp/probe.err"
check "outage logged once" test "$(grep -c 'CMDB unreachable' "$tmp/probe.err")" -eq 1

probe_stop
check "probe exits 0 on SIGTERM after a final flush" test $probe_rc -eq 0
check "no error logged by the probe" bash -c "! grep -q ' error: ' '$tmp/probe.err'"
finish
