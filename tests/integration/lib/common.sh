# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared helpers for integration scripts (sourced). Protocol: print
# "ok - NAME" / "not ok - NAME" per check, "SKIP - REASON" and exit 77 when
# the machine cannot run the test.

SHAWK_BIN=${SHAWK_BIN:-build/shawk}
case "$SHAWK_BIN" in /*) ;; *) SHAWK_BIN="$PWD/$SHAWK_BIN" ;; esac
failures=0

skip() { echo "SKIP - $*"; exit 77; }
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failures=$((failures + 1)); }
check() { # check NAME CMD...
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
finish() { [ "$failures" -eq 0 ]; exit $?; }

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
	command -v ip >/dev/null || skip "needs iproute2"
	ip netns add "shawk-probe-$$" 2>/dev/null || skip "cannot create network namespaces here"
	ip netns del "shawk-probe-$$"
}

# netns_pair SRV CLI TAG NET4 NET6: namespaces SRV and CLI joined by one
# veth (TAG-s$$ in SRV, TAG-c$$ in CLI), lo up in both; NET4.1/24 and
# NET6::1/64 on SRV's end, NET4.2 and NET6::2 on CLI's. Returns 1 when a
# namespace cannot be created.
netns_pair() {
	local srv=$1 cli=$2 s=$3-s$$ c=$3-c$$ net4=$4 net6=$5 ns
	{ ip netns add "$srv" && ip netns add "$cli"; } || return 1
	ip link add "$s" type veth peer name "$c"
	ip link set "$s" netns "$srv"
	ip link set "$c" netns "$cli"
	for ns in "$srv" "$cli"; do ip -n "$ns" link set lo up; done
	ip -n "$srv" addr add "$net4.1/24" dev "$s"
	ip -n "$cli" addr add "$net4.2/24" dev "$c"
	ip -n "$srv" addr add "$net6::1/64" dev "$s" nodad
	ip -n "$cli" addr add "$net6::2/64" dev "$c" nodad
	ip -n "$srv" link set "$s" up
	ip -n "$cli" link set "$c" up
}

# wait_for CMD... : retries for up to 10 s.
wait_for() {
	local _
	for _ in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# A python3 program run with its comm set (prctl PR_SET_NAME), so tests
# can assert process attribution by name.
pyrun() { # pyrun COMM SCRIPT ARGS...
	local comm=$1; shift
	python3 - "$comm" "$@" <<'PY' &
import ctypes, runpy, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
script = sys.argv[2]
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name="__main__")
PY
}

# Why this machine cannot run BPF programs (empty when it can): only then
# may a test skip a BPF backend or program. Where BPF works, a backend or
# program that does not run is a failure, never a silent skip.
bpf_unsupported() {
	if [ "$(id -u)" -ne 0 ]; then echo "not root"; return; fi
	if [ ! -r /sys/kernel/btf/vmlinux ]; then echo "no kernel BTF (/sys/kernel/btf/vmlinux)"; return; fi
	if ! grep -q ' - cgroup2 ' /proc/self/mountinfo; then echo "no cgroup v2 mounted"; return; fi
}

# The exit trap of a test that runs an agent ($probe_pid), helper
# processes (their pids in the array pids) and network namespaces:
#   trap 'cleanup_run TMPDIR NS...' EXIT
# Stops the agent and the helpers, and the direct children of each
# helper too (a bash wrapper's python, as in bridge.sh's inns: killing the
# wrapper alone leaves the python running, holding the integration lock),
# waits for them, deletes the namespaces and TMPDIR.
cleanup_run() { # cleanup_run TMPDIR NS...
	local tmp=$1 p ns
	shift
	[ -n "${probe_pid:-}" ] && kill "$probe_pid" 2>/dev/null
	# shellcheck disable=SC2154 # pids: the calling script's array
	for p in ${pids[@]+"${pids[@]}"}; do
		pkill -P "$p" 2>/dev/null
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	for ns in "$@"; do ip netns del "$ns" 2>/dev/null; done
	[ -n "$tmp" ] && rm -rf "$tmp"
	return 0
}

# A check that cannot run here, with the reason: counted as skipped.
skip_check() { echo "skip - $1: $2"; }

# Records what a test ran (backends, BPF programs, skeleton kinds) for the
# summary at the end of `make test` (scripts/run-tests.sh).
record_ran() { # record_ran WHAT...
	[ -n "${SHAWK_RAN_FILE:-}" ] && echo "$*" >>"$SHAWK_RAN_FILE"
	return 0
}

# Records the BPF iterators and polling path an agent's log names.
record_poll_log() { # record_poll_log LOGFILE
	local l
	l=$(sed -n 's/.*BPF iterators loaded: //p' "$1" | head -1)
	[ -n "$l" ] && record_ran "polling BPF iterators: $l"
	l=$(sed -n 's/.*polling path: //p' "$1" | head -1)
	[ -n "$l" ] && record_ran "polling path: $l"
	l=$(sed -n 's/.*streaming: BPF programs attached: //p' "$1" | head -1)
	[ -n "$l" ] && record_ran "streaming BPF programs: $l"
	return 0
}
