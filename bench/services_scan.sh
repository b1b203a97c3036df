#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# services_scan: what the conntrack stage (issue 15) costs a full scan.
#
#  1. A Calico-style node netns (tests/integration/lib/services_topo.sh)
#     routing to a client pod and a server pod; one DNAT rule sends
#     198.18.161.10:20001-20010 (a ClusterIP) to the server pod. The client
#     holds BENCH_CONNS (50000) connections through it, over processes of
#     at most BENCH_PER_PROC (10000) each (RLIMIT_NOFILE 20000), and the
#     node's conntrack table gets BENCH_CT_EXTRA (100000) unrelated UDP
#     entries without NAT (bench/ct_fill.py).
#  2. `shawk probe --once --output none` with the stage (default: the
#     per-connection lookup by BPF kfunc), with the stage forced to dump
#     (SHAWK_BPF_DENY=shawk_ct_lookup: the lookup refused, the dump path)
#     and with --conntrack off, BENCH_RUNS (5) interleaved runs each,
#     medians of wall and CPU time: ratios with/without (target <= 1.3),
#     for each path; the lookup path's CPU floor (the lookup thread's
#     CPU time alone, from its debug line). Peak RSS (VmHWM) of
#     each, and of a polling agent after a few scans with the stage.
#     BENCH_REF_BIN=path adds an arm with another binary's stage (e.g. the
#     build of main before a change), interleaved with the others.
#     The floor, in the same run: bench/ct_dump.c times bare dumps of the
#     node's table (the walk alone, the DNAT entries, the SNAT ones), and
#     `conntrack -L | wc -l` once.
#  3. Correctness with --output json: every connection counted at the
#     backend with its Service, by either path (and, without the stage, at
#     the ClusterIP); the default scan says it took the lookup path.
# The whole run is bounded by BENCH_BUDGET seconds (600, a watchdog).
# BENCH_NET (198.18.61), BENCH_SVC_IP (198.18.161.10) and BENCH_PREFIX
# (i15ct-bench: netns names) keep runs of several engineers apart.
#
# Run under both locks, alone:
#   flock -x /tmp/shawk-bench.lock flock -x /tmp/shawk-integration.lock \
#       bash bench/services_scan.sh
# Exit status: 0 when it ran (even if a target is missed: a benchmark) or
# printed SKIP; 1 when it could not run.
# The runs' times are space-separated lists split into median's arguments.
# shellcheck disable=SC2086
set -u
export LC_ALL=C

