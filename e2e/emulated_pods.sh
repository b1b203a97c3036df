#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kubernetes awareness on emulated pods (e2e/lib/pods.sh): four pods laid
# out as kubelet lays them out (containerd and CRI-O under the systemd
# driver, the cgroupfs driver, a hostNetwork pod) plus a plain host process
# sharing the hostNetwork pod's address, and a kubelet-compatible HTTPS
# server. The probe must label each flow's local process with its container
# and pod (hostNetwork told apart by cgroup, not IP), keep recording when
# the kubelet goes away, and label again when it comes back. Then with a
# throwaway PostgreSQL: the probe records flows and this node's pods in the
# CMDB, `shawk look --pod` prints both neighbours of a pod with their pod
# labels (one of another node, labelled by IP from the pods table), and the
# probe keeps recording to the CMDB after the kubelet is killed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/integration/lib/common.sh
. e2e/lib/pods.sh
. tests/integration/lib/pg.sh
require_root

probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
	pg_stop
	pods_cleanup
}
trap cleanup EXIT

pods_setup || { not_ok "emulated pods and kubelet set up"; finish; }
ok "emulated pods and kubelet set up (cgroup2 at $PODS_CGROOT, kubelet $SHAWK_KUBELET_URL)"
T=$PODS_TMP

pod_exec cart cart server "$T/cart.srv" tcp:198.18.0.42:8200
pod_exec db postgres server "$T/db.srv" tcp:198.18.0.43:5432
wait_for test -f "$T/cart.srv" && wait_for test -f "$T/db.srv" || { not_ok "servers started"; finish; }
pod_exec cart cart client "$T/cart.cli" tcp:198.18.0.43:5432:2
pod_exec front front client "$T/front.cli" tcp:198.18.0.42:8200:3
pod_exec exporter scraper client "$T/exp.cli" tcp:198.18.0.42:8200:1
host_exec hostcurl client "$T/host.cli" tcp:198.18.0.42:8200:2
for f in cart front exp host; do
	wait_for test -f "$T/$f.cli" || { not_ok "client $f connected"; finish; }
done
ok "pods' servers and clients connected"

# All pod metadata comes from the env set by pods_setup (kubelet URL,
# token, CA, node name).
pod_env() {
	local k
	for k in cart db front exporter; do
		local n=POD_${k}_NAME u=POD_${k}_UID c=POD_${k}_CID
		echo "$k ${!n} ${!u} ${!c}"
	done >"$T/expect.txt"
}
pod_env

check_json() { # check_json FILE MODE(labels|nolabels)
	python3 - "$1" "$2" "$T/expect.txt" "$PODS_NODE_NAME" <<'PY'
import json, sys
flows = json.load(open(sys.argv[1]))
mode, node = sys.argv[2], sys.argv[4]
pods = {}
for line in open(sys.argv[3]):
    k, name, uid, cid = line.split()
    pods[k] = (name, uid, cid)

def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)

def flows_of(comm, direction):
    return [f for f in flows if f["process"] and f["process"].get("name") == comm
            and f["direction"] == direction and f["proto"] == "tcp"]

def expect(comm, direction, key, ns, ctr, peer_port=None):
    fl = flows_of(comm, direction)
    check("%s %s flow seen" % (comm, direction), len(fl) > 0)
    if not fl:
        return
    f = fl[0]
    if mode == "nolabels" or key is None:
        check("%s: no pod label (%s)" % (comm, mode if key else "host process"),
              f["pod"] is None)
        if key is None:
            check("%s: no container" % comm, f["container"] is None)
        return
    name, uid, cid = pods[key]
    want_pod = {"namespace": ns, "name": name, "uid": uid, "node": node}
    check("%s: pod %s/%s" % (comm, ns, name), f["pod"] == want_pod or print("   got", f["pod"]))
    want_ctr = {"id": cid, "name": ctr}
    check("%s: container %s" % (comm, ctr), f["container"] == want_ctr or print("   got", f["container"]))

