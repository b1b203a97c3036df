#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The agent's endpoints with real parts: `shawk probe --mode streaming
# --metrics-listen` writing to a throwaway CMDB, a real Prometheus (Debian's
# `prometheus`, started here on loopback with a temporary config and TSDB)
# scraping it every second, and short-lived connections between two network
# namespaces. Prometheus' HTTP API must give the exact number of
# connections made (both sides, IPv4 and IPv6) in shawk_connections_total;
# `promtool check metrics` must accept /metrics; /healthz answers 200, then
# 503 with a reason while the CMDB's tables are locked (the flush hangs),
# /metrics is still served meanwhile, and 200 again once the lock goes.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
require_root
command -v cc >/dev/null || skip "needs a C compiler for the test peers"
command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	skip "needs Prometheus (apt-get install prometheus)"
command -v curl >/dev/null || skip "needs curl"
pg_available || skip "needs PostgreSQL server binaries (apt-get install postgresql)"
no_bpf=$(bpf_unsupported)
[ -n "$no_bpf" ] && skip "streaming needs BPF: $no_bpf"

N4=${SHAWK_IT_CONNS:-300} N6=${SHAWK_IT_CONNS6:-200}
SRV=i16-endpoints-srv-$$ CLI=i16-endpoints-cli-$$
tmp=$(mktemp -d)
chmod 755 "$tmp"
pids=()
cleanup() {
	[ -n "${probe_pid:-}" ] && kill "$probe_pid" 2>/dev/null
	[ -n "${prom_pid:-}" ] && kill "$prom_pid" 2>/dev/null
	[ -n "${lock_pid:-}" ] && kill "$lock_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	# Servers are grandchildren (ip netns exec): found by our binary path.
	pkill -f "$tmp/connburst" 2>/dev/null
	wait 2>/dev/null
	pg_stop >/dev/null 2>&1
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

cc -O2 -o "$tmp/connburst" tests/integration/lib/connburst.c || skip "cannot build the test peers"
B=$tmp/connburst

pg_test_start

netns_pair "$SRV" "$CLI" i16m 198.18.63 2001:db8:63 || skip "cannot create network namespaces"

MPORT=$(free_port)
M=http://127.0.0.1:$MPORT
export SHAWK_HEARTBEAT_FILE=$tmp/heartbeat
"$SHAWK_BIN" probe --mode streaming --cmdb "$CMDB" --interval 200ms \
	--flush-interval 1s --metrics-listen "127.0.0.1:$MPORT" \
	--health-stall 3s >"$tmp/out" 2>"$tmp/err" &
probe_pid=$!
wait_for grep -q "streaming from eBPF" "$tmp/err" || { not_ok "streaming probe started"; cat "$tmp/err"; finish; }
check "agent says where it serves" grep -q "serving /metrics and /healthz on 127.0.0.1:$MPORT" "$tmp/err"
wait_for curl -sf -o /dev/null "$M/healthz" || { not_ok "/healthz answers"; cat "$tmp/err"; finish; }
record_poll_log "$tmp/err"

# Prometheus on loopback, its own config and storage, a fast scrape.
PPORT=$(free_port)
P=http://127.0.0.1:$PPORT
cat >"$tmp/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: shawk
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
promtool check config "$tmp/prometheus.yml" >/dev/null 2>&1 || { not_ok "promtool accepts the test's config"; finish; }
mkdir -p "$tmp/tsdb"
prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" >"$tmp/prom.log" 2>&1 &
prom_pid=$!
wait_for curl -sf -o /dev/null "$P/-/ready" || { not_ok "Prometheus ready"; tail -20 "$tmp/prom.log"; finish; }
record_ran "prometheus: $(prometheus --version 2>&1 | head -1)"

# query PROMQL : the single value of an instant query ("" when none).
query() {
	curl -sf --get "$P/api/v1/query" --data-urlencode "query=$1" |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else "")'
}
# wait_value PROMQL WANT : polls for up to 30 s; prints the last value.
wait_value() {
	local v="" i
	for i in $(seq 1 60); do
		v=$(query "$1")
		[ "$v" = "$2" ] && break
		sleep 0.5
	done
	echo "$v"
}

v=$(wait_value 'up{job="shawk"}' 1)
check "Prometheus scrapes the agent (up=$v)" test "$v" = 1

