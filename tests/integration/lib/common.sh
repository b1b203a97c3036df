# SPDX-License-Identifier: MIT
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

# wait_for CMD... : retries for up to 10 s.
wait_for() {
	local i
	for i in $(seq 1 100); do
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
