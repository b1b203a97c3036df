#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# probe_scan: how fast `shawk probe` sees and attributes many sockets,
# against ss(8) on the same sockets in the same run. See bench/README.md.
#
#  1. In a network namespace of its own, holds BENCH_CONNS (50000) loopback
#     TCP connections, i.e. twice as many sockets, spread over processes of
#     at most BENCH_PER_PROC (10000) sockets each (RLIMIT_NOFILE is 20000).
#  2. One-shot scan: times `shawk probe --once --output none` (from the root
#     netns; it scans every netns) against `ss -tan` and `ss -tanp` run in the
#     bench netns, BENCH_RUNS (5) interleaved runs, medians. Targets:
#     shawk/ss-tan <= 0.7 and ss-tanp/shawk >= 10. Checks with --output json
#     that shawk reports and attributes every connection on both sides.
#  3. Agent CPU: keeps BENCH_CPU_CONNS (20000) connections, runs
#     `shawk probe --output none --interval 1s` and reports its CPU (% of one
#     core) over BENCH_CPU_SECONDS (20) s in steady state (target <= 3%), then
#     with BENCH_CHURN (1000) connections closed and reopened per second.
#
# Exit status: 0 when it ran (even when a target is missed: this is a
# benchmark, not a test) or printed "SKIP - reason"; 1 when it could not run.
set -u

SHAWK_BIN=${SHAWK_BIN:-build/shawk}
CONNS=${BENCH_CONNS:-50000}
PER_PROC=${BENCH_PER_PROC:-10000}
RUNS=${BENCH_RUNS:-5}
CPU_CONNS=${BENCH_CPU_CONNS:-20000}
CPU_SECONDS=${BENCH_CPU_SECONDS:-20}
CHURN=${BENCH_CHURN:-1000}
BUDGET=${BENCH_BUDGET_SECONDS:-280}

TARGET_SCAN_RATIO=0.7  # shawk / ss -tan, at most
TARGET_P_RATIO=10      # ss -tanp / shawk, at least
TARGET_CPU=3           # % of one core at a 1 s interval, at most

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=shawk-bench-$$
NSPATH=/run/netns/$NS
TMP=
HOLDER_PIDS=()
AGENT_PID=
WATCHDOG_PID=

say() { printf '%s\n' "$*"; }
die() { say "probe_scan: ERROR - $*" >&2; exit 1; }
skip() { say "probe_scan: SKIP - $*"; exit 0; }

# ---- prerequisites ---------------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, /proc/<pid>/fd of other processes)"
for t in ip ss nsenter cc jq; do
	command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
done
[ -x "$SHAWK_BIN" ] || die "no shawk binary at SHAWK_BIN=$SHAWK_BIN (run make first)"
case "$CONNS$PER_PROC$RUNS$CPU_CONNS$CPU_SECONDS$CHURN" in
*[!0-9]*) die "BENCH_* variables must be non-negative integers" ;;
esac
[ "$PER_PROC" -gt 0 ] && [ "$RUNS" -gt 0 ] || die "BENCH_PER_PROC and BENCH_RUNS must be > 0"
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$PER_PROC" -gt $((hard - 64)) ]; then
	PER_PROC=$((hard - 64))
fi

# ---- cleanup: everything we started, by pid --------------------------------

cleanup() {
	trap - EXIT INT TERM
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	for p in "${HOLDER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -e "$NSPATH" ]; then
		# Anything still inside our own netns was started by us.
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
	[ -n "$TMP" ] && rm -rf "$TMP"
}
trap cleanup EXIT
trap 'say "probe_scan: interrupted" >&2; exit 1' INT TERM

# The whole run is bounded: past the budget the watchdog stops us.
(
	trap 'kill "$sp" 2>/dev/null; exit 0' TERM
	sleep "$BUDGET" &
	sp=$!
	wait "$sp" || exit 0
	say "probe_scan: ERROR - over the time budget of ${BUDGET}s" >&2
	kill -TERM $$
) &
WATCHDOG_PID=$!

TMP=$(mktemp -d /tmp/shawk-bench.XXXXXX) || die "mktemp"
OUT=$BENCH_DIR/out
mkdir -p "$OUT" || die "cannot create $OUT"
HOLDER=$OUT/conn_holder
cc -std=gnu11 -O2 -Wall -Wextra -o "$HOLDER" "$BENCH_DIR/conn_holder.c" ||
	die "cannot compile bench/conn_holder.c"

# ---- helpers ---------------------------------------------------------------