SHAWK_BIN=${SHAWK_BIN:-build/shawk}
CONNS=${BENCH_CONNS:-50000}
PER_PROC=${BENCH_PER_PROC:-10000}
RUNS=${BENCH_RUNS:-5}
CT_EXTRA=${BENCH_CT_EXTRA:-100000}
BUDGET=${BENCH_BUDGET:-600}
TARGET_RATIO=1.3
# The test network: pods NET.10 (client) and NET.21 (server), the ClusterIP
# SVC_IP, unrelated conntrack entries NET.200 -> NET.201.
NET=${BENCH_NET:-198.18.61}
SVC_IP=${BENCH_SVC_IP:-198.18.161.10}

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$BENCH_DIR/.." && pwd)
case "$SHAWK_BIN" in /*) ;; *) SHAWK_BIN="$PWD/$SHAWK_BIN" ;; esac
BENCH_NAME=services_scan
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
P=${BENCH_PREFIX:-i15ct-bench}-$$

bench_require "network namespaces, conntrack" ip iptables nsenter cc jq python3
case "$CONNS$PER_PROC$RUNS$CT_EXTRA$BUDGET" in *[!0-9]*) die "BENCH_* must be integers" ;; esac
PAIRS=$(((CONNS + PER_PROC - 1) / PER_PROC))
[ "$PAIRS" -le 10 ] || die "BENCH_CONNS / BENCH_PER_PROC must give at most 10 processes"

# shellcheck source=tests/integration/lib/services_topo.sh
. "$TOP/tests/integration/lib/services_topo.sh"

# shellcheck disable=SC2317 # called by bench_cleanup
bench_cleanup_hook() { wait 2>/dev/null; topo_cleanup; }
bench_traps
bench_watchdog "$BUDGET"

TMP=$(mktemp -d /tmp/shawk-bench.XXXXXX) || die "mktemp"
bench_build_holder "$TMP"
CTDUMP=$TMP/ct_dump
cc -std=gnu11 -O2 -Wall -Wextra -o "$CTDUMP" "$BENCH_DIR/ct_dump.c" ||
	die "cannot compile bench/ct_dump.c"
REF_BIN=${BENCH_REF_BIN:-}
if [ -n "$REF_BIN" ]; then
	case "$REF_BIN" in /*) ;; *) REF_BIN="$PWD/$REF_BIN" ;; esac
	[ -x "$REF_BIN" ] || die "BENCH_REF_BIN=$REF_BIN is not executable"
fi

# ---- 1. topology, connections, unrelated entries ---------------------------

topo_init "$P" || die "cannot create network namespaces"
topo_pod cli "$NET.10" || die "topo_pod cli"
topo_pod srv "$NET.21" || die "topo_pod srv"
NODE=/run/netns/$P-node CLI=/run/netns/$P-cli SRV=/run/netns/$P-srv
nsenter --net="$CLI" sysctl -qw net.ipv4.ip_local_port_range="30000 65000" || die "sysctl cli"
nsenter --net="$SRV" sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 || die "sysctl srv"
nsenter --net="$NODE" iptables -t nat -A PREROUTING -d "$SVC_IP" -p tcp \
	--dport 20001:20010 -j DNAT --to-destination "$NET.21" ||
	die "cannot add the DNAT rule"

left=$CONNS
t0=$SECONDS
for ((i = 1; i <= PAIRS; i++)); do
	n=$((left < PER_PROC ? left : PER_PROC))
	left=$((left - n))
	nsenter --net="$SRV" "$HOLDER" server "$NET.21" $((20000 + i)) "$n" >"$TMP/srv$i" 2>&1 &
	HOLDER_PIDS+=($!)
	bench_wait_listen "$SRV" $((20000 + i))
	nsenter --net="$CLI" "$HOLDER" client "$NET.10" "$SVC_IP" $((20000 + i)) "$n" >"$TMP/cli$i" 2>&1 &
	HOLDER_PIDS+=($!)
done
bench_wait_holders "$PAIRS" 120
added=$(nsenter --net="$NODE" python3 "$BENCH_DIR/ct_fill.py" "$CT_EXTRA" "$NET.200" "$NET.201") ||
	die "cannot fill the conntrack table"
CT_COUNT=$(nsenter --net="$NODE" cat /proc/sys/net/netfilter/nf_conntrack_count)
say "services_scan: $CONNS connections through a DNAT held by $PAIRS+$PAIRS processes ($((SECONDS - t0)) s); node conntrack: $CT_COUNT entries ($added unrelated)"
CLI_NS=$(stat -L -c %i "$CLI")

# ---- 2. scans with and without the stage -------------------------------------

SCAN=("$SHAWK_BIN" probe --mode polling --once --output none --log-level error)
# BENCH_PERF=FILE: a perf profile of one scan with the stage, then exit.
if [ -n "${BENCH_PERF:-}" ]; then
	perf record -q -g -o "$BENCH_PERF" "${SCAN[@]}" --conntrack on >/dev/null 2>&1
	perf report -i "$BENCH_PERF" --no-children --percent-limit 2 --stdio 2>/dev/null | grep -v '^$' | head -60
	# ... and of a polling daemon in steady state.
	"$SHAWK_BIN" probe --mode polling --output none --interval 1s --log-level error &
	AGENT_PID=$!
	sleep 3.5
	perf record -q -g -o "$BENCH_PERF.daemon" -p "$AGENT_PID" -- sleep 5 >/dev/null 2>&1
	kill -TERM "$AGENT_PID"; wait "$AGENT_PID"; AGENT_PID=
	perf report -i "$BENCH_PERF.daemon" --no-children --sort sym -g none --percent-limit 1 --stdio 2>/dev/null | grep -v '^$' | head -40
	exit 0
fi
declare -A WALLS CPUS
REF_SCAN=("$REF_BIN" "${SCAN[@]:1}")
for ((r = 1; r <= RUNS; r++)); do
	measure "${SCAN[@]}" --conntrack off || die "scan without conntrack failed"
	WALLS[off]+=" $WALL" CPUS[off]+=" $CPU"
	measure "${SCAN[@]}" --conntrack on || die "scan with conntrack failed"
	WALLS[on]+=" $WALL" CPUS[on]+=" $CPU"
	SHAWK_BPF_DENY=shawk_ct_lookup measure "${SCAN[@]}" --conntrack on ||
		die "scan with conntrack by dumps failed"
	WALLS[dump]+=" $WALL" CPUS[dump]+=" $CPU"
	if [ -n "$REF_BIN" ]; then
		measure "${REF_SCAN[@]}" --conntrack on || die "reference scan with conntrack failed"
		WALLS[ref]+=" $WALL" CPUS[ref]+=" $CPU"
	fi
done
W_ON=$(median ${WALLS[on]}) W_OFF=$(median ${WALLS[off]})
C_ON=$(median ${CPUS[on]}) C_OFF=$(median ${CPUS[off]})
R_WALL=$(ratio "$W_ON" "$W_OFF") R_CPU=$(ratio "$C_ON" "$C_OFF")
W_DUMP=$(median ${WALLS[dump]}) C_DUMP=$(median ${CPUS[dump]})
if [ -n "$REF_BIN" ]; then
	W_REF=$(median ${WALLS[ref]}) C_REF=$(median ${CPUS[ref]})
fi

# The floor: bare dumps of the node's table (no parsing), same run.
declare -A FLOOR
for kind in walk dnat snat; do
	mapfile -t v < <(nsenter --net="$NODE" "$CTDUMP" "$kind" "$RUNS" | awk '{print $4}')
	FLOOR[$kind]=$(median "${v[@]}")
done
FLOOR_DNAT_N=$(nsenter --net="$NODE" "$CTDUMP" dnat 1 | awk '{print $2}')
CTL_N=0 CTL_US=0
if command -v conntrack >/dev/null; then
	a=$EPOCHREALTIME
	CTL_N=$(nsenter --net="$NODE" conntrack -L 2>/dev/null | wc -l)
	b=$EPOCHREALTIME
	CTL_US=$((10#${b/./} - 10#${a/./}))
fi

# The lookup path's floor, same run: the kernel's lookups alone (the CPU
# time of the thread that looks tuples up while the sockets are read, from
# its debug line), medians of RUNS untimed scans.
LK_CPU=()
for ((r = 1; r <= RUNS; r++)); do
	lk=$("$SHAWK_BIN" probe --mode polling --once --output none --log-level debug 2>&1 |
		sed -n 's/.*blocks looked up while the sockets were read .*, \([0-9.]*\) ms CPU$/\1/p')
	[ -n "$lk" ] && LK_CPU+=("$(awk -v v="$lk" 'BEGIN {printf "%d", v * 1000}')")
done
W_LK=0
[ "${#LK_CPU[@]}" -gt 0 ] && W_LK=$(median "${LK_CPU[@]}")

RSS_ON=$(peak_rss_kb "${SCAN[@]}" --conntrack on)
RSS_DUMP=$(SHAWK_BPF_DENY=shawk_ct_lookup peak_rss_kb "${SCAN[@]}" --conntrack on)
RSS_OFF=$(peak_rss_kb "${SCAN[@]}" --conntrack off)
# A polling daemon (1 s interval) with and without the stage: CPU per scan
# in steady state (after 3 warm-up scans, over DAEMON_SECONDS), peak RSS.
DAEMON_SECONDS=${BENCH_DAEMON_SECONDS:-10}
HZ=$(getconf CLK_TCK)
declare -A DCPU DRSS
for mode in off on; do
	"$SHAWK_BIN" probe --mode polling --output none --interval 1s --flush-interval 10s \
		--log-level error --conntrack "$mode" 2>/dev/null &
	AGENT_PID=$!
	sleep 3.5
	cpu_ticks "$AGENT_PID"; t0=$REPLY
	sleep "$DAEMON_SECONDS"
	cpu_ticks "$AGENT_PID"; t1=$REPLY
	DCPU[$mode]=$(awk -v t="$((t1 - t0))" -v hz="$HZ" -v n="$DAEMON_SECONDS" 'BEGIN {printf "%.1f", t * 1000 / hz / n}')
	DRSS[$mode]=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null)
	kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
done
R_DAEMON=$(ratio "${DCPU[on]}" "${DCPU[off]}")

# ---- 3. correctness -----------------------------------------------------------

"$SHAWK_BIN" probe --mode polling --once --output json --log-level info >"$TMP/on.json" 2>"$TMP/on.err" ||
	die "scan --output json failed"
PATH_LINE=$(grep -o "conntrack: per-connection lookup.*" "$TMP/on.err" | head -1)
SHAWK_BPF_DENY=shawk_ct_lookup "$SHAWK_BIN" probe --mode polling --once --output json \
	--log-level error >"$TMP/dump.json" || die "scan --output json by dumps failed"
"$SHAWK_BIN" probe --mode polling --once --output json --log-level error --conntrack off >"$TMP/off.json" ||
	die "scan --output json --conntrack off failed"
AT_BACKEND=$(jq --argjson ns "$CLI_NS" --arg be "$NET.21" --arg svc "$SVC_IP" '[.[] | select(.netns == $ns and .direction == "active"
	and .peer.addr == $be and .service.addr == $svc) | .connections] | add // 0' "$TMP/on.json")
AT_BACKEND_DUMP=$(jq --argjson ns "$CLI_NS" --arg be "$NET.21" --arg svc "$SVC_IP" '[.[] | select(.netns == $ns and .direction == "active"
	and .peer.addr == $be and .service.addr == $svc) | .connections] | add // 0' "$TMP/dump.json")
AT_SVC=$(jq --argjson ns "$CLI_NS" --arg svc "$SVC_IP" '[.[] | select(.netns == $ns and .direction == "active"
	and .peer.addr == $svc and .service == null) | .connections] | add // 0' "$TMP/off.json")
OK=MISS
[ "$AT_BACKEND" -eq "$CONNS" ] && [ "$AT_BACKEND_DUMP" -eq "$CONNS" ] &&
	[ "$AT_SVC" -eq "$CONNS" ] && case "$PATH_LINE" in *"(BPF kfunc)"*) true ;; *) false ;; esac && OK=PASS
VERDICT=$(awk -v v="$R_WALL" -v c="$R_CPU" -v t="$TARGET_RATIO" 'BEGIN {print (v <= t && c <= t) ? "PASS" : "MISS"}')
V_WALL=$(awk -v v="$R_WALL" -v t="$TARGET_RATIO" 'BEGIN {print (v <= t) ? "PASS" : "MISS"}')
V_CPU=$(awk -v v="$R_CPU" -v t="$TARGET_RATIO" 'BEGIN {print (v <= t) ? "PASS" : "MISS"}')

DCPU_OFF=${DCPU[off]} DCPU_ON=${DCPU[on]}
say "services_scan: one-shot scan, $RUNS interleaved runs, medians (machine shared: compare ratios, not times)"
say "  without conntrack stage: wall $(ms "$W_OFF") ms, cpu $(ms "$C_OFF") ms, peak RSS $((RSS_OFF / 1024)) MiB"
say "  with conntrack stage (lookup): wall $(ms "$W_ON") ms, cpu $(ms "$C_ON") ms, peak RSS $((RSS_ON / 1024)) MiB"
say "  with conntrack stage (dumps):  wall $(ms "$W_DUMP") ms, cpu $(ms "$C_DUMP") ms, peak RSS $((RSS_DUMP / 1024)) MiB"
say "  ratio with/without, lookup path: wall $R_WALL, cpu $R_CPU (target <= $TARGET_RATIO): $VERDICT (wall $V_WALL, cpu $V_CPU)"
say "  ratio with/without, dump path:   wall $(ratio "$W_DUMP" "$W_OFF"), cpu $(ratio "$C_DUMP" "$C_OFF")"
say "  path of the default scan: ${PATH_LINE:-no lookup line}"
say "  floor of the lookup path: the kernel's lookups alone $(ms "$W_LK") ms CPU (the lookup thread, ${#LK_CPU[@]} scans): cpu floor $(ratio $((C_OFF + W_LK)) "$C_OFF"), wall floor 1.00 (they overlap the socket read)"
if [ -n "$REF_BIN" ]; then
	say "  reference binary ($REF_BIN) with the stage: wall $(ms "$W_REF") ms, cpu $(ms "$C_REF") ms: ratio wall $(ratio "$W_REF" "$W_OFF"), cpu $(ratio "$C_REF" "$C_OFF")"
fi
say "  floor, bare dumps of the node's table (medians of $RUNS): walk alone $(ms "${FLOOR[walk]}") ms, DNAT entries ($FLOOR_DNAT_N) $(ms "${FLOOR[dnat]}") ms, SNAT entries $(ms "${FLOOR[snat]}") ms; conntrack -L | wc -l: $CTL_N lines in $(ms "$CTL_US") ms"
say "  floor ratios: one DNAT dump after the socket scan $(ratio $((W_OFF + FLOOR[dnat])) "$W_OFF"), overlapped with it $(ratio $((W_OFF > FLOOR[dnat] ? W_OFF : FLOOR[dnat])) "$W_OFF") (wall); cpu $(ratio $((C_OFF + FLOOR[dnat])) "$C_OFF")"
say "  polling daemon, CPU ms per 1 s scan (steady state, ${DAEMON_SECONDS} scans): without $DCPU_OFF, with $DCPU_ON: ratio $R_DAEMON"
say "  polling daemon peak RSS: without $((${DRSS[off]:-0} / 1024)) MiB, with $((${DRSS[on]:-0} / 1024)) MiB"
say "  correctness: $AT_BACKEND (lookup), $AT_BACKEND_DUMP (dumps) of $CONNS at the backend with the Service; $AT_SVC at the ClusterIP with --conntrack off: $OK"
exit 0
