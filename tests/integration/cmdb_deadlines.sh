#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Nothing outside stalls the agent (issue 18). With a CMDB that stops
# answering — `flows` locked by another session, replies swallowed by a
# proxy that keeps the socket open, a TCP address whose SYNs are dropped —
# and with a kubelet that answers slowly: the scans keep their interval
# (the heartbeat stays fresh), a stuck flush is abandoned, counted and
# logged once, its flows stay pending and arrive once the CMDB answers
# (counted once), and SIGTERM ends the agent within 5 s in every case
# (measured, printed).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
command -v openssl >/dev/null || skip "needs openssl (the kubelet stand-in's certificates)"

cmdb_test_begin
sock_dir=$(sed -n 's/.*host=\([^&]*\).*/\1/p' <<<"$CMDB")
HB=$tmp/heartbeat

# A local listener and a way to make one short connection to it, named so
# its flow can be found (loopback flows are written with
# --include-loopback).
cat >"$tmp/listen.py" <<PY
import socket, time, os
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(128)
open("$tmp/listen.port.tmp", "w").write(str(s.getsockname()[1]))
os.rename("$tmp/listen.port.tmp", "$tmp/listen.port")
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
pyrun i18-listen "$tmp/listen.py"
pids+=($!)
wait_for test -s "$tmp/listen.port" || { not_ok "listener started"; finish; }
LPORT=$(cat "$tmp/listen.port")
# One connection held throughout: every interval has a flow to write, so
# the agent talks to the CMDB whatever else runs on the host.
cat >"$tmp/held.py" <<PY
import socket, time
c = socket.create_connection(("127.0.0.1", $LPORT)); time.sleep(3600)
PY
pyrun i18-held "$tmp/held.py"
pids+=($!)
connect_once() { # connect_once COMM : one connection, closed after 1.5 s
	cat >"$tmp/conn.py" <<PY
import socket, time
c = socket.create_connection(("127.0.0.1", $LPORT)); time.sleep(1.5); c.close()
PY
	pyrun "$1" "$tmp/conn.py"
	wait $! 2>/dev/null
}

start_probe() { # start_probe NAME CMDB_URL [ENV...]
	local name=$1 url=$2; shift 2
	rm -f "$HB" # the last case's heartbeat must not answer for this one
	env SHAWK_HEARTBEAT_FILE="$HB" "$@" "$SHAWK_BIN" probe --cmdb "$url" --mode polling \
		--interval 200ms --flush-interval 1s --include-loopback \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	probe_pid=$!
}

# The largest heartbeat age sampled over SECONDS.
hb_worst() { # hb_worst SECONDS
	local worst=0 a i
	for i in $(seq 1 $(( $1 * 10 ))); do
		if [ -e "$HB" ]; then
			a=$(( $(date +%s%N) / 1000000 - $(stat -c %.3Y "$HB" | tr -d .) ))
		else
			a=99999 # no scan completed yet
		fi
		[ "$a" -gt "$worst" ] && worst=$a
		sleep 0.1
	done
	echo "$worst"
}

# stop_probe NAME : SIGTERM, the time to exit in ms on stdout.
stop_probe() {
	local t0 t1 i
	t0=$(date +%s%N)
	kill -TERM "$probe_pid"
	for i in $(seq 1 150); do
		kill -0 "$probe_pid" 2>/dev/null || break
		sleep 0.05
	done
	t1=$(date +%s%N)
	if kill -0 "$probe_pid" 2>/dev/null; then
		kill -KILL "$probe_pid"
	fi
	wait "$probe_pid" 2>/dev/null
	probe_pid=
	echo $(( (t1 - t0) / 1000000 ))
}

check_exit() { # check_exit CASE MS
	if [ "$2" -le 5000 ]; then
		ok "$1: SIGTERM to exit in ${2}ms (<= 5000)"
	else
		not_ok "$1: SIGTERM to exit took ${2}ms (> 5000)"
	fi
	record_ran "shutdown time, $1: ${2}ms"
}

flows_of() { psql_val "SELECT coalesce(sum(connections_total), 0) FROM flows WHERE comm = '$1'" 2>/dev/null; }

# ---- 1. flows locked by another session ----------------------------------
start_probe locked "$CMDB"
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc 'SELECT count(*) FROM flows')\" -gt 0 ]" ||
	not_ok "probe writes flows before the lock"
