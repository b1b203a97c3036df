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
#     Then the peak RSS (VmHWM) of the one-shot scan and of the polling agent
#     with every connection held (target <= 32 MiB); with BENCH_REF_BIN,
#     the same for that build (e.g. the commit before) in the same run.
#     Steps 2 and 3 run for each of BENCH_BACKENDS ("bpf-iter sockdiag").
#  3. Agent CPU: keeps BENCH_CPU_CONNS (20000) connections, runs
#     `shawk probe --output none --interval 1s` and reports its CPU (% of one
#     core) over BENCH_CPU_SECONDS (20) s in steady state (target <= 3%), then
#     with BENCH_CHURN (1000) connections closed and reopened per second.
#
# Exit status: 0 when it ran (even when a target is missed: this is a
# benchmark, not a test) or printed "SKIP - reason"; 1 when it could not run.
set -u
# times, EPOCHREALTIME and awk print decimals the C way.
export LC_ALL=C

SHAWK_BIN=${SHAWK_BIN:-build/shawk}
CONNS=${BENCH_CONNS:-50000}
PER_PROC=${BENCH_PER_PROC:-10000}
RUNS=${BENCH_RUNS:-5}
CPU_CONNS=${BENCH_CPU_CONNS:-20000}
CPU_SECONDS=${BENCH_CPU_SECONDS:-20}
CHURN=${BENCH_CHURN:-1000}
# Mode of the agent in step 3: polling by default (the target is about
# polling; in auto mode it would stream and poll once per flush interval).
MODE=${BENCH_MODE:-polling}
# Polling backends measured (SHAWK_POLL_BACKEND), each with its own ratios.
BACKENDS=${BENCH_BACKENDS:-bpf-iter sockdiag}
# A signal to this shell waits for the running command (at most a 20 s
# sleep or one ss -tanp): keep a margin under 5 minutes.
BUDGET=${BENCH_BUDGET_SECONDS:-$((140 + 100 * $(wc -w <<<"$BACKENDS")))}

TARGET_SCAN_RATIO=0.7  # shawk / ss -tan, at most
TARGET_P_RATIO=10      # ss -tanp / shawk, at least
TARGET_CPU=3           # % of one core at a 1 s interval, at most
TARGET_RSS_MB=32       # peak RSS at BENCH_CONNS connections, at most

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_NAME=probe_scan
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
NS=shawk-bench-$$
NSPATH=/run/netns/$NS

# ---- prerequisites ---------------------------------------------------------

bench_require "network namespaces, /proc/<pid>/fd of other processes" ip ss nsenter cc jq
case "$CONNS$PER_PROC$RUNS$CPU_CONNS$CPU_SECONDS$CHURN" in
*[!0-9]*) die "BENCH_* variables must be non-negative integers" ;;
esac
{ [ "$PER_PROC" -gt 0 ] && [ "$RUNS" -gt 0 ]; } || die "BENCH_PER_PROC and BENCH_RUNS must be > 0"
bench_clamp_per_proc

bench_traps
bench_watchdog "$BUDGET"

TMP=$(mktemp -d /tmp/shawk-bench.XXXXXX) || die "mktemp"
OUT=$BENCH_DIR/out
mkdir -p "$OUT" || die "cannot create $OUT"
bench_build_holder "$OUT"

# ---- helpers ---------------------------------------------------------------

established() { in_ns ss -Htan state established | wc -l; }

# ---- 1. the connections ------------------------------------------------------

bench_netns_add
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
	bench_wait_listen "$NSPATH" $((20000 + i))
	nsenter --net="$NSPATH" "$HOLDER" client 127.0.1.$i 127.0.0.1 \
		$((20000 + i)) "${PAIR_N[i - 1]}" "$CHURN_EACH" >"$TMP/cli$i" 2>&1 &
	CLI_PIDS+=($!)
	HOLDER_PIDS+=($!)
done

t0=$SECONDS
bench_wait_holders "$PAIRS" 90
EST=$(established)
[ "$EST" -eq $((2 * CONNS)) ] ||
	die "expected $((2 * CONNS)) ESTABLISHED sockets in $NS, ss counts $EST"
say "probe_scan: $CONNS TCP connections ($EST ESTABLISHED sockets) held in netns $NS by $PAIRS server + $PAIRS client processes (set up in $((SECONDS - t0)) s)"

# ---- 2. one-shot scan: shawk against ss --------------------------------------