ip netns exec "$SRV" "$B" i16-mt-srv4 tcp-server 198.18.63.1 9063 "$tmp/r4" &
pids+=($!)
ip netns exec "$SRV" "$B" i16-mt-srv6 tcp-server 2001:db8:63::1 9064 "$tmp/r6" &
pids+=($!)
wait_for test -f "$tmp/r4" && wait_for test -f "$tmp/r6" || { not_ok "servers started"; finish; }

# In rounds, across several flushes and scrapes.
rc=0
for round in 1 2 3; do
	ip netns exec "$CLI" "$B" i16-mt-cli4 tcp-client 198.18.63.1 9063 $((N4 / 3)) || rc=1
	ip netns exec "$CLI" "$B" i16-mt-cli6 tcp-client 2001:db8:63::1 9064 $((N6 / 3)) || rc=1
	sleep 0.7
done
check "clients ran" test "$rc" -eq 0
W4=$((N4 / 3 * 3)) W6=$((N6 / 3 * 3))

sel4='server_port="9063",proto="tcp"'
sel6='server_port="9064",proto="tcp"'
v=$(wait_value "sum(shawk_connections_total{direction=\"active\",$sel4})" "$W4")
check "Prometheus: $W4 IPv4 connections on the client side (got $v)" test "$v" = "$W4"
v=$(wait_value "sum(shawk_connections_total{direction=\"passive\",$sel4})" "$W4")
check "Prometheus: $W4 IPv4 connections on the server side (got $v)" test "$v" = "$W4"
v=$(wait_value "sum(shawk_connections_total{direction=\"active\",$sel6})" "$W6")
check "Prometheus: $W6 IPv6 connections on the client side (got $v)" test "$v" = "$W6"
v=$(wait_value "sum(shawk_connections_total{direction=\"passive\",$sel6})" "$W6")
check "Prometheus: $W6 IPv6 connections on the server side (got $v)" test "$v" = "$W6"
# The labels name both ends (processes outside pods: COMM@ADDR, a peer
# this node has no pod for: its address); one series per side.
v=$(query "shawk_connections_total{direction=\"active\",$sel4,client_namespace=\"\",client_workload=\"i16-mt-cli4@198.18.63.2\",server_namespace=\"\",server_workload=\"198.18.63.1\"}")
check "client-side series labelled client i16-mt-cli4@198.18.63.2, server 198.18.63.1 ($v)" test "$v" = "$W4"
v=$(query "shawk_connections_total{direction=\"passive\",$sel6,client_workload=\"2001:db8:63::2\",server_workload=\"i16-mt-srv6@2001:db8:63::1\"}")
check "server-side series labelled client 2001:db8:63::2, server i16-mt-srv6@2001:db8:63::1 ($v)" test "$v" = "$W6"
v=$(query "count(shawk_connections_total{$sel4})")
check "one series per side for port 9063 (got $v)" test "$v" = 2
v=$(query 'shawk_connections_dropped_total')
check "no connection dropped by the series bound ($v)" test "$v" = 0
v=$(query 'shawk_streaming_lost_events_total')
check "no BPF event lost ($v)" test "$v" = 0
v=$(query 'shawk_scans_total > 10')
check "scans counted ($v)" test -n "$v"
v=$(query 'shawk_scan_duration_seconds_count == shawk_scans_total')
check "every scan in the duration histogram ($v)" test -n "$v"
v=$(query 'shawk_cmdb_writes_total > 0')
check "CMDB flushes counted ($v)" test -n "$v"
v=$(query 'shawk_flush_duration_seconds_count > 0')
check "CMDB flush durations observed ($v)" test -n "$v"
v=$(query 'shawk_memory_rss_bytes > 1e6')
check "agent memory reported ($v bytes)" test -n "$v"
v=$(query 'shawk_build_info{mode="streaming"}')
check "build info ($v)" test "$v" = 1
# The CMDB holds the same count (running totals).
db=$(psql_val "SELECT coalesce(sum(connections_total),0) FROM flows WHERE direction = 'active' AND laddr = '198.18.63.2' AND rport = 9063" 2>/dev/null)
check "CMDB agrees: $W4 client-side connections from 198.18.63.2 (got $db)" test "$db" = "$W4"

