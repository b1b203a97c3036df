#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Short bounded libFuzzer runs of the kubelet PodList parser and the API
# server's ServiceList parser (the corpus
# is also replayed by tests/test_pods.c without clang). SKIPs without a
# clang that has libFuzzer.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh

command -v clang >/dev/null || skip "needs clang with libFuzzer"
make -s fuzz >/tmp/shawk-fuzz-build.$$ 2>&1 || {
	grep -q "fsanitize=fuzzer" /tmp/shawk-fuzz-build.$$ && skip "clang lacks libFuzzer"
	cat /tmp/shawk-fuzz-build.$$; rm -f /tmp/shawk-fuzz-build.$$
	not_ok "fuzz target builds"; finish
}
rm -f /tmp/shawk-fuzz-build.$$
ok "fuzz target builds"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp tests/fuzz/corpus/pods/* "$work/"
secs=${SHAWK_FUZZ_SECONDS:-10}
build/fuzz/fuzz_pods -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
	-timeout=10 -artifact_prefix="$work/" "$work" >"$work/log" 2>&1
rc=$?
tail -3 "$work/log"
check "fuzz_pods ran ${secs}s without a crash" test $rc -eq 0

# The API server's ServiceList parser the same way.
mkdir -p "$work/svc"
cp tests/fuzz/corpus/services/* "$work/svc/"
build/fuzz/fuzz_services -max_total_time="$secs" -max_len=65536 -rss_limit_mb=1024 \
	-timeout=10 -artifact_prefix="$work/svc-" "$work/svc" >"$work/svc.log" 2>&1
rc=$?
tail -3 "$work/svc.log"
check "fuzz_services ran ${secs}s without a crash" test $rc -eq 0
finish