expect("cart", "passive", "cart", "shop", "cart")
expect("cart", "active", "cart", "shop", "cart")
expect("postgres", "passive", "db", "shop", "postgres")
expect("front", "active", "front", "shop", "front")
expect("scraper", "active", "exporter", "monitoring", "node-exporter")
# Same netns and address as the hostNetwork pod, but not in its cgroup.
expect("hostcurl", "active", None, None, None)
if mode == "labels":
    sc = flows_of("scraper", "active")
    hc = flows_of("hostcurl", "active")
    check("hostNetwork pod and host process share an address",
          sc and hc and sc[0]["local"]["addr"] == hc[0]["local"]["addr"] == "198.18.0.1")
PY
}

"$SHAWK_BIN" probe --once --mode polling --output json >"$T/once.json" 2>"$T/once.err"
check "probe --once with the kubelet exits 0" test $? -eq 0
check_json "$T/once.json" labels
check "no kubelet warning when it answers" bash -c "! grep -q 'warn: kubelet' '$T/once.err'"

kubelet_stop
"$SHAWK_BIN" probe --once --mode polling --output json >"$T/down.json" 2>"$T/down.err"
check "probe --once with the kubelet down exits 0" test $? -eq 0
check_json "$T/down.json" nolabels
check "kubelet down is a warning" grep -q 'warn: kubelet: .*without pod labels' "$T/down.err"

# Daemon: kubelet up, down (the probe keeps recording), up again.
kubelet_start || { not_ok "kubelet restarted"; finish; }
SHAWK_KUBELET_REFRESH=300ms "$SHAWK_BIN" probe --mode polling --interval 200ms \
	--flush-interval 500ms --output json >"$T/daemon.json" 2>"$T/daemon.err" &
probe_pid=$!
sleep 1.5
kubelet_stop
sleep 2
lines_during=$(wc -l <"$T/daemon.json")
sleep 1.5
lines_after=$(wc -l <"$T/daemon.json")
kubelet_start || not_ok "kubelet restarted again"
sleep 2
kill -TERM "$probe_pid"; wait "$probe_pid"; rc=$?; probe_pid=
check "daemon exits 0 on SIGTERM" test $rc -eq 0
check "daemon keeps flushing while the kubelet is down ($lines_during -> $lines_after lines)" \
	test "$lines_after" -gt "$lines_during"
check "one warning for the outage" test "$(grep -c 'warn: kubelet' "$T/daemon.err")" -eq 1
check "labels are back after the outage" grep -q 'pod labels are back' "$T/daemon.err"
# Daemon lines are {"node", "window", "flows"}: the last non-empty flows.
python3 -c 'import json, sys
ls = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()]
print(json.dumps(([l for l in ls if l] or [[]])[-1]))' "$T/daemon.json" >"$T/last.json"
check_json "$T/last.json" labels | sed 's/^\(not \)\?ok - /&daemon, last flush: /'
sed 's/^/    /' "$T/daemon.err" | head -20

# --- The CMDB: pods table, look --pod, kubelet outage -----------------------
if ! pg_available || ! command -v psql >/dev/null; then
	ok "SKIP CMDB part: needs PostgreSQL server binaries and psql"
	finish
fi
pg_start "$T/pg" || { not_ok "throwaway PostgreSQL starts"; finish; }
"$SHAWK_BIN" create-scheme --cmdb "$CMDB" >/dev/null
check "create-scheme" test $? -eq 0

# A pod of another node (node-e2e-2) that cart calls. This node's agent
# does not know it; node-e2e-2's agent recorded it in the pods table
# (emulated: there is one machine, and one agent per node).
remote_setup || { not_ok "remote pod netns"; finish; }
remote_exec checkout server "$T/remote.srv" tcp:198.18.0.99:9000
wait_for test -f "$T/remote.srv" || { not_ok "remote server started"; finish; }
pod_exec cart cart client "$T/cart2.cli" tcp:198.18.0.99:9000:2
wait_for test -f "$T/cart2.cli" || { not_ok "cart calls the remote pod"; finish; }
psql_val "INSERT INTO pods (uid, namespace, name, node_name, ips, labels, owner_kind, owner_name, containers, first_seen, last_seen) VALUES ('$(_uuid)', 'shop', 'checkout-6b4d-q9z8w', 'node-e2e-2', '{198.18.0.99}', '{\"app\":\"checkout\"}', 'Deployment', 'checkout', '{checkout}', now() - interval '1 hour', now() + interval '10 minutes')" >/dev/null