# Wall time of one command in microseconds, in $REPLY. Run from this shell:
# every measured command costs one fork+exec, like the others.
time_us() {
	local a b
	a=$EPOCHREALTIME
	"$@" >/dev/null 2>&1 || return 1
	b=$EPOCHREALTIME
	REPLY=$((10#${b/./} - 10#${a/./}))
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }

# utime+stime of a pid in clock ticks (fields 14 and 15, after "comm)").
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	set -- $s
	REPLY=$((${12} + ${13}))
}

in_ns() { nsenter --net="$NSPATH" "$@"; }

established() { in_ns ss -Htan state established | wc -l; }

# ---- 1. the connections ------------------------------------------------------

ip netns add "$NS" || die "ip netns add $NS failed"
ip -n "$NS" link set lo up || die "cannot bring lo up in $NS"
# Per-netns knobs: a deep accept queue and a wide ephemeral range.
in_ns sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
	net.ipv4.ip_local_port_range="30000 65000" ||
	die "cannot tune sysctls in $NS"
NS_INO=$(stat -L -c %i "$NSPATH") || die "cannot stat $NSPATH"

PAIRS=$(((CONNS + PER_PROC - 1) / PER_PROC))
[ "$PAIRS" -le 250 ] || die "BENCH_CONNS / BENCH_PER_PROC must give at most 250 processes"
CHURN_EACH=0
SRV_PIDS=() CLI_PIDS=() PAIR_N=()
left=$CONNS
for ((i = 1; i <= PAIRS; i++)); do
	n=$((left < PER_PROC ? left : PER_PROC))
	left=$((left - n))
	PAIR_N+=("$n")
	# A simple command, not a function: $! is the holder itself (bash
	# execs nsenter, which execs the holder).
	nsenter --net="$NSPATH" "$HOLDER" server 127.0.0.1 $((20000 + i)) "$n" \
		>"$TMP/srv$i" 2>&1 &
	SRV_PIDS+=($!)
	HOLDER_PIDS+=($!)
done
# Clients churn only after SIGUSR1, at a rate set now: spread BENCH_CHURN
# over the clients that stay for the CPU measurement.
KEEP=$(((CPU_CONNS + PER_PROC - 1) / PER_PROC))
[ "$KEEP" -le "$PAIRS" ] || KEEP=$PAIRS
[ "$KEEP" -gt 0 ] && CHURN_EACH=$(((CHURN + KEEP - 1) / KEEP))
for ((i = 1; i <= PAIRS; i++)); do
	# Servers must listen before clients connect.
	for ((w = 0; w < 100; w++)); do
		in_ns ss -Htln "sport = :$((20000 + i))" | grep -q . && break
		sleep 0.05
	done
	nsenter --net="$NSPATH" "$HOLDER" client 127.0.1.$i 127.0.0.1 \
		$((20000 + i)) "${PAIR_N[i - 1]}" "$CHURN_EACH" >"$TMP/cli$i" 2>&1 &
	CLI_PIDS+=($!)
	HOLDER_PIDS+=($!)
done

t0=$SECONDS
while :; do
	ready=$(cat "$TMP"/srv* "$TMP"/cli* 2>/dev/null | grep -c '^ready')
	[ "$ready" -eq $((2 * PAIRS)) ] && break
	for p in "${HOLDER_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null || die "a connection holder died: $(cat "$TMP"/* | grep -v '^ready' | head -3)"
	done
	[ $((SECONDS - t0)) -lt 90 ] || die "connections not established after 90 s ($ready of $((2 * PAIRS)) holders ready)"
	sleep 0.2
done
EST=$(established)
[ "$EST" -eq $((2 * CONNS)) ] ||
	die "expected $((2 * CONNS)) ESTABLISHED sockets in $NS, ss counts $EST"
say "probe_scan: $CONNS TCP connections ($EST ESTABLISHED sockets) held in netns $NS by $PAIRS server + $PAIRS client processes (set up in $((SECONDS - t0)) s)"

# ---- 2. one-shot scan: shawk against ss --------------------------------------

TRUE_BIN=$(type -P true) || die "no true(1) binary"
S_SHAWK=() S_SS=() S_SSP=() S_IPSS=() S_NSTRUE=() S_IPTRUE=() S_TRUE=()
for ((r = 1; r <= RUNS; r++)); do
	time_us "$SHAWK_BIN" probe --once --output none --log-level error ||
		die "shawk probe --once failed: $("$SHAWK_BIN" probe --once --output none 2>&1 | tail -1)"
	S_SHAWK+=("$REPLY")
	time_us in_ns ss -tan || die "ss -tan failed"
	S_SS+=("$REPLY")
	time_us in_ns ss -tanp || die "ss -tanp failed"
	S_SSP+=("$REPLY")
	time_us ip netns exec "$NS" ss -tan || die "ip netns exec ss -tan failed"
	S_IPSS+=("$REPLY")
	time_us in_ns true || die "nsenter true failed"
	S_NSTRUE+=("$REPLY")
	time_us ip netns exec "$NS" true || die "ip netns exec true failed"
	S_IPTRUE+=("$REPLY")
	time_us "$TRUE_BIN" || die "$TRUE_BIN failed"
	S_TRUE+=("$REPLY")
done
m_shawk=$(median "${S_SHAWK[@]}")
m_ss=$(median "${S_SS[@]}")
m_ssp=$(median "${S_SSP[@]}")
m_ipss=$(median "${S_IPSS[@]}")
m_nstrue=$(median "${S_NSTRUE[@]}")
m_iptrue=$(median "${S_IPTRUE[@]}")
m_true=$(median "${S_TRUE[@]}")
# What entering the netns adds on top of the fork+exec that every measured
# command pays (shawk included): nsenter's own exec and setns.
ovh=$((m_nstrue - m_true))
[ "$ovh" -gt 0 ] || ovh=0
ss_net=$((m_ss - ovh))
ssp_net=$((m_ssp - ovh))

# Correctness: every connection, on both sides, with its process.
"$SHAWK_BIN" probe --once --output json --log-level error >"$TMP/once.json" ||
	die "shawk probe --once --output json failed"
read -r pas_all pas_ok act_all act_ok nflows < <(jq -r --argjson ns "$NS_INO" '
	[.[] | select(.netns == $ns and .proto == "tcp")] as $f |
	def total(d): [$f[] | select(.direction == d) | .connections] | add // 0;
	def owned(d; c): [$f[] | select(.direction == d and .process.name == c
		and .process.pgid > 0 and .process.pgid == .process.pid)
		| .connections] | add // 0;
	"\(total("passive")) \(owned("passive"; "holder-srv")) \(total("active")) \(owned("active"; "holder-cli")) \($f | length)"
	' "$TMP/once.json") || die "cannot parse shawk's JSON output"
holder_pgids=$(printf '%s\n' "${HOLDER_PIDS[@]}" | sort -n | tr '\n' ' ')
json_pgids=$(jq -r --argjson ns "$NS_INO" '[.[] | select(.netns == $ns) | .process.pgid] | unique | .[]' "$TMP/once.json" | sort -n | tr '\n' ' ')

verdict() { # value op target -> PASS|MISS
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = (op == "<=") ? (v <= t) : (v >= t); print ok ? "PASS" : "MISS" }'
}
ratio_scan=$(awk -v a="$m_shawk" -v b="$ss_net" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 99)}')
ratio_p=$(awk -v a="$ssp_net" -v b="$m_shawk" 'BEGIN {printf "%.1f", (b > 0 ? a / b : 0)}')
ok_json=MISS
[ "$pas_all" -eq "$CONNS" ] && [ "$pas_ok" -eq "$CONNS" ] &&
	[ "$act_all" -eq "$CONNS" ] && [ "$act_ok" -eq "$CONNS" ] &&
	[ "$json_pgids" = "$holder_pgids" ] && ok_json=PASS

# ---- 3. agent CPU at a 1 s interval ---------------------------------------------

# Keep the first KEEP pairs (BENCH_CPU_CONNS connections), drop the others.
cpu_conns=0
for ((i = 1; i <= PAIRS; i++)); do
	if [ "$i" -le "$KEEP" ]; then
		cpu_conns=$((cpu_conns + PAIR_N[i - 1]))
	else
		kill -KILL "${CLI_PIDS[i - 1]}" "${SRV_PIDS[i - 1]}" 2>/dev/null
		wait "${CLI_PIDS[i - 1]}" "${SRV_PIDS[i - 1]}" 2>/dev/null
	fi
done
t0=$SECONDS
while [ "$(established)" -ne $((2 * cpu_conns)) ]; do
	[ $((SECONDS - t0)) -lt 30 ] || die "connections of the stopped holders did not go away"
	sleep 0.2
done

agent_cpu() { # seconds -> % of one core in $REPLY
	local t0 c0 t1 c1
	cpu_ticks "$AGENT_PID" || die "shawk probe died"
	c0=$REPLY t0=$EPOCHREALTIME
	sleep "$1"
	cpu_ticks "$AGENT_PID" || die "shawk probe died"
	c1=$REPLY t1=$EPOCHREALTIME
	REPLY=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" \
		-v us="$((10#${t1/./} - 10#${t0/./}))" \
		'BEGIN {printf "%.2f", 100 * (c / hz) / (us / 1e6)}')
}

"$SHAWK_BIN" probe --output none --interval 1s --flush-interval 10s \
	--log-level warn 2>"$TMP/agent.log" &
AGENT_PID=$!
# The first scan walks every fd table (cold cache): not steady state.
sleep 3
agent_cpu "$CPU_SECONDS"
cpu_steady=$REPLY
est_steady=$(established)

cpu_churn=-
est_churn=-
if [ "$CHURN" -gt 0 ] && [ "$KEEP" -gt 0 ]; then
	for ((i = 1; i <= KEEP; i++)); do
		kill -USR1 "${CLI_PIDS[i - 1]}"
	done
	sleep 2
	agent_cpu "$CPU_SECONDS"
	cpu_churn=$REPLY
	est_churn=$(established)
fi
kill -TERM "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
AGENT_PID=
if grep -q . "$TMP/agent.log"; then
	say "probe_scan: shawk probe logged:"
	sed 's/^/    /' "$TMP/agent.log" | head -5
fi

# ---- summary ---------------------------------------------------------------------

row() { printf '  %-52s %9s %9s %9s\n' "$@"; }
mm() { # name samples...
	local name=$1
	shift
	row "$name" "$(ms "$(median "$@")")" "$(ms "$(printf '%s\n' "$@" | sort -n | head -1)")" \
		"$(ms "$(printf '%s\n' "$@" | sort -n | tail -1)")"
}
say ""
say "probe_scan: one-shot scan of $CONNS connections ($((2 * CONNS)) sockets), $RUNS interleaved runs (ms)"
row "command" median min max
mm "shawk probe --once --output none  (root netns)" "${S_SHAWK[@]}"
mm "nsenter --net=NS ss -tan" "${S_SS[@]}"
mm "nsenter --net=NS ss -tanp" "${S_SSP[@]}"
mm "ip netns exec NS ss -tan" "${S_IPSS[@]}"
mm "nsenter --net=NS true" "${S_NSTRUE[@]}"
mm "ip netns exec NS true" "${S_IPTRUE[@]}"
mm "true  (plain fork+exec)" "${S_TRUE[@]}"
say "  ss is run through nsenter, which only adds setns and one exec (ip netns"
say "  exec also unshares the mount ns and remounts /sys: $(ms $((m_iptrue - m_true))) ms against"
say "  $(ms "$ovh") ms). Its overhead over a plain fork+exec is subtracted, as if ss ran"
say "  from a shell inside the netns; shawk pays its own fork+exec like ss does."
row "ss -tan  (inside the netns, overhead subtracted)" "$(ms "$ss_net")" "" ""
row "ss -tanp (inside the netns, overhead subtracted)" "$(ms "$ssp_net")" "" ""
say ""
say "  shawk / ss-tan   = $ratio_scan   (target <= $TARGET_SCAN_RATIO)  $(verdict "$ratio_scan" "<=" "$TARGET_SCAN_RATIO")"
say "  ss-tanp / shawk  = $ratio_p   (target >= $TARGET_P_RATIO)  $(verdict "$ratio_p" ">=" "$TARGET_P_RATIO")"
say "  correctness: $nflows flows in the bench netns; passive $pas_all connections ($pas_ok to holder-srv),"
say "               active $act_all ($act_ok to holder-cli), expected $CONNS each, pgid = holder pid: $ok_json"
[ "$ok_json" = PASS ] || say "               pgids in JSON: $json_pgids; holders: $holder_pgids"
say ""
say "probe_scan: agent CPU, shawk probe --interval 1s, $cpu_conns connections, ${CPU_SECONDS} s windows"
say "  steady state: $cpu_steady % of one core   (target <= $TARGET_CPU)  $(verdict "$cpu_steady" "<=" "$TARGET_CPU")   [ESTABLISHED after: $est_steady]"
if [ "$cpu_churn" != - ]; then
	say "  churn $((CHURN_EACH * KEEP))/s:   $cpu_churn % of one core   (no target)   [ESTABLISHED after: $est_churn]"
fi
say "probe_scan: done in $SECONDS s"
exit 0