# Every netns costs shawk one walk of the host-wide TCP hash (100k+ sockets
# here), so the count matters; other work on the machine may add some.
count_netns() {
	{
		for f in /proc/[0-9]*/ns/net; do
			stat -L -c %i "$f" 2>/dev/null
		done
		for f in /run/netns/*; do
			[ -e "$f" ] && stat -L -c %i "$f" 2>/dev/null
		done
	} | sort -u | wc -l
}
NETNS_COUNT=$(count_netns)

TRUE_BIN=$(type -P true) || die "no true(1) binary"
for b in $BACKENDS; do
	case $b in bpf-iter | sockdiag | auto) ;; *) die "BENCH_BACKENDS: unknown backend $b" ;; esac
	SHAWK_POLL_BACKEND=$b "$SHAWK_BIN" probe --once --output none --log-level error ||
		die "shawk probe with SHAWK_POLL_BACKEND=$b fails"
done
KEYS=()
for b in $BACKENDS; do KEYS+=("shawk:$b"); done
KEYS+=(ss ssp ipss nstrue iptrue true)
declare -A CMD WALLS CPUS
for b in $BACKENDS; do
	CMD[shawk:$b]="$SHAWK_BIN probe --once --output none --log-level error"
done
CMD[ss]="nsenter --net=$NSPATH ss -tan"
CMD[ssp]="nsenter --net=$NSPATH ss -tanp"
CMD[ipss]="ip netns exec $NS ss -tan"
CMD[nstrue]="nsenter --net=$NSPATH $TRUE_BIN"
CMD[iptrue]="ip netns exec $NS $TRUE_BIN"
CMD[true]="$TRUE_BIN"
for ((r = 1; r <= RUNS; r++)); do
	for k in "${KEYS[@]}"; do
		# CMD is words (no quoting in it), split before the timing.
		# The backend goes through the environment: no extra exec.
		read -r -a argv <<<"${CMD[$k]}"
		SHAWK_POLL_BACKEND=${k#shawk:} measure "${argv[@]}" || die "failed: ${CMD[$k]}"
		WALLS[$k]+=" $WALL"
		CPUS[$k]+=" $CPU"
	done
done
declare -A MW MC
for k in "${KEYS[@]}"; do
	read -r -a w <<<"${WALLS[$k]}"
	read -r -a c <<<"${CPUS[$k]}"
	MW[$k]=$(median "${w[@]}")
	MC[$k]=$(median "${c[@]}")
done
# What entering the netns adds on top of the fork+exec that every measured
# command pays (shawk included): nsenter's own exec and setns. Subtracted,
# ss is timed as if run from a shell already inside the netns.
net_of() { # value, value of "nsenter true", value of "true"
	local o=$(($2 - $3))
	[ "$o" -gt 0 ] || o=0
	echo $(($1 - o))
}
ss_w=$(net_of "${MW[ss]}" "${MW[nstrue]}" "${MW[true]}")
ssp_w=$(net_of "${MW[ssp]}" "${MW[nstrue]}" "${MW[true]}")
ss_c=$(net_of "${MC[ss]}" "${MC[nstrue]}" "${MC[true]}")
ssp_c=$(net_of "${MC[ssp]}" "${MC[nstrue]}" "${MC[true]}")

declare -A PAS_ALL PAS_OK ACT_ALL ACT_OK NFLOWS JSON_PGIDS OK_JSON RS RP RSC RPC CPU_STEADY CPU_CHURN EST_STEADY EST_CHURN
correctness() { # backend
	# Correctness: every connection, on both sides, with its process.
	SHAWK_POLL_BACKEND=$1 "$SHAWK_BIN" probe --once --output json --log-level error >"$TMP/once.json" ||
		die "shawk probe --once --output json failed"
	read -r "PAS_ALL[$1]" "PAS_OK[$1]" "ACT_ALL[$1]" "ACT_OK[$1]" "NFLOWS[$1]" < <(jq -r --argjson ns "$NS_INO" '
		[.[] | select(.netns == $ns and .proto == "tcp")] as $f |
		def total(d): [$f[] | select(.direction == d) | .connections] | add // 0;
		def owned(d; c): [$f[] | select(.direction == d and .process.name == c
			and .process.pgid > 0 and .process.pgid == .process.pid)
			| .connections] | add // 0;
		"\(total("passive")) \(owned("passive"; "holder-srv")) \(total("active")) \(owned("active"; "holder-cli")) \($f | length)"
		' "$TMP/once.json") || die "cannot parse shawk's JSON output"
	holder_pgids=$(printf '%s\n' "${HOLDER_PIDS[@]}" | sort -n | tr '\n' ' ')
	JSON_PGIDS[$1]=$(jq -r --argjson ns "$NS_INO" '[.[] | select(.netns == $ns) | .process.pgid] | unique | .[]' "$TMP/once.json" | sort -n | tr '\n' ' ')

	OK_JSON[$1]=MISS
	[ "${PAS_ALL[$1]}" -eq "$CONNS" ] && [ "${PAS_OK[$1]}" -eq "$CONNS" ] &&
		[ "${ACT_ALL[$1]}" -eq "$CONNS" ] && [ "${ACT_OK[$1]}" -eq "$CONNS" ] &&
		[ "${JSON_PGIDS[$1]}" = "$holder_pgids" ] && OK_JSON[$1]=PASS
}
verdict() { # value op target -> PASS|MISS
	awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
		ok = (op == "<=") ? (v <= t) : (v >= t); print ok ? "PASS" : "MISS" }'
}
for b in $BACKENDS; do
	RS[$b]=$(ratio "${MW[shawk:$b]}" "$ss_w" %.2f)
	RP[$b]=$(ratio "$ssp_w" "${MW[shawk:$b]}" %.1f)
	RSC[$b]=$(ratio "${MC[shawk:$b]}" "$ss_c" %.2f)
	RPC[$b]=$(ratio "$ssp_c" "${MC[shawk:$b]}" %.1f)
	correctness "$b"
done
# ---- 2b. memory at 100k sockets -----------------------------------------------

# Peak RSS (VmHWM) of the one-shot scan and of the polling agent after a few
# scans, both with every connection held. Target: TARGET_RSS_MB at most.
# BENCH_REF_BIN: the same figures for another build (e.g. the commit before),
# measured in the same run, for comparison.
declare -A RSS_ONCE RSS_AGENT
rss_arm() { # key binary backend
	RSS_ONCE[$1]=$(SHAWK_POLL_BACKEND=$3 peak_rss_kb \
		"$2" probe --once --output none --log-level error) || RSS_ONCE[$1]=0
	SHAWK_POLL_BACKEND=$3 "$2" probe --mode polling --output none --interval 1s \
		--flush-interval 10s --log-level error 2>/dev/null &
	AGENT_PID=$!
	sleep 4
	RSS_AGENT[$1]=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status" 2>/dev/null)
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}
for b in $BACKENDS; do
	rss_arm "$b" "$SHAWK_BIN" "$b"
	[ -z "${BENCH_REF_BIN:-}" ] || rss_arm "ref:$b" "$BENCH_REF_BIN" "$b"
done

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

agent_run() { # backend
	SHAWK_POLL_BACKEND=$1 "$SHAWK_BIN" probe --mode "$MODE" --output none --interval 1s --flush-interval 10s \
		--log-level warn 2>"$TMP/agent.log" &
	AGENT_PID=$!
	# The first scan walks every fd table (cold cache): not steady state.
	sleep 3
	CPU_CHURN[$1]=-
	EST_CHURN[$1]=-
	if [ "$CHURN" -gt 0 ] && [ "$KEEP" -gt 0 ]; then
		if [ "$CHURNING" = 0 ]; then
			for ((i = 1; i <= KEEP; i++)); do
				kill -USR1 "${CLI_PIDS[i - 1]}"
			done
			CHURNING=1
		fi
		sleep 2
		agent_cpu "$CPU_SECONDS"
		CPU_CHURN[$1]=$REPLY
		EST_CHURN[$1]=$(established)
	fi
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
	if grep -q . "$TMP/agent.log"; then
		say "probe_scan: shawk probe ($1) logged:"
		sed 's/^/    /' "$TMP/agent.log" | head -5
	fi
}
# Clients churn once told to (SIGUSR1) and keep churning: the steady state
# of every backend is measured before the first churn window.
CHURNING=0
for b in $BACKENDS; do
	SHAWK_POLL_BACKEND=$b "$SHAWK_BIN" probe --mode "$MODE" --output none --interval 1s --flush-interval 10s \
		--log-level warn 2>"$TMP/agent.log" &
	AGENT_PID=$!
	# The first scan walks every fd table (cold cache): not steady state.
	sleep 3
	agent_cpu "$CPU_SECONDS"
	CPU_STEADY[$b]=$REPLY
	EST_STEADY[$b]=$(established)
	kill -TERM "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
done
for b in $BACKENDS; do
	agent_run "$b"
done
churn_errs=$(cat "$TMP"/cli* | grep -m1 'churn connect')

# ---- summary ---------------------------------------------------------------------

row() { printf '  %-48s %9s %9s %9s %9s\n' "$@"; }
say ""
say "probe_scan: $("$SHAWK_BIN" --version 2>/dev/null | head -1), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $NETNS_COUNT netns on the host"
say "probe_scan: one-shot scan of $CONNS connections ($((2 * CONNS)) sockets), $RUNS interleaved runs, ms"
row "command" "wall med" "wall min" "wall max" "cpu med"
line() { # key label
	local w ws
	read -r -a ws <<<"${WALLS[$1]}"
	w=$(printf '%s\n' "${ws[@]}" | sort -n)
	row "$2" "$(ms "${MW[$1]}")" "$(ms "$(head -1 <<<"$w")")" \
		"$(ms "$(tail -1 <<<"$w")")" "$(ms "${MC[$1]}")"
}
for b in $BACKENDS; do line "shawk:$b" "shawk probe --once ($b, root ns)"; done
line ss "nsenter --net=NS ss -tan"
line ssp "nsenter --net=NS ss -tanp"
line ipss "ip netns exec NS ss -tan"
line nstrue "nsenter --net=NS true"
line iptrue "ip netns exec NS true"
line true "true (plain fork+exec)"
row "ss -tan, from inside the netns (see below)" "$(ms "$ss_w")" "" "" "$(ms "$ss_c")"
row "ss -tanp, from inside the netns" "$(ms "$ssp_w")" "" "" "$(ms "$ssp_c")"
say "  ss runs under nsenter, which only adds setns and one exec; ip netns exec"
say "  also unshares the mount namespace and remounts /sys ($(ms $((MW[iptrue] - MW[true]))) ms over a plain"
say "  fork+exec, nsenter $(ms $((MW[nstrue] - MW[true]))) ms). That nsenter overhead is subtracted, as if ss"
say "  ran from a shell inside the netns; shawk pays its own fork+exec like ss."
say "  cpu = user+sys of the command (rusage), less disturbed by other load."
say ""
for b in $BACKENDS; do
	say "  [$b]"
	say "  shawk / ss-tan   = ${RS[$b]}   (target <= $TARGET_SCAN_RATIO)  $(verdict "${RS[$b]}" "<=" "$TARGET_SCAN_RATIO")   [cpu time: ${RSC[$b]}]"
	say "  ss-tanp / shawk  = ${RP[$b]}   (target >= $TARGET_P_RATIO)  $(verdict "${RP[$b]}" ">=" "$TARGET_P_RATIO")   [cpu time: ${RPC[$b]}]"
	say "  correctness: ${NFLOWS[$b]} flows in the bench netns; passive ${PAS_ALL[$b]} connections (${PAS_OK[$b]} to holder-srv),"
	say "               active ${ACT_ALL[$b]} (${ACT_OK[$b]} to holder-cli), expected $CONNS each, pgid = holder pid: ${OK_JSON[$b]}"
	[ "${OK_JSON[$b]}" = PASS ] || say "               pgids in JSON: ${JSON_PGIDS[$b]}; holders: $holder_pgids"
done
say ""
say "probe_scan: peak RSS (VmHWM) with $((2 * CONNS)) sockets held"
for b in $BACKENDS; do
	o=$(awk -v k="${RSS_ONCE[$b]:-0}" 'BEGIN {printf "%.1f", k / 1024}')
	a=$(awk -v k="${RSS_AGENT[$b]:-0}" 'BEGIN {printf "%.1f", k / 1024}')
	m=$(awk -v a="$o" -v b="$a" 'BEGIN {print (a > b ? a : b)}')
	say "  [$b] probe --once: $o MiB; polling agent after 4 s: $a MiB   (target <= $TARGET_RSS_MB)  $(verdict "$m" "<=" "$TARGET_RSS_MB")"
	[ -z "${BENCH_REF_BIN:-}" ] ||
		say "  [$b] reference $BENCH_REF_BIN: probe --once: $(awk -v k="${RSS_ONCE[ref:$b]:-0}" 'BEGIN {printf "%.1f", k / 1024}') MiB; polling agent after 4 s: $(awk -v k="${RSS_AGENT[ref:$b]:-0}" 'BEGIN {printf "%.1f", k / 1024}') MiB"
done
say ""
say "probe_scan: agent CPU, shawk probe --mode $MODE --interval 1s, $cpu_conns connections, ${CPU_SECONDS} s windows"
for b in $BACKENDS; do
	say "  [$b] steady state: ${CPU_STEADY[$b]} % of one core   (target <= $TARGET_CPU)  $(verdict "${CPU_STEADY[$b]}" "<=" "$TARGET_CPU")   [ESTABLISHED after: ${EST_STEADY[$b]}]"
	[ "${CPU_CHURN[$b]:--}" != - ] &&
		say "  [$b] churn $((CHURN_EACH * KEEP))/s:   ${CPU_CHURN[$b]} % of one core   (no target)   [ESTABLISHED after: ${EST_CHURN[$b]}]"
done
[ -z "$churn_errs" ] || say "  some reconnects failed during churn: $churn_errs"
say "probe_scan: done in $SECONDS s"
exit 0
