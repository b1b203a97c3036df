#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# streaming_rate: what `shawk probe --mode streaming` costs the traffic it
# watches. See bench/README.md.
#
#  1. Connection rate between two network namespaces (connect, 1-byte
#     request/response, close; 2 client + 2 server threads) with the agent
#     off and on, alternated BENCH_ROUNDS (7) times BENCH_SECONDS (3) s each
#     (off first in odd rounds, last in even ones); ratio of the medians
#     (target >= 0.98), and the median of the per-round ratios.
#  2. Events: the agent's lost-event warnings during the saturated runs
#     (target: none) and the events/s those runs produced (2 per connection).
#  3. Agent CPU at BENCH_RATE (10000) connections/s, paced.
#  4. BPF map memory (bpftool memlock) per tracked entry.
#
# Also printed, to tell the agent's cost from the host's noise: each side's
# min/max and the load average; the agent's user-space CPU during the
# saturated rounds (/proc/PID/stat). BENCH_BPF_ONLY=1 adds a third arm to
# each round: the agent attached but stopped (SIGSTOP) after its start, so
# only the BPF programs run (its ring buffer then fills: lost events there
# are expected and not counted). BENCH_BPF_STATS=1 adds one round with
# kernel.bpf_stats_enabled=1 and prints each program's run count and time
# per connection (bpftool prog show; the stats themselves cost a little,
# so that round is not one of the ratio's). BENCH_REF_BIN=path adds an arm
# with that binary's agent (e.g. the previous commit's) to each round, for
# a before/after in the same run; it may list several, separated by
# spaces, and "none" is a control arm: no agent, in an agent arm's place
# (what the method reads for an agent that costs nothing: ~1.00 since the
# off arm idles as long as an agent arm before its round). BENCH_SETTLE=s
# waits s seconds after each agent start before its round, and before each
# off round (default 5: the figure of record is an agent
# that is running, as a DaemonSet's is when connections happen; the start
# itself - programs verified, BTF parsed, 26 MiB of maps allocated - spills
# into its first seconds). With BENCH_SETTLE > 0 each round also has an arm
# with an agent started 0.1-0.5 s before it (the figure of record before
# 2026-11-23), printed as a second ratio so the start's cost stays visible
# (BENCH_COLD=0 leaves it out). BENCH_ARMS adds arms of any kind (below).
#
# Exit status 0 when it ran or printed "SKIP - reason" (targets missed are
# reported, not failures).
set -u
cd "$(dirname "$0")/.." || exit 1
SHAWK_BIN=${SHAWK_BIN:-build/shawk}
ROUNDS=${BENCH_ROUNDS:-7}
SECS=${BENCH_SECONDS:-3}
RATE=${BENCH_RATE:-10000}
# Seconds between the agent's start and its round. The start's aftermath
# (program loads, 26 MiB of maps) spills into the first seconds, which a
# running agent does not pay per connection: see bench/README.md.
SETTLE=${BENCH_SETTLE:-5}

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
# BENCH_ARMS: arms of this run besides off/on, separated by ';', each
# LABEL=SPEC with SPEC one of
#   agent ARGS...        the agent ($SHAWK_BIN) with these extra arguments
#   bpf OBJ PROGS [agg]  only BPF programs, attached by bench/bpf_arms.c:
#                        OBJ "shawk" (the agent's object) or "empty" (the
#                        same hooks with programs that return at once),
#                        PROGS comma-separated program names, "agg": an
#                        aggregate map installed as the agent does
#   none                 control: no agent, in an agent arm's place
# e.g. BENCH_ARMS="ct-off=agent --conntrack off;empty=bpf empty empty_tcp_state,empty_connect4"
IFS=';' read -r -a arms <<<"${BENCH_ARMS:-}"
for a in "${arms[@]}"; do
	case "${a#*=}" in bpf\ *) need_arms=1 ;; agent* | none) ;;
	*) echo "bad BENCH_ARMS entry '$a'" >&2; exit 2 ;; esac
done
if [ -n "${need_arms:-}" ]; then
	obj=${BENCH_BPF_OBJ:-build/rel/gen/shawk.bpf.o}
	[ -r "$obj" ] || { echo "SKIP - no $obj (make first)"; exit 0; }
	cc -O2 -Ibpf -o "$tmp/bpf_arms" bench/bpf_arms.c -lbpf ||
		{ echo "SKIP - cannot build bench/bpf_arms.c"; exit 0; }
	clang -O2 -g -target bpf -c bench/empty.bpf.c -o "$tmp/empty.bpf.o" ||
		{ echo "SKIP - cannot build bench/empty.bpf.c"; exit 0; }
	cgroot=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
