# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# What the benchmarks that hold many connections share (probe_scan.sh,
# services_scan.sh, streaming_mem.sh): messages, the watchdog, cleanup of
# what they started (by pid), the connection holders in a netns, and the
# timing helpers. Sourced, not run (`make bench` leaves it out).
#
# The caller sets BENCH_NAME (message prefix) before sourcing, then uses:
#   HOLDER_PIDS AGENT_PID WATCHDOG_PID TMP   what bench_cleanup stops/removes
#   NS NSPATH                                its own netns, when it has one
# and may define bench_cleanup_hook (run by bench_cleanup, before TMP goes).

TMP=
HOLDER_PIDS=()
AGENT_PID=
WATCHDOG_PID=
NS=
NSPATH=

say() { printf '%s\n' "$*"; }
die() { say "$BENCH_NAME: ERROR - $*" >&2; exit 1; }
skip() { say "$BENCH_NAME: SKIP - $*"; exit 0; }

# Root, and each tool on PATH; SKIP with why when not.
bench_require() { # why-root tool...
	[ "$(id -u)" = 0 ] || skip "needs root ($1)"
	shift
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not installed"
	done
	[ -x "$SHAWK_BIN" ] || die "no shawk binary at SHAWK_BIN=$SHAWK_BIN (run make first)"
}

# PER_PROC sockets per holder, at most the hard RLIMIT_NOFILE less a margin.
bench_clamp_per_proc() {
	local hard
	hard=$(ulimit -Hn)
	if [ "$hard" != unlimited ] && [ "$PER_PROC" -gt $((hard - 64)) ]; then
		PER_PROC=$((hard - 64))
	fi
}

# ---- cleanup: everything we started, by pid ----------------------------------

# Kills the holders and empties HOLDER_PIDS; deletes our netns (NS), killing
# anything still inside it: it was started by us.
bench_stop_holders() {
	local p
	for p in "${HOLDER_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	HOLDER_PIDS=()
	if [ -n "$NS" ] && [ -e "$NSPATH" ]; then
		for p in $(ip netns pids "$NS" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		ip netns del "$NS" 2>/dev/null
	fi
}

bench_cleanup() {
	trap - EXIT INT TERM
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	[ -n "$AGENT_PID" ] && kill -KILL "$AGENT_PID" 2>/dev/null
	bench_stop_holders
	declare -F bench_cleanup_hook >/dev/null && bench_cleanup_hook
	[ -n "$TMP" ] && rm -rf "$TMP"
}

# Cleanup on exit; a signal ends the run (through the EXIT trap).
bench_traps() {
	trap bench_cleanup EXIT
	trap 'say "$BENCH_NAME: interrupted" >&2; exit 1' INT TERM
}

# The whole run is bounded: past budget seconds the watchdog stops us. A
# signal to the shell waits for the command it runs: keep a margin.
bench_watchdog() { # budget-seconds
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$1" &
		sp=$!
		wait "$sp" || exit 0
		say "$BENCH_NAME: ERROR - over the time budget of ${1}s" >&2
		kill -TERM $$
	) &
	WATCHDOG_PID=$!
}

# ---- connections -------------------------------------------------------------

# bench/conn_holder.c built as $HOLDER (in dir, default $TMP).
bench_build_holder() { # [dir]
	HOLDER=${1:-$TMP}/conn_holder
	cc -std=gnu11 -O2 -Wall -Wextra -o "$HOLDER" "$BENCH_DIR/conn_holder.c" ||
		die "cannot compile bench/conn_holder.c"
}

in_ns() { nsenter --net="$NSPATH" "$@"; }

# Our netns NS (at NSPATH) with lo up, a deep accept queue and a wide
# ephemeral range.
bench_netns_add() {
	ip netns add "$NS" || die "ip netns add $NS failed"
	ip -n "$NS" link set lo up || die "cannot bring lo up in $NS"
	in_ns sysctl -qw net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535 \
		net.ipv4.ip_local_port_range="30000 65000" ||
		die "cannot tune sysctls in $NS"
}

# Waits (at most 5 s) until a socket listens on port in netns path.
bench_wait_listen() { # netns-path port
	local w
	for ((w = 0; w < 100; w++)); do
		nsenter --net="$1" ss -Htln "sport = :$2" | grep -q . && return 0
		sleep 0.05
	done
	return 0
}

# Waits until the 2 * pairs holders (output in $TMP/srv* and $TMP/cli*)
# all say "ready"; dies when one dies or after timeout seconds.
bench_wait_holders() { # pairs timeout
	local ready p t0=$SECONDS
	while :; do
		ready=$(cat "$TMP"/srv* "$TMP"/cli* 2>/dev/null | grep -c '^ready')
		[ "$ready" -eq $((2 * $1)) ] && return 0
		for p in "${HOLDER_PIDS[@]}"; do
			kill -0 "$p" 2>/dev/null ||
				die "a connection holder died: $(cat "$TMP"/srv* "$TMP"/cli* | grep -v '^ready' | head -3)"
		done
		[ $((SECONDS - t0)) -lt "$2" ] ||
			die "connections not established after $2 s ($ready of $((2 * $1)) holders ready)"
		sleep 0.2
	done
}

# ---- measuring ---------------------------------------------------------------

# CPU time (user+sys) this shell's waited-for children used so far, in µs,
# from the `times` builtin (run in this shell: a subshell starts from 0).
children_cpu_us() {
	local line us=0 t m sec
	times >"$TMP/times"
	{ read -r line; read -r line; } <"$TMP/times"
	for t in $line; do # "0m1.234s 0m0.567s"
		m=${t%%m*} sec=${t#*m} sec=${sec%s}
		us=$((us + m * 60000000 + 10#${sec%.*} * 1000000 + 10#${sec#*.} * 1000))
	done
	REPLY=$us
}

# Runs one command; wall time in $WALL and CPU time in $CPU (µs). Every
# measured command is one fork+exec from this shell, shawk included.
# shellcheck disable=SC2034 # WALL and CPU are for the caller
measure() {
	local a b c0
	children_cpu_us
	c0=$REPLY
	a=$EPOCHREALTIME
	"$@" >/dev/null 2>&1 || return 1
	b=$EPOCHREALTIME
	WALL=$((10#${b/./} - 10#${a/./}))
	children_cpu_us
	CPU=$((REPLY - c0))
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.1f", u/1000}'; }
ratio() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN {printf f, (b > 0 ? a / b : 99)}'; }

# utime+stime of a pid in clock ticks (fields 14 and 15, after "comm)").
cpu_ticks() {
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	read -r -a f <<<"$s"
	REPLY=$((f[11] + f[12]))
}

# Peak RSS (ru_maxrss, KiB) of one run of a command.
peak_rss_kb() {
	python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
