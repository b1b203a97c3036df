#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# metrics_scrape: the cost of the agent's /metrics with 10k series of
# shawk_connections_total, next to the agent's own scan cost, same run.
#
# A streaming agent (--output none, --interval 1s, --flush-interval 2s,
# --metrics-listen on loopback) watches two network namespaces; a client
# opens one connection to each of 5000 listening ports of a server, which
# gives 5000 series on each side (10k). Then, with the agent otherwise idle:
#
#  1. the reference: the agent's CPU time per second over W seconds with no
#     scrape (its scans every second; flushes have nothing new), and the
#     mean wall time of a scan (shawk_scan_duration_seconds);
#  2. N sequential scrapes of /metrics: wall time each (curl, median and
#     p95), body size, and the agent's CPU time per scrape (the CPU of the
#     scrape window minus the reference rate times its length, over N);
#  3. ratios: CPU per scrape / scan wall time, CPU per scrape / the agent's
#     CPU per second without scrapes.
#
# Needs root (netns, BPF). Run under flock -x /tmp/shawk-bench.lock and the
# integration lock (it uses netns); the machine may be shared: see the load.
set -u
cd "$(dirname "$0")/.." || exit 1
SHAWK_BIN=${SHAWK_BIN:-build/shawk}
PORTS=${SHAWK_BENCH_PORTS:-5000} N=${SHAWK_BENCH_SCRAPES:-1000} W=${SHAWK_BENCH_WINDOW:-10}
[ "$(id -u)" -eq 0 ] || { echo "SKIP - metrics_scrape needs root"; exit 0; }
command -v curl >/dev/null || { echo "SKIP - needs curl"; exit 0; }

SRV=i16-endpoints-bsrv-$$ CLI=i16-endpoints-bcli-$$
tmp=$(mktemp -d)
# shellcheck disable=SC2317 # run by the EXIT trap (shellcheck 0.9 misses it before the final exit)
cleanup() {
	[ -n "${probe_pid:-}" ] && kill "$probe_pid" 2>/dev/null
	[ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null
	pkill -f "$tmp/server.py" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

{ ip netns add "$SRV" && ip netns add "$CLI"; } || { echo "cannot create netns"; exit 1; }
ip link add i16b-s$$ type veth peer name i16b-c$$
ip link set i16b-s$$ netns "$SRV"
ip link set i16b-c$$ netns "$CLI"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" addr add 198.18.63.101/24 dev i16b-s$$
ip -n "$CLI" addr add 198.18.63.102/24 dev i16b-c$$
ip -n "$SRV" link set i16b-s$$ up
ip -n "$CLI" link set i16b-c$$ up

cat >"$tmp/server.py" <<'PY'
import selectors, socket, sys
base, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sel = selectors.DefaultSelector()
for p in range(base, base + n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.63.101", p))
    s.listen(64)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
open(ready, "w").close()
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except BlockingIOError:
            pass
PY
cat >"$tmp/client.py" <<'PY'
import socket, sys
base, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(base, base + n):
    s = socket.create_connection(("198.18.63.101", p))
    s.close()
PY

MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
M=http://127.0.0.1:$MPORT/metrics
ulimit -n 20000 2>/dev/null
ip netns exec "$SRV" python3 "$tmp/server.py" 20000 "$PORTS" "$tmp/ready" &
srv_pid=$!
for _ in $(seq 1 100); do [ -f "$tmp/ready" ] && break; sleep 0.1; done
[ -f "$tmp/ready" ] || { echo "server did not start"; exit 1; }

"$SHAWK_BIN" probe --mode streaming --output none --interval 1s --flush-interval 2s \
	--metrics-listen "127.0.0.1:$MPORT" --metrics-max-series 20000 2>"$tmp/err" &
probe_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "$M" && break; sleep 0.1; done
ip netns exec "$CLI" python3 "$tmp/client.py" 20000 "$PORTS" || { echo "client failed"; exit 1; }

metric() { curl -sf "$M" | awk -v n="$1" '$1 == n { print $2 }'; }
want=$((2 * PORTS))
series=0
for _ in $(seq 1 60); do
	series=$(metric shawk_connection_series)
	[ "${series:-0}" -ge "$want" ] && break
	sleep 0.5
done
[ "${series:-0}" -ge "$want" ] || { echo "only ${series:-0} series of $want"; exit 1; }
sleep 3 # a flush with nothing new: the steady state

hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$probe_pid/stat"; }
now_ns() { date +%s%N; }

echo "== metrics_scrape ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); machine shared)"
# 1. Reference: the agent alone.
s1=$(metric shawk_scan_duration_seconds_sum) c1=$(metric shawk_scan_duration_seconds_count)
t0=$(now_ns) k0=$(cpu_ticks)
sleep "$W"
t1=$(now_ns) k1=$(cpu_ticks)
s2=$(metric shawk_scan_duration_seconds_sum) c2=$(metric shawk_scan_duration_seconds_count)
idle_ms_per_s=$(echo "($k1 - $k0) * 1000 / $hz / (($t1 - $t0) / 1000000000)" | bc -l)
scan_ms=$(echo "($s2 - $s1) * 1000 / ($c2 - $c1)" | bc -l)

# 2. Scrapes, one after the other.
size=$(curl -sf "$M" | wc -c)
: >"$tmp/times"
t0=$(now_ns) k0=$(cpu_ticks)
for _ in $(seq 1 "$N"); do
	curl -sf -o /dev/null -w '%{time_total}\n' "$M" >>"$tmp/times"
done
t1=$(now_ns) k1=$(cpu_ticks)
win_s=$(echo "($t1 - $t0) / 1000000000" | bc -l)
cpu_ms=$(echo "($k1 - $k0) * 1000 / $hz" | bc -l)
per_scrape_cpu=$(echo "($cpu_ms - $idle_ms_per_s * $win_s) / $N" | bc -l)
med=$(sort -n "$tmp/times" | awk -v n="$N" 'NR == int((n + 1) / 2) { printf "%.2f", $1 * 1000 }')
p95=$(sort -n "$tmp/times" | awk -v n="$N" 'NR == int(n * 0.95) { printf "%.2f", $1 * 1000 }')
got=$(curl -sf "$M" | grep -c '^shawk_connections_total{')

printf 'series of shawk_connections_total:   %d (body %d bytes)\n' "$got" "$size"
printf 'reference, no scrape: agent CPU       %.2f ms/s; scan wall time %.2f ms (mean of %d)\n' \
	"$idle_ms_per_s" "$scan_ms" "$((${c2%.*} - ${c1%.*}))"
printf 'scrape wall time (curl):             median %s ms, p95 %s ms (%d scrapes)\n' "$med" "$p95" "$N"
printf 'agent CPU per scrape:                %.3f ms (%.0f ms over %.1f s, reference subtracted)\n' \
	"$per_scrape_cpu" "$cpu_ms" "$win_s"
printf 'ratio CPU per scrape / scan:         %.2f\n' "$(echo "$per_scrape_cpu / $scan_ms" | bc -l)"
printf 'ratio CPU per scrape / agent CPU-s:  %.3f\n' "$(echo "$per_scrape_cpu / $idle_ms_per_s" | bc -l)"
printf 'agent RSS:                           %s bytes\n' "$(metric shawk_memory_rss_bytes)"
exit 0