fi

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
	local log=${1:-$tmp/agent.log} settle=${2:-$SETTLE}
	"$SHAWK_BIN" probe --mode streaming --output none --interval 1s --flush-interval 10s >>"$log" 2>&1 &
	agent=$!
	for _ in $(seq 50); do grep -q "streaming from eBPF" "$log" && break; sleep 0.1; done
	sleep "$settle"
}
stop_agent() { kill "$agent"; wait "$agent" 2>/dev/null; agent=; }
# An arm of BENCH_ARMS: started, settled, run, stopped; prints the rate.
run_arm() {
	local label=${1%%=*} spec=${1#*=} log=$tmp/arm-${1%%=*}.log
	case "$spec" in
	none) idle_off; run; return ;;
	agent*)
		# shellcheck disable=SC2086 # the arm's arguments, split
		"$SHAWK_BIN" probe --mode streaming --output none --interval 1s --flush-interval 10s ${spec#agent} >>"$log" 2>&1 &
		agent=$!
		for _ in $(seq 50); do grep -q "streaming from eBPF" "$log" && break; sleep 0.1; done ;;
	bpf*)
		local o p g
		read -r _ o p g <<<"$spec"
		case "$o" in shawk) o=$obj ;; empty) o=$tmp/empty.bpf.o ;; esac
		"$tmp/bpf_arms" "$o" "$cgroot" "$p" ${g:+"$g"} >>"$log" 2>&1 &
		agent=$!
		for _ in $(seq 50); do grep -q "^attached" "$log" && break; sleep 0.1; done
		grep -q "^attached" "$log" || { echo "arm $label did not start: $(tail -1 "$log")" >&2; stop_agent; echo 0; return; } ;;
	esac
	sleep "$SETTLE"
	run
	stop_agent
}
# What an agent arm waits before its round, without the agent: its start
# (~0.1 s) and its settle.
idle_off() { sleep "$(awk -v s="$SETTLE" 'BEGIN {print s + 0.1}')"; }
run() { ip netns exec "$CLI" "$tmp/connrate" client 198.18.2.1 7000 2 "$SECS" "${1:-0}"; }

