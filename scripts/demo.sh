#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: the three-tier app of scripts/scene.sh (web -> api -> db in
# network namespaces), the probe daemon in streaming mode (polling where
# BPF is unavailable) writing to a throwaway CMDB for a few seconds, then
# the map as a tree and, with Graphviz, as an SVG (build/demo.svg).
# Cleans up after itself; safe to run twice. Needs root.
#
# SHAWK_CMDB_URL: use that CMDB instead of the throwaway one in
# build/cmdb. SHAWK_DEMO_PREFIX / SHAWK_DEMO_NET / SHAWK_DEMO_SECS: the
# netns prefix (shawk-demo), the /24 (198.18.65) and how long to record (4).
set -euo pipefail
cd "$(dirname "$0")/.."
shawk=${SHAWK_BIN:-build/shawk}
prefix=${SHAWK_DEMO_PREFIX:-shawk-demo}
net=${SHAWK_DEMO_NET:-198.18.65}
secs=${SHAWK_DEMO_SECS:-4}
dir=${SHAWK_DEMO_DIR:-build/demo}

[ "$(id -u)" -eq 0 ] || { echo "make demo: needs root (network namespaces, BPF)" >&2; exit 1; }
mkdir -p "$dir"
if [ -z "${SHAWK_CMDB_URL:-}" ]; then
	SHAWK_CMDB_URL=$(scripts/pg-throwaway.sh start build/cmdb)
	echo "== throwaway CMDB: $SHAWK_CMDB_URL"
fi
export SHAWK_CMDB_URL

probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
	scripts/scene.sh down "$prefix" "$net" "$dir/scene"
}
trap cleanup EXIT

echo "== the app: $prefix-{web,api,db}, $net.1 -> $net.2:8080 -> $net.3:5432"
scripts/scene.sh up "$prefix" "$net" "$dir/scene"
"$shawk" create-scheme >/dev/null
start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1 # --since $start: this run's flows only, not an earlier demo's
echo "== shawk probe --mode auto --flush-interval 1s, for ${secs}s"
"$shawk" probe --mode auto --interval 500ms --flush-interval 1s --log-level warn \
	--cmdb "$SHAWK_CMDB_URL" 2>"$dir/probe.err" &
probe_pid=$!
sleep "$secs"
kill -TERM "$probe_pid"
wait "$probe_pid" || { echo "make demo: the probe failed:" >&2; cat "$dir/probe.err" >&2; exit 1; }
probe_pid=
echo "== shawk look $net.1 --depth 2 --since $start"
"$shawk" look "$net.1" --depth 2 --since "$start"
echo
echo "== shawk look --since $start (the whole map of this run)"
"$shawk" look --since "$start"
if "$shawk" look "$net.1" --depth 2 --since "$start" -o svg >"$dir/demo.svg" 2>/dev/null; then
	echo
	echo "== the same as an SVG: $dir/demo.svg"
fi
echo
echo "== next: SHAWK_CMDB_URL='$SHAWK_CMDB_URL' shawk serve   # the map in a browser"
