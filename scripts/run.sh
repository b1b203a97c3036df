#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job (README command 1): one scan of this host written to the
# CMDB, then `shawk look` for each of this host's addresses.
#
# With SHAWK_CMDB_URL set, that CMDB is used. Without it, a throwaway
# PostgreSQL is started under build/cmdb (unix socket only, no TCP) and
# reused by the next run; `scripts/pg-throwaway.sh stop build/cmdb` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
shawk=${SHAWK_BIN:-build/shawk}

probe_args=()
if [ -z "${SHAWK_CMDB_URL:-}" ]; then
	SHAWK_CMDB_URL=$(scripts/pg-throwaway.sh start build/cmdb)
	echo "== throwaway CMDB: $SHAWK_CMDB_URL"
	# A private demo CMDB: keep loopback flows too, so a host whose only
	# traffic is local still shows its dependencies.
	probe_args+=(--include-loopback)
	loopback="127.0.0.1 ::1"
fi
export SHAWK_CMDB_URL

echo "== shawk create-scheme"
"$shawk" create-scheme
echo "== shawk probe --once ${probe_args[*]} (writing to the CMDB)"
"$shawk" probe --once --output cmdb --log-level warn "${probe_args[@]}"

# This host's addresses (loopback flows are not written by default).
addrs=$(ip -o addr show scope global 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
[ -n "$addrs" ] || addrs=$(hostname -I 2>/dev/null || true)
# shellcheck disable=SC2086 # word splitting folds the list onto one line
addrs=$(echo $addrs ${loopback:-})
shown=0
for a in $addrs; do
	out=$("$shawk" look --host "$a" 2>/dev/null) || continue
	echo "== shawk look --host $a"
	echo "$out"
	shown=1
done
if [ "$shown" -eq 0 ]; then
	echo "== no flow to or from this host's addresses (${addrs:-none}) in the CMDB:"
	echo "   no TCP or UDP connection was open during the scan."
	if [ -z "${loopback:-}" ]; then
		echo "   (loopback flows are skipped unless: shawk probe --once --include-loopback)"
	fi
fi