# CPU time in ns (schedstat: not rounded to clock ticks; the agent has one thread).
ticks() { local a; read -r a _ < "/proc/$1/schedstat"; echo "$a"; }
hz=$(getconf CLK_TCK)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
off=() on=() cold=() bpf=() ticks_on=0 conns_on=0
# Per reference binary k: its rates (a space-separated string), CPU, connections.
read -r -a refs <<<"${BENCH_REF_BIN:-}"
ref=() ticks_ref=() conns_ref=()
arm_rates=()
for k in "${!arms[@]}"; do arm_rates[k]=""; done
for k in "${!refs[@]}"; do ref[k]="" ticks_ref[k]=0 conns_ref[k]=0; done
for i in $(seq "$ROUNDS"); do
	# Off before the agent's arms in odd rounds, after them in even ones
	# (ABBA): a host getting slower or faster during the run then biases
	# neither side. It idles as long as an agent arm waits for its agent
	# (idle_off): a round run right after another reads ~1 % slower on
	# this VM than one after a pause, which flattered the agent (control
	# arm, bench/README "fifth pass").
	[ $(( i % 2 )) = 1 ] && off+=("$(idle_off; run)")
	start_agent
	c0=$(ticks "$agent")
	got=$(run)
	on+=("$got") ticks_on=$(( ticks_on + $(ticks "$agent") - c0 )) conns_on=$(( conns_on + got * SECS ))
	stop_agent
	if [ "$SETTLE" != 0 ] && [ "${BENCH_COLD:-1}" = 1 ]; then
		# The agent just started (not settled): the previous figure of record.
		start_agent "$tmp/agent-cold.log" 0
		cold+=("$(run)")
		stop_agent
	fi
	for k in "${!refs[@]}"; do
		if [ "${refs[k]}" = none ]; then
			ref[k]+=" $(idle_off; run)"
			continue
		fi
		main_bin=$SHAWK_BIN SHAWK_BIN=${refs[k]}
		start_agent "$tmp/agent-ref$k.log"
		c0=$(ticks "$agent")
		got=$(run)
		ref[k]+=" $got" ticks_ref[k]=$(( ticks_ref[k] + $(ticks "$agent") - c0 )) conns_ref[k]=$(( conns_ref[k] + got * SECS ))
		stop_agent
		SHAWK_BIN=$main_bin
	done
	for k in "${!arms[@]}"; do arm_rates[k]+=" $(run_arm "${arms[k]}")"; done
	if [ "${BENCH_BPF_ONLY:-0}" = 1 ]; then
		# Its own log: the stopped agent's ring buffer overflows.
		start_agent "$tmp/agent-stopped.log"
		sleep 0.5 # its seed poll
		kill -STOP "$agent"
		bpf+=("$(run)")
		kill -CONT "$agent"; stop_agent
	fi
	[ $(( i % 2 )) = 0 ] && off+=("$(idle_off; run)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
span() { printf '%s\n' "$@" | sort -n | awk 'NR==1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
ratio=$(div "$m_on" "$m_off")
echo "load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "connection rate: agent off ${off[*]} /s (min-max $(span "${off[@]}")); on ${on[*]} /s (min-max $(span "${on[@]}"))"
if [ ${#bpf[@]} -gt 0 ]; then
	m_bpf=$(median "${bpf[@]}")
	echo "connection rate, agent stopped (BPF programs only): ${bpf[*]} /s (min-max $(span "${bpf[@]}")); ratio stopped/off $(div "$m_bpf" "$m_off")"
fi
ref_name() { [ "$1" = none ] && echo "control arm (no agent)" || echo "agent of $1 on"; }
for k in "${!refs[@]}"; do
	read -r -a r <<<"${ref[k]}"
	echo "connection rate, $(ref_name "${refs[k]}"): ${r[*]} /s (min-max $(span "${r[@]}")); ratio on/off $(div "$(median "${r[@]}")" "$m_off")"
done
echo "connection rate ratio on/off (medians $m_on/$m_off): $ratio (target >= 0.98; agent running, started ${SETTLE} s before each round)"
# The same comparison paired by round (each round's on / its own off, then
# the median): less sensitive to the host's speed drifting between rounds.
ratios() { # ratios "A..." "B...": each round's A/B
	local -a a b; read -r -a a <<<"$1"; read -r -a b <<<"$2"
	for j in "${!b[@]}"; do printf '%s\n' "$(div "${a[j]}" "${b[j]}")"; done
}
mapfile -t paired < <(ratios "${on[*]}" "${off[*]}")
pbpf=()
[ ${#bpf[@]} -gt 0 ] && mapfile -t pbpf < <(ratios "${bpf[*]}" "${off[*]}")
echo "per-round ratios on/off: ${paired[*]}; median $(median "${paired[@]}") (quartiles $(printf '%s\n' "${paired[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%s-%s", a[int((NR+3)/4)], a[int((3*NR+1)/4)]}'))"
for k in "${!refs[@]}"; do
	mapfile -t pref < <(ratios "${ref[k]}" "${off[*]}")
	echo "per-round ratios on/off, $(ref_name "${refs[k]}"): median $(median "${pref[@]}")"
done
for k in "${!arms[@]}"; do
	read -r -a r <<<"${arm_rates[k]}"
	mapfile -t parm < <(ratios "${arm_rates[k]}" "${off[*]}")
	printf 'arm %-22s %-60s ratio of medians %s, per-round median %s (rates %s)\n' "${arms[k]%%=*}" "${arms[k]#*=}" \
		"$(div "$(median "${r[@]}")" "$m_off")" "$(median "${parm[@]}")" "${r[*]}"
done
[ ${#pbpf[@]} -gt 0 ] && echo "per-round ratios stopped (BPF programs only)/off: median $(median "${pbpf[@]}")"
if [ ${#cold[@]} -gt 0 ]; then
	m_cold=$(median "${cold[@]}")
	echo "connection rate ratio on/off, agent started 0.1-0.5 s before each round: $(div "$m_cold" "$m_off") (medians $m_cold/$m_off; on ${cold[*]} /s, min-max $(span "${cold[@]}"); not the target's figure: it includes the agent's start)"
fi
lost=$(cat "$tmp/agent.log" "$tmp/agent-cold.log" 2>/dev/null | grep -c "events lost")
echo "events/s sustained while saturated: $(( m_on * 2 )) (2 per connection), lost-event warnings: $lost (target 0)"
per_conn() { awk -v d="$1" -v n="$2" -v s="$3" 'BEGIN {printf "%.2f us per connection (%.1f%% of one core)", d / 1e3 / n, 100 * d / 1e9 / s}'; }
echo "agent CPU during the saturated rounds: $(per_conn "$ticks_on" "$conns_on" $(( ROUNDS * SECS ))) (user space + its syscalls)"
for k in "${!refs[@]}"; do
	[ "${refs[k]}" = none ] && continue
	echo "agent CPU of ${refs[k]} during the saturated rounds: $(per_conn "${ticks_ref[k]}" "${conns_ref[k]}" $(( ROUNDS * SECS )))"
done

if [ "${BENCH_BPF_STATS:-0}" = 1 ] && command -v bpftool >/dev/null; then
	old_stats=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
	start_agent
	got=$(run)
	bpftool prog show -j >"$tmp/progs.json" 2>/dev/null
	sysctl -qw kernel.bpf_stats_enabled="$old_stats"
	# Only this agent's programs (another may be loaded on a shared host).
	ids=$(cat /proc/"$agent"/fdinfo/* 2>/dev/null | awk '$1 == "prog_id:" {print $2}' | sort -u | tr '\n' ,)
	python3 - "$tmp/progs.json" "$got" "$SECS" "$ids" <<'PY'
import json, sys
progs, rate, secs = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3])
ids = {int(x) for x in sys.argv[4].split(",") if x}
conns = rate * secs
tot = 0
for p in progs:
    if p.get("id") not in ids or not p.get("run_cnt"):
        continue
    ns, n = p.get("run_time_ns", 0), p["run_cnt"]
    tot += ns
    print("bpf %-18s runs/conn %5.2f  ns/run %6.0f  ns/conn %6.0f" % (p["name"], n / conns, ns / n, ns / conns))
print("bpf programs in all: %.0f ns per connection at %.0f conn/s = %.1f%% of one core" % (tot / conns, rate, 100 * tot / secs / 1e9))
PY
	stop_agent
fi

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
