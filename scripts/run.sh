#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job (README command 1): record this host's traffic in a CMDB
# and show the map of what was recorded.
#
# As root, a small three-tier app is started first in network namespaces
# (scripts/scene.sh: web -> api -> db on 198.18.65.0/24), so there is
# container-like traffic to see even on a quiet machine; it is removed at
# the end. Then: create-scheme, one `probe --once --output cmdb` (every
# netns of the host), `shawk list` and `shawk look` (the whole map, every
# netns, not only the root namespace's addresses).
#
# With SHAWK_CMDB_URL set, that CMDB is used. Without it, a throwaway
# PostgreSQL is started under build/cmdb (unix socket only, no TCP) and
# reused by the next run; `scripts/pg-throwaway.sh stop build/cmdb` stops
# it. SHAWK_RUN_SCENE=0 skips the app; SHAWK_RUN_PREFIX and SHAWK_RUN_NET
# name its netns and /24 (default shawk-run, 198.18.65).
set -euo pipefail
cd "$(dirname "$0")/.."
shawk=${SHAWK_BIN:-build/shawk}
prefix=${SHAWK_RUN_PREFIX:-shawk-run}
net=${SHAWK_RUN_NET:-198.18.65}
scene_dir=${SHAWK_RUN_SCENE_DIR:-build/scene}

probe_args=()
if [ -z "${SHAWK_CMDB_URL:-}" ]; then
	SHAWK_CMDB_URL=$(scripts/pg-throwaway.sh start build/cmdb)
	echo "== throwaway CMDB: $SHAWK_CMDB_URL"
	# A private demo CMDB: keep loopback flows too, so a host whose only
	# traffic is local still shows its dependencies.
	probe_args+=(--include-loopback)
fi
export SHAWK_CMDB_URL

scene=0
if [ "${SHAWK_RUN_SCENE:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] &&
	command -v ip >/dev/null && command -v python3 >/dev/null; then
	trap 'scripts/scene.sh down "$prefix" "$net" "$scene_dir"' EXIT
	echo "== a three-tier app in network namespaces $prefix-{web,api,db} ($net.1 -> $net.2:8080 -> $net.3:5432)"
	if scripts/scene.sh up "$prefix" "$net" "$scene_dir"; then
		scene=1
	else
		echo "   (could not create network namespaces here: showing this host's own traffic only)"
	fi
fi

echo "== shawk create-scheme"
"$shawk" create-scheme
echo "== shawk probe --once --output cmdb ${probe_args[*]}"
"$shawk" probe --once --output cmdb --log-level error "${probe_args[@]}"

if ! out=$("$shawk" look 2>&1); then
	echo "== nothing recorded: no TCP or UDP connection was open during the scan."
	echo "   $out"
	echo "   As root, make run (or make demo) starts a three-tier app in network namespaces to look at."
	exit 0
fi
echo "== shawk list (what the CMDB knows)"
"$shawk" list || true
echo
echo "== shawk look (the whole map: one tree per listening endpoint)"
echo "$out"
echo
if [ "$scene" -eq 1 ]; then
	echo "== shawk look $net.1 --depth 2 (what the web tier calls, and what that calls)"
	"$shawk" look "$net.1" --depth 2 || true
	echo
fi
echo "== next:"
echo "   export SHAWK_CMDB_URL='$SHAWK_CMDB_URL'"
echo "   shawk look ADDRESS --depth 2 -o svg > map.svg   # or -o json / -o dot"
echo "   shawk serve --listen 127.0.0.1:8080              # the map in a browser"
echo "   shawk probe --flush-interval 10s                 # keep recording"
echo "   make demo                                        # the app recorded by the streaming probe"
if [ "$scene" -eq 1 ]; then
	echo "   (the app's namespaces are removed now; its flows stay in the CMDB)"
fi
