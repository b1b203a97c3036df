#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the cmocka unit tests given as arguments, then every integration
# script tests/integration/*.sh and e2e/*.sh (root-only ones say SKIP
# themselves). Prints one closing line: "tests: N passed, N failed, N skipped".
#
# Script protocol: lines "ok - NAME", "not ok - NAME", "skip - NAME: REASON"
# (one check this machine cannot run), "SKIP - REASON" (the whole script);
# exit status 0 = pass, 77 = skipped, anything else = failure. Scripts
# append what they ran (polling backends, BPF programs, skeleton kinds) to
# $SHAWK_RAN_FILE; the end of the run lists it.
set -uo pipefail

which=${SHAWK_TESTS:-all}
passed=0 failed=0 skipped=0
failures=()
log_dir=${OBJDIR:-build/rel}/test-logs
# Leaks inside Graphviz's own layout code are not ours (tests/lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$log_dir"
export SHAWK_RAN_FILE="$log_dir/ran.txt"
: >"$SHAWK_RAN_FILE"

if [ "$which" != integration ]; then
	for t in "$@"; do
		name=$(basename "$t")
		out="$log_dir/$name.log"
		CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$out" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		p=${p:-0} f=${f:-0}
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
		passed=$((passed + p)) failed=$((failed + f))
		if [ "$f" -ne 0 ]; then
			failures+=("$name")
			echo "FAIL $name ($p passed, $f failed):"
			sed 's/^/    /' "$out" | tail -40
		else
			echo "PASS $name ($p tests)"
		fi
	done
fi

if [ "$which" != unit ]; then
	# The integration scripts use fixed netns names and test addresses: two
	# suites at once (several checkouts on one machine) would collide, so a
	# suite waits for the other's to end.
	exec 8>/tmp/shawk-integration.lock
	flock -x 8
	for s in tests/integration/*.sh e2e/*.sh; do
		[ -f "$s" ] || continue
		name=$(basename "$s" .sh)
		out="$log_dir/$name.log"
		start=$(date +%s)
		timeout 900 bash "$s" >"$out" 2>&1
		rc=$?
		secs=$(( $(date +%s) - start ))
		ok=$(grep -c '^ok - ' "$out")
		nok=$(grep -c '^not ok - ' "$out")
		nskip=$(grep -c '^skip - ' "$out")
		skipped=$((skipped + nskip))
		grep '^skip - ' "$out" | sed "s/^skip - /SKIP $name: /"
		if [ $rc -eq 77 ]; then
			skipped=$((skipped + 1))
			echo "SKIP $name: $(grep -m1 '^SKIP' "$out" | sed 's/^SKIP - //')"
			continue
		fi
		if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then nok=1; fi
		passed=$((passed + ok)) failed=$((failed + nok))
		if [ "$nok" -ne 0 ]; then
			failures+=("$name")
			echo "FAIL $name ($ok passed, $nok failed, ${secs}s):"
			grep -v '^ok - ' "$out" | sed 's/^/    /' | tail -60
		else
			echo "PASS $name ($ok checks, ${secs}s)"
		fi
	done
fi

if [ -s "$SHAWK_RAN_FILE" ]; then
	echo
	echo "ran here (polling backends, BPF programs, skeletons):"
	sort -u "$SHAWK_RAN_FILE" | sed 's/^/  /'
fi
echo
[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]} (logs in $log_dir)"
echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