psql "$CMDB" -XAtq -c "BEGIN; LOCK TABLE flows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT" >/dev/null 2>&1 &
lock_pid=$!
pids+=($lock_pid)
sleep 0.5
connect_once i18-locked
worst=$(hb_worst 3)
if [ "$worst" -lt 1500 ]; then
	ok "locked CMDB: scans keep their interval (heartbeat at most ${worst}ms old)"
else
	not_ok "locked CMDB: heartbeat went ${worst}ms stale"
fi
check "locked CMDB: the stuck flush is abandoned and logged" grep -q "CMDB flush abandoned" "$tmp/locked.err"
n=$(grep -c "CMDB flush abandoned" "$tmp/locked.err")
check "locked CMDB: abandonment logged once per outage ($n)" test "$n" -eq 1
wait "$lock_pid" 2>/dev/null
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT coalesce(sum(connections_total),0) FROM flows WHERE comm = 'i18-locked'\")\" -ge 1 ]"
sleep 1.5
check "locked CMDB: the pending flow arrives after the lock, counted once ($(flows_of i18-locked))" test "$(flows_of i18-locked)" = 1
# Lock again and stop while the flush waits on it.
psql "$CMDB" -XAtq -c "BEGIN; LOCK TABLE flows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30); COMMIT" >/dev/null 2>&1 &
lock_pid=$!
pids+=($lock_pid)
sleep 1.5
ms=$(stop_probe)
check_exit "flows locked by another session" "$ms"
kill "$lock_pid" 2>/dev/null
psql "$CMDB" -XAtq -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null 2>&1

# ---- 2. replies swallowed by a proxy that keeps the socket open ---------
echo ok >"$tmp/proxy.ctl"
python3 tests/integration/lib/stall_proxy.py proxy --to "$sock_dir/.s.PGSQL.5432" \
	--port-file "$tmp/proxy.port" --control "$tmp/proxy.ctl" &
pids+=($!)
wait_for test -s "$tmp/proxy.port" || { not_ok "proxy started"; finish; }
PURL="postgresql://shawk@127.0.0.1:$(cat "$tmp/proxy.port")/postgres"
start_probe swallow "$PURL"
wait_for grep -q "connected to the CMDB" "$tmp/swallow.err" || not_ok "probe connects through the proxy"
sleep 1.2
echo swallow >"$tmp/proxy.ctl"
worst=$(hb_worst 3)
if [ "$worst" -lt 1500 ]; then
	ok "swallowed replies: scans keep their interval (heartbeat at most ${worst}ms old)"
else
	not_ok "swallowed replies: heartbeat went ${worst}ms stale"
fi
check "swallowed replies: the stuck flush is abandoned" grep -q "CMDB flush abandoned" "$tmp/swallow.err"
ms=$(stop_probe)
check_exit "CMDB swallowing replies" "$ms"

# ---- 3. unreachable TCP CMDB (SYNs dropped) ------------------------------
python3 tests/integration/lib/stall_proxy.py blackhole --port-file "$tmp/bh.port" &
pids+=($!)
wait_for test -s "$tmp/bh.port" || { not_ok "blackhole listener started"; finish; }
start_probe unreachable "postgresql://shawk@127.0.0.1:$(cat "$tmp/bh.port")/postgres"
sleep 2.5
worst=$(hb_worst 2)
if [ "$worst" -lt 1500 ]; then
	ok "unreachable CMDB: scans keep their interval (heartbeat at most ${worst}ms old)"
else
	not_ok "unreachable CMDB: heartbeat went ${worst}ms stale"
fi
check "unreachable CMDB: the outage is logged" grep -q "CMDB unreachable" "$tmp/unreachable.err"
# Stop while a connect is in course (each try waits up to the deadline).
ms=$(stop_probe)
check_exit "unreachable TCP CMDB" "$ms"

# ---- 4. slow kubelet ---------------------------------------------------
standin_kubelet_certs secret-token
echo '{"kind":"PodList","items":[]}' >"$tmp/pods.json"
standin_kubelet_start
start_probe kubelet "$CMDB" SHAWK_KUBELET_URL="https://127.0.0.1:$(cat "$tmp/kubelet.port")" \
	SHAWK_KUBELET_TOKEN_FILE="$tmp/token" SHAWK_KUBELET_CA_FILE="$tmp/pki/ca.crt" \
	SHAWK_KUBELET_REFRESH=300ms
wait_for grep -q "kubelet: 0 pods" "$tmp/kubelet.err" || not_ok "probe reads the kubelet"
echo "slow 30" >"$tmp/kubelet.ctl"
sleep 1.5 # the refresher is now inside a 30 s request
ms=$(stop_probe)
check_exit "slow kubelet" "$ms"

finish
