#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# streaming_rate: what `shawk probe --mode streaming` costs the traffic it
# watches. See bench/README.md.
#
#  1. Connection rate between two network namespaces (connect, 1-byte
#     request/response, close; 2 client + 2 server threads) with the agent
#     off and on, alternated BENCH_ROUNDS (7) times BENCH_SECONDS (3) s each;
#     ratio of the medians (target >= 0.98).
#  2. Events: the agent's lost-event warnings during the saturated runs
#     (target: none) and the events/s those runs produced (2 per connection).
#  3. Agent CPU at BENCH_RATE (10000) connections/s, paced.
#  4. BPF map memory (bpftool memlock) per tracked entry.
#
# Exit status 0 when it ran or printed "SKIP - reason" (targets missed are
# reported, not failures).
set -u
cd "$(dirname "$0")/.."
SHAWK_BIN=${SHAWK_BIN:-build/shawk}
ROUNDS=${BENCH_ROUNDS:-7}
SECS=${BENCH_SECONDS:-3}
RATE=${BENCH_RATE:-10000}

[ "$(id -u)" -eq 0 ] || { echo "SKIP - needs root (BPF, network namespaces)"; exit 0; }
tmp=$(mktemp -d)
SRV=shawk-sr-s-$$ CLI=shawk-sr-c-$$
agent=
cleanup() {
	[ -n "$agent" ] && kill "$agent" 2>/dev/null
	pkill -f "$tmp/connrate" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null; ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
cc -O2 -pthread -o "$tmp/connrate" bench/connrate.c || { echo "SKIP - cannot build bench/connrate.c"; exit 0; }

"$SHAWK_BIN" probe --mode streaming --output none >"$tmp/p0" 2>&1 &
p0=$!; sleep 0.5; kill $p0; wait $p0 2>/dev/null
if grep -q "cannot start" "$tmp/p0"; then
	echo "SKIP - $(sed -n 's/.*cannot start: //p' "$tmp/p0" | head -1)"; exit 0
fi

ip netns add "$SRV"; ip netns add "$CLI"
ip link add vsr-s$$ type veth peer name vsr-c$$
ip link set vsr-s$$ netns "$SRV"; ip link set vsr-c$$ netns "$CLI"
ip -n "$SRV" addr add 198.18.2.1/24 dev vsr-s$$; ip -n "$CLI" addr add 198.18.2.2/24 dev vsr-c$$
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set vsr-s$$ up; ip -n "$CLI" link set vsr-c$$ up
ip netns exec "$CLI" sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
ip netns exec "$SRV" "$tmp/connrate" server 198.18.2.1 7000 2 &
sleep 0.3

start_agent() {
	"$SHAWK_BIN" probe --mode streaming --output none --interval 1s --flush-interval 10s >>"$tmp/agent.log" 2>&1 &
	agent=$!
	for _ in $(seq 50); do grep -q "streaming from eBPF" "$tmp/agent.log" && break; sleep 0.1; done
}
stop_agent() { kill "$agent"; wait "$agent" 2>/dev/null; agent=; }
run() { ip netns exec "$CLI" "$tmp/connrate" client 198.18.2.1 7000 2 "$SECS" "${1:-0}"; }

off=() on=()
for i in $(seq "$ROUNDS"); do
	off+=("$(run)")
	start_agent; on+=("$(run)"); stop_agent
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
ratio=$(awk -v a="$m_on" -v b="$m_off" 'BEGIN {printf "%.3f", a/b}')
echo "connection rate: agent off ${off[*]} /s; on ${on[*]} /s"
echo "connection rate ratio on/off (medians $m_on/$m_off): $ratio (target >= 0.98)"
lost=$(grep -c "events lost" "$tmp/agent.log")
echo "events/s sustained while saturated: $(( m_on * 2 )) (2 per connection), lost-event warnings: $lost (target 0)"

# Agent CPU at a paced rate.
start_agent
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u0 s0 _ < "/proc/$agent/stat"
t0=$(date +%s%N)
got=$(run "$RATE")
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ u1 s1 _ < "/proc/$agent/stat"
t1=$(date +%s%N)
hz=$(getconf CLK_TCK)
cpu=$(awk -v d=$(( u1 + s1 - u0 - s0 )) -v hz="$hz" -v ns=$(( t1 - t0 )) 'BEGIN {printf "%.1f", 100 * d / hz / (ns / 1e9)}')
echo "agent CPU at $got connections/s (asked $RATE): ${cpu}% of one core (user space; BPF time is charged to the traffic above)"
if command -v bpftool >/dev/null; then
	bpftool map show -j 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin):
    if m.get("name") in ("conn_owners", "listeners", "udp_peers", "events"):
        n = m.get("max_entries", 0)
        mem = m.get("bytes_memlock", 0)
        per = (" = %d B/entry" % (mem / n)) if m["name"] in ("conn_owners", "listeners", "udp_peers") and n else ""
        print("map %-10s %-14s max_entries %-9d memlock %d B%s" % (m["name"], m["type"], n, mem, per))
'
fi
stop_agent