# look --pod shop/cart-...: normalised (pgids vary), sorted by the tree.
look_cart() {
	# Counts and ages differ between modes and runs: the edges only.
	"$SHAWK_BIN" look --cmdb "$CMDB" --pod "$@" 2>&1 | sed -E 's/pgid=[0-9]+/pgid=N/; s/  \[[^]]*\]$//'
}
want_cart="198.18.0.42:8200 (shop/cart-5d8f7c9b6-abcde cart 'cart', pgid=N)
├<-- 198.18.0.1:many ('hostcurl', pgid=N)
├<-- 198.18.0.1:many (monitoring/node-exporter-x7k2p node-exporter 'scraper', pgid=N)
├<-- 198.18.0.44:many (shop/front-7c6d5b4a3-q2w3e front 'front', pgid=N)
├--> 198.18.0.43:5432 (shop/db-0 postgres 'postgres', pgid=N)
└--> 198.18.0.99:9000 (shop/checkout-6b4d-q9z8w 'checkout', pgid=N)"

cmdb_phase() { # cmdb_phase MODE
	local mode=$1 out
	local mport
	mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	SHAWK_KUBELET_REFRESH=300ms "$SHAWK_BIN" probe --mode "$mode" --interval 200ms \
		--flush-interval 500ms --cmdb "$CMDB" --metrics-listen "127.0.0.1:$mport" \
		>"$T/$mode.out" 2>"$T/$mode.err" &
	probe_pid=$!
	wait_for test "$(psql_val "SELECT count(*) FROM pods WHERE node_name = '$PODS_NODE_NAME'")" = 4
	check "$mode: the probe records this node's 4 pods" \
		test "$(psql_val "SELECT count(*) FROM pods WHERE node_name = '$PODS_NODE_NAME'")" = 4
	check "$mode: pods carry IPs, labels, workload, containers, hostNetwork" test \
		"$(psql_val "SELECT ips::text, labels->>'app', owner_kind, owner_name, containers::text, host_network FROM pods WHERE name = 'cart-5d8f7c9b6-abcde'") $(psql_val "SELECT host_network, ips::text, owner_kind FROM pods WHERE name = 'node-exporter-x7k2p'")" \
		= "{198.18.0.42}|cart|Deployment|cart|{cart}|f t|{198.18.0.1}|DaemonSet"
	wait_for bash -c "[ \"\$(psql \"$CMDB\" -XAtq -c \"SELECT count(*) FROM flows WHERE comm IN ('front','scraper','hostcurl','cart','postgres','checkout')\")\" -ge 8 ]"
	out=$(look_cart shop/cart-5d8f7c9b6-abcde)
	check "$mode: look --pod shop/cart-...: both neighbours with pod labels, the remote pod by IP" \
		test "$out" = "$want_cart"
	[ "$out" = "$want_cart" ] || printf '%s\n' "$out" | sed 's/^/    got: /'
	out=$(look_cart cart-5d8f7c9b6-abcde)
	check "$mode: look --pod without namespace" test "$out" = "$want_cart"
	out=$(look_cart monitoring/node-exporter-x7k2p)
	check "$mode: look --pod hostNetwork pod: its process only, not the host's at the same IP" \
		test "$out" = "198.18.0.1:many (monitoring/node-exporter-x7k2p node-exporter 'scraper', pgid=N)
└--> 198.18.0.42:8200 (shop/cart-5d8f7c9b6-abcde cart 'cart', pgid=N)"
	out=$("$SHAWK_BIN" look --cmdb "$CMDB" --namespace shop --format json)
	check "$mode: look --namespace shop --format json carries pods" python3 -c '
import json, sys
g = json.loads(sys.argv[1])
pods = {(n["pod"] or {}).get("name") for n in g["nodes"]}
assert {"cart-5d8f7c9b6-abcde", "db-0", "front-7c6d5b4a3-q2w3e", "checkout-6b4d-q9z8w"} <= pods, pods
' "$out"
	out=$("$SHAWK_BIN" look --cmdb "$CMDB" --pod shop/db-0 --format dot)
	check "$mode: look --pod --format dot carries pods" \
		bash -c 'grep -q "shop/db-0 postgres" <<<"$1" && grep -q "shop/cart-5d8f7c9b6-abcde cart" <<<"$1"' _ "$out"

	# /metrics: the same neighbours as workloads (from the kubelet's owner
	# references), the peer named by the pod of its address on this node.
	curl -sf "http://127.0.0.1:$mport/metrics" >"$T/$mode.metrics"
	python3 - "$T/$mode.metrics" "$mode" <<'PY'
import re, sys
text, mode = open(sys.argv[1]).read(), sys.argv[2]
series = []
for m in re.finditer(r'^shawk_connections_total\{(.*)\} (\d+)$', text, re.M):
    series.append((dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1))), int(m.group(2))))
