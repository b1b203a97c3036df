#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One bad pod spoils nothing (issue 18): a kubelet stand-in lists a pod
# with `podIP: "not-an-ip"` and one with a 3500-character name next to
# three good pods. The agent records the three good pods in the CMDB (the
# bad ones made the whole write fail before: `invalid input syntax for type
# inet`, `index row size exceeds btree maximum`), says once that it skipped
# two, and keeps writing at every interval.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
command -v openssl >/dev/null || skip "needs openssl (the kubelet stand-in's certificates)"

cmdb_test_begin

standin_kubelet_certs secret-token
python3 - "$tmp/pods.json" <<'PY'
import json, sys
def pod(name, uid, ip, labels=None):
    return {"metadata": {"name": name, "namespace": "i18", "uid": uid,
                         "labels": labels or {"app": name[:40]}},
            "spec": {"nodeName": "n-i18", "containers": [{"name": "c"}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}], "phase": "Running"}}
items = [pod("good-a", "u-good-a", "198.18.64.11"),
         pod("bad-ip", "u-bad-ip", "not-an-ip"),
         pod("good-b", "u-good-b", "2001:db8:64::12"),
         pod("x" * 3500, "u-long", "198.18.64.13"),
         pod("good-c", "u-good-c", "198.18.64.14", {"app.kubernetes.io/name": "c"})]
json.dump({"kind": "PodList", "apiVersion": "v1", "items": items}, open(sys.argv[1], "w"))
PY
standin_kubelet_start

SHAWK_KUBELET_URL="https://127.0.0.1:$(cat "$tmp/kubelet.port")" SHAWK_KUBELET_TOKEN_FILE="$tmp/token" \
	SHAWK_KUBELET_CA_FILE="$tmp/pki/ca.crt" SHAWK_KUBELET_REFRESH=300ms \
	"$SHAWK_BIN" probe --cmdb "$CMDB" --mode polling --interval 200ms --flush-interval 500ms \
	--node-name n-i18 >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
pods() { psql_val "SELECT string_agg(name, ',' ORDER BY name) FROM pods WHERE namespace = 'i18'"; }
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT count(*) FROM pods WHERE namespace = 'i18'\")\" -ge 3 ]"
check "the three good pods are recorded ($(pods))" test "$(pods)" = "good-a,good-b,good-c"
check "the IPs of the good pods are there" test \
	"$(psql_val "SELECT string_agg(host(ips[1]), ',' ORDER BY name) FROM pods WHERE namespace = 'i18'")" = \
	"198.18.64.11,2001:db8:64::12,198.18.64.14"
check "the skipped pods are logged" grep -q "2 more skipped" "$tmp/probe.err"
check "logged once, not every refresh" test "$(grep -c 'more skipped' "$tmp/probe.err")" -eq 1
check "no pods write failed" bash -c "! grep -q 'cannot record pods' '$tmp/probe.err'"
t1=$(psql_val "SELECT max(last_seen) FROM pods WHERE namespace = 'i18'")
sleep 1.5
t2=$(psql_val "SELECT max(last_seen) FROM pods WHERE namespace = 'i18'")
check "pods keep being written every interval ($t1 -> $t2)" test "$t1" != "$t2"
kill -TERM "$probe_pid"
wait "$probe_pid"
check "probe exits 0" test $? -eq 0
probe_pid=
finish
