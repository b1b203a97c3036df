#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kubernetes awareness on emulated pods (e2e/lib/pods.sh): four pods laid
# out as kubelet lays them out (containerd and CRI-O under the systemd
# driver, the cgroupfs driver, a hostNetwork pod) plus a plain host process
# sharing the hostNetwork pod's address, and a kubelet-compatible HTTPS
# server. The probe must label each flow's local process with its container
# and pod (hostNetwork told apart by cgroup, not IP), keep recording when
# the kubelet goes away, and label again when it comes back.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/integration/lib/common.sh
. e2e/lib/pods.sh
require_root

probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
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
grep -v "^\[\]\s*$" "$T/daemon.json" | tail -1 >"$T/last.json"
check_json "$T/last.json" labels | sed 's/^\(not \)\?ok - /&daemon, last flush: /'
sed 's/^/    /' "$T/daemon.err" | head -20
finish