curl -sf "$M/metrics" >"$tmp/metrics.txt"
if promtool check metrics <"$tmp/metrics.txt" >"$tmp/lint" 2>&1; then ok "promtool check metrics passes on /metrics"; else not_ok "promtool check metrics passes on /metrics"; cat "$tmp/lint"; fi
check "/metrics is the text format 0.0.4" bash -c "curl -sfI '$M/metrics' | grep -qi '^content-type: text/plain; version=0.0.4'"

status() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
wait_200() { # wait_200 URL: its status in $s, asked again until 200 (10 s)
	local _
	s=""
	for _ in $(seq 1 20); do
		s=$(status --max-time 2 "$1")
		[ "$s" = 200 ] && break
		sleep 0.5
	done
}
s=$(status "$M/healthz")
check "/healthz 200 while scans run ($(cat "$tmp/body"))" test "$s" = 200
check "unknown path 404" test "$(status "$M/nope")" = 404
check "POST 405" test "$(status -X POST "$M/metrics")" = 405
check "query parameter 400" test "$(status "$M/metrics?x=1")" = 400
check "oversized request cut off (431)" test "$(status -H "X-Big: $(head -c 8000 /dev/zero | tr '\0' a)" "$M/metrics")" = 431

# Every connection the endpoint takes (16), held open with half a request:
# the HTTP side is full, the agent's loop goes on (the heartbeat file and
# scans_total move), and the endpoint serves again once they go.
scans_before=$(curl -sf "$M/metrics" | awk '$1 == "shawk_scans_total" { print $2 }')
python3 - "$MPORT" <<'PY' &
import socket, sys, time
held = []
for _ in range(24):
    try:
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    except OSError:
        pass
time.sleep(4)
PY
hog_pid=$!
sleep 1.5
full=$(status --max-time 1 "$M/metrics")
check "the endpoint is full: no answer to one more request ($full)" test "$full" != 200
sleep 1
check "heartbeat fresh while the HTTP side is full (shawk health)" bash -c "'$SHAWK_BIN' health --file '$tmp/heartbeat' --max-age 1s >/dev/null"
wait "$hog_pid"
wait_200 "$M/metrics"
check "/metrics served again once the idle connections go" test "$s" = 200
scans_after=$(awk '$1 == "shawk_scans_total" { print $2 }' "$tmp/body")
check "scans went on meanwhile ($scans_before -> $scans_after at 200ms)" test "$((scans_after - scans_before))" -ge 10

# The CMDB's tables locked: the flush waits on them, on the CMDB sink's own
# thread and at most --cmdb-timeout (issue 18; half the 1 s flush interval
# here): it is abandoned and its flows kept, the loop never hangs, so
# /healthz stays 200 and the abandoned flushes are counted.
psql "$CMDB" -XAtq -c "BEGIN; LOCK TABLE flush_batches, flows IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(9); COMMIT;" >/dev/null 2>&1 &
lock_pid=$!
sleep 0.5
ip netns exec "$CLI" "$B" i16-mt-cli4 tcp-client 198.18.63.1 9063 5 || true
bad=0
for i in $(seq 1 12); do
	sleep 0.5
	s=$(status --max-time 2 "$M/healthz")
	[ "$s" = 200 ] || { bad=$((bad + 1)); echo "# /healthz $s: $(cat "$tmp/body")"; }
done
check "/healthz stays 200 while the tables are locked ($bad of 12 not)" test "$bad" -eq 0
status --max-time 2 "$M/metrics" >/dev/null
ab=$(awk '$1 == "shawk_cmdb_abandoned_flushes_total" { print $2 }' "$tmp/body")
check "the stuck flushes are abandoned and counted ($ab)" test "${ab:-0}" -ge 1
check "/metrics still served meanwhile" test "$(status --max-time 2 "$M/metrics")" = 200
v=$(query 'up{job="shawk"}')
check "Prometheus still scrapes meanwhile (up=$v)" test "$v" = 1
wait "$lock_pid"
lock_pid=
wait_200 "$M/healthz"
check "/healthz back to 200 once the lock is gone ($(cat "$tmp/body"))" test "$s" = 200
v=$(wait_value "sum(shawk_connections_total{direction=\"active\",$sel4})" "$((W4 + 5))")
check "the 5 connections made during the hang are counted ($v)" test "$v" = "$((W4 + 5))"

kill -TERM "$probe_pid"
wait "$probe_pid"
check "agent exits 0 on SIGTERM" test $? -eq 0
probe_pid=
check "no error logged" bash -c "! grep -q ' error: ' $tmp/err"
finish
