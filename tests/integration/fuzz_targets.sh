#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every libFuzzer target (`make fuzz`: the sock_diag parser, the iterator
# records, the /proc parsers, cgroup paths, mountinfo, durations and RFC
# 3339, addresses, UTF-8, the COPY/array encoders, the kubelet PodList)
# replays its seed corpus and fuzzes briefly (SHAWK_FUZZ_SECONDS each,
# default 2: CI stays short; long runs: scripts/fuzz.sh -t N). SKIPs
# without a clang that has libFuzzer.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh

command -v clang >/dev/null || skip "needs clang with libFuzzer"
make -s fuzz >/tmp/shawk-fuzz-build.$$ 2>&1 || {
	grep -q "fsanitize=fuzzer" /tmp/shawk-fuzz-build.$$ && skip "clang lacks libFuzzer"
	cat /tmp/shawk-fuzz-build.$$; rm -f /tmp/shawk-fuzz-build.$$
	not_ok "fuzz targets build"; finish
}
rm -f /tmp/shawk-fuzz-build.$$
ok "fuzz targets build"

secs=${SHAWK_FUZZ_SECONDS:-2}
scripts/fuzz.sh -t "$secs" >/tmp/shawk-fuzz-run.$$ 2>&1
while read -r line; do
	case $line in
	*": ok, "*) ok "fuzz_$line" ;;
	*FAILED*|*"not built"*) not_ok "fuzz_$line" ;;
	*) echo "# $line" ;;
	esac
done </tmp/shawk-fuzz-run.$$
n=$(grep -c ": ok, " /tmp/shawk-fuzz-run.$$)
rm -f /tmp/shawk-fuzz-run.$$
check "every target ran ($n of $(ls tests/fuzz/fuzz_*.c | wc -l))" test "$n" -eq "$(ls tests/fuzz/fuzz_*.c | wc -l)"
finish
