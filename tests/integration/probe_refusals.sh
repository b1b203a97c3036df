#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Start-up refusals of `shawk probe` (issue 18): each bad configuration
# exits 2 at once with one line on stderr naming what to change, instead
# of running badly — a 25-day interval (the poll timeout wrapped and the
# loop spun at 100% CPU), an http:// kubelet while a token would be sent
# in clear, a CA file that does not exist (silently replaced by the system
# store before).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo secret >"$tmp/token"

# refused NAME WANT_SUBSTRING ENV... -- ARGS...
refused() {
	local name=$1 want=$2; shift 2
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	local start end rc lines
	start=$(date +%s%N)
	env "${envs[@]}" timeout 10 "$SHAWK_BIN" probe "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	end=$(date +%s%N)
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/err" &&
		[ $(((end - start) / 1000000)) -lt 2000 ]; then
		ok "$name: exit 2, one line ($(cat "$tmp/err"))"
	else
		not_ok "$name: rc=$rc, $lines lines: $(head -3 "$tmp/err")"
	fi
}

refused "--interval 25d" "at most" -- --interval 25d --flush-interval 30d --output none
refused "--flush-interval 25d" "--flush-interval" -- --flush-interval 25d --output none
refused "SHAWK_PROBE_INTERVAL=25d" "SHAWK_PROBE_INTERVAL" SHAWK_PROBE_INTERVAL=25d -- --output none
refused "SHAWK_KUBELET_REFRESH=soon" "SHAWK_KUBELET_REFRESH" SHAWK_KUBELET_REFRESH=soon -- --output none
refused "http kubelet with a token" "SHAWK_KUBELET_ALLOW_HTTP" \
	SHAWK_KUBELET_TOKEN_FILE="$tmp/token" -- --once --output none --kubelet-url http://127.0.0.1:9
refused "http kubelet via SHAWK_KUBELET_URL" "in clear" \
	SHAWK_KUBELET_TOKEN_FILE="$tmp/token" SHAWK_KUBELET_URL=http://127.0.0.1:9 -- --once --output none
refused "missing CA file" "$tmp/nope.crt" \
	SHAWK_KUBELET_CA_FILE="$tmp/nope.crt" -- --once --output none --kubelet-url https://127.0.0.1:9

# The ways it is accepted: said on purpose, or no token to leak. The scan
# needs root to see sockets; any exit but 2 (bad usage) means it ran.
for case in "SHAWK_KUBELET_ALLOW_HTTP=true SHAWK_KUBELET_TOKEN_FILE=$tmp/token" \
	"SHAWK_KUBELET_TOKEN_FILE=$tmp/absent"; do
	# shellcheck disable=SC2086
	env $case timeout 20 "$SHAWK_BIN" probe --once --output none \
		--kubelet-url http://127.0.0.1:9 >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 2 ] && ! grep -q "in clear" "$tmp/err"; then
		ok "http kubelet accepted with $case (rc=$rc)"
	else
		not_ok "http kubelet refused with $case: $(head -2 "$tmp/err")"
	fi
done

finish