def check(name, want):
    got = [v for l, v in series if all(l.get(k) == x for k, x in want.items())]
    ok = bool(got) and all(v > 0 for v in got)
    print(("ok - " if ok else "not ok - ") + "%s: /metrics %s" % (mode, name))
    if not ok:
        for l, v in series:
            print("    ", l, v)
cart = {"server_namespace": "shop", "server_workload": "Deployment/cart", "server_port": "8200", "proto": "tcp"}
check("front -> cart, server side", dict(cart, direction="passive", client_namespace="shop", client_workload="Deployment/front"))
check("front -> cart, client side", dict(cart, direction="active", client_namespace="shop", client_workload="Deployment/front"))
check("hostNetwork DaemonSet pod -> cart", dict(cart, direction="active", client_namespace="monitoring", client_workload="DaemonSet/node-exporter"))
check("host process -> cart (COMM@ADDR)", dict(cart, direction="active", client_namespace="", client_workload="hostcurl@198.18.0.1"))
check("cart -> db (StatefulSet)", {"direction": "passive", "client_workload": "Deployment/cart", "server_namespace": "shop", "server_workload": "StatefulSet/db", "server_port": "5432"})
check("cart -> the remote pod: its address", {"direction": "active", "client_workload": "Deployment/cart", "server_namespace": "", "server_workload": "198.18.0.99", "server_port": "9000"})
PY
	check "$mode: kubelet state in /metrics" grep -qx 'shawk_k8s_kubelet_up 1' "$T/$mode.metrics"
	check "$mode: promtool check metrics" bash -c "! command -v promtool >/dev/null || promtool check metrics <'$T/$mode.metrics'"

	# Kill the kubelet: flows keep arriving in the CMDB, new ones too.
	kubelet_stop
	local before
	before=$(psql_val "SELECT max(last_seen) FROM flows")
	pod_exec front late client "$T/late.$mode.cli" tcp:198.18.0.42:8200:1
	wait_for test -f "$T/late.$mode.cli"
	wait_for bash -c "[ \"\$(psql \"$CMDB\" -XAtq -c \"SELECT count(*) FROM flows WHERE comm = 'late' AND last_seen > '$before'\")\" -ge 1 ]"
	check "$mode: kubelet killed: the probe keeps recording to the CMDB (new flow written)" \
		test "$(psql_val "SELECT count(*) FROM flows WHERE comm = 'late' AND last_seen > '$before'")" -ge 1
	check "$mode: kubelet killed: existing flows keep advancing" \
		test "$(psql_val "SELECT count(*) FROM flows WHERE comm = 'front' AND last_seen > '$before'")" -ge 1
	kill -TERM "$probe_pid"; wait "$probe_pid"; local rc=$?; probe_pid=
	check "$mode: probe exits 0" test $rc -eq 0
	check "$mode: one kubelet warning, no CMDB warning" \
		bash -c "[ \$(grep -c 'warn: kubelet' '$T/$mode.err') -eq 1 ] && ! grep -q 'warn: CMDB' '$T/$mode.err'"
	kubelet_start || not_ok "kubelet restarted"
	# The late client holds its connection: end it, or the next phase's
	# seed poll would (rightly) record it as still open.
	pkill -f "$T/late.$mode.cli" 2>/dev/null
	wait_for bash -c "! pgrep -f '$T/late.$mode.cli' >/dev/null"
}

cmdb_phase polling
if "$SHAWK_BIN" probe --once --mode streaming --output none >/dev/null 2>"$T/stream.err"; then
	psql_val "TRUNCATE flows, passive_nodes, active_nodes" >/dev/null
	cmdb_phase streaming
else
	ok "SKIP streaming mode: $(tail -1 "$T/stream.err" | sed 's/^.*error: //')"
fi
sed 's/^/    /' "$T/polling.err" | head -20
finish
