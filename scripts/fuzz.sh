#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the libFuzzer targets of `make fuzz` (build/fuzz/fuzz_<name>):
# each replays its seed corpus (recorded fixtures, tests/fuzz/corpus/<name>)
# and then fuzzes for SECONDS (or -runs=RUNS executions). Prints one line
# per target: name, executions, coverage, result. Crashes are kept in
# build/fuzz/artifacts/. With -c DIR the corpus of each target is kept in
# DIR/<name> (seeded on first use) so that a long campaign can run in
# chunks, each resuming from what the previous ones found.
#
#   scripts/fuzz.sh [-t SECONDS | -n RUNS] [-j JOBS] [-c DIR] [NAME...]   (default -t 5, all)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

secs=5 runs='' jobs=1 keep=''
while getopts "t:n:j:c:" o; do
	case $o in
	t) secs=$OPTARG ;;
	n) runs=$OPTARG ;;
	j) jobs=$OPTARG ;;
	c) keep=$OPTARG ;;
	*) echo "usage: $0 [-t SECONDS | -n RUNS] [-j JOBS] [-c DIR] [NAME...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do n=${f#tests/fuzz/fuzz_}; names+=("${n%.c}"); done
fi

# Seeds from the recorded fixtures, besides tests/fuzz/corpus/<name> (pods:
# the kubelet fixtures are there already).
seeds_of() {
	case $1 in
	sockdiag) ls tests/fixtures/sockdiag/*.bin ;;
	procfs) ls tests/fixtures/procfs/* ;;
	cgroup) ls tests/fixtures/cgroup/* ;;
	mountinfo) ls tests/fixtures/mountinfo/* ;;
	esac
	[ -d "tests/fuzz/corpus/$1" ] && ls -d "tests/fuzz/corpus/$1"/*
	return 0
}

# The largest input each target is fuzzed with: what the agent can hand
# the parser, not more (bigger inputs only slow a linear parser down).
# cgroup: paths come from /proc/<pid>/cgroup (procmap copies at most 1023
# bytes) or the cgroup tree (shorter than PATH_MAX).
max_len_of() {
	case $1 in
	cgroup) echo 4096 ;;
	*) echo 65536 ;;
	esac
}

# While fuzzing, ASan records no stack per malloc/free (the cJSON targets
# spent ~15% of their time there); detection is unchanged. A crash is
# replayed below with the default options for the full report.
fuzz_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}malloc_context_size=0

mkdir -p build/fuzz/artifacts
fail=0
for name in "${names[@]}"; do
	bin=build/fuzz/fuzz_$name
	[ -x "$bin" ] || { echo "$name: not built (make fuzz)"; fail=1; continue; }
	if [ -n "$keep" ]; then
		work=$keep/$name
		mkdir -p "$work" || { fail=1; continue; }
	else
		work=$(mktemp -d)
	fi
	seeds=$(seeds_of "$name")
	[ -n "$seeds" ] && cp $seeds "$work/"
	limit=(-max_total_time="$secs")
	[ -n "$runs" ] && limit=(-runs="$runs")
	# Replay: every seed once, no mutation.
	if ! "$bin" -runs=0 -rss_limit_mb=2048 "$work" >"$work.replay" 2>&1; then
		echo "$name: FAILED replaying its corpus"; tail -20 "$work.replay"; fail=1
		[ -z "$keep" ] && rm -rf "$work"
		rm -f "$work.replay"; continue
	fi
	start=$(date +%s)
	par=()
	# -jobs writes fuzz-N.log into the current directory: only when asked.
	[ "$jobs" -gt 1 ] && par=(-jobs="$jobs" -workers="$jobs")
	ASAN_OPTIONS=$fuzz_asan "$bin" "${limit[@]}" -max_len="$(max_len_of "$name")" \
		-rss_limit_mb=2048 -timeout=10 "${par[@]}" \
		-print_final_stats=1 \
		-artifact_prefix="build/fuzz/artifacts/$name-" "$work" >"$work.log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work.log" | awk '{s+=$1} END {print s+0}')
	cov=$(grep -o 'cov: [0-9]*' "$work.log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "$name: ok, $execs executions in ${took}s, $cov, corpus $(ls "$work" | wc -l)"
	else
		echo "$name: FAILED (rc=$rc) after $execs executions"
		grep -m5 -E "ERROR|SUMMARY|artifact" "$work.log"
		# The crashing input again, with ASan's allocation stacks.
		crash=$(sed -n 's/.*Test unit written to //p' "$work.log" | tail -1)
		if [ -n "$crash" ] && [ -f "$crash" ]; then
			"$bin" -rss_limit_mb=2048 "$crash" >"$crash.txt" 2>&1
			echo "$name: full report in $crash.txt"
		fi
		fail=1
	fi
	[ -z "$keep" ] && rm -rf "$work"
	rm -f "$work.replay" "$work.log"
done
exit $fail
