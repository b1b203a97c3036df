#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# flush_before: the flush with history (issue 19) next to the flush of the
# day the issue was filed, in the same run. Issue 19's target reads "flows/s
# at 10k and 100k flows next to today's flush in the same run (>= 0.8x
# today's rate)": today's flush is that of BEFORE (default dff7372, the last
# commit before the history: sql/007_history.sql came with 603fdff). This
# script builds BEFORE's shawk and cmdb_bench in a temporary git worktree,
# then runs `cmdb_bench flush URL SIZES` of BEFORE and of this checkout
# alternately, ROUNDS times each, each run on its own throwaway PostgreSQL
# (initdb, unix socket, fsync off), and prints per round and size the
# insert rate of new flows of both (the median of 5 inserts into emptied
# tables, the same flows: cmdb_bench's make_flow) and their ratio, then the
# median of the rounds' ratios. This checkout's own reference, its flush
# with the history switched off (history_off, a stricter one: it has every
# optimisation made since), is printed beside it (pair_ratio, from the same
# runs). Run it alone: the two cores are shared by the client and the
# server.
#
#   BEFORE=dff7372 ROUNDS=3 SIZES="10000 100000" bash bench/flush_before.sh
#
# Needs git history (a clone, not an export) and build/rel/bench/cmdb_bench
# (make bench). Exit 0 when it ran (a missed target is reported, not
# failed), 1 when it could not.
set -u
cd "$(dirname "$0")/.." || exit 1
BEFORE=${BEFORE:-dff7372}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-"10000 100000"}
SHAWK_BIN=${SHAWK_BIN:-build/rel/shawk}
DRIVER=${OBJDIR:-build/rel}/bench/cmdb_bench
[ -x "$DRIVER" ] || { echo "flush_before: $DRIVER missing (make bench)"; exit 1; }
[ -x "$SHAWK_BIN" ] || { echo "flush_before: $SHAWK_BIN missing (make)"; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "SKIP - flush_before needs PostgreSQL server binaries"; exit 0; }
git cat-file -e "$BEFORE^{commit}" 2>/dev/null || { echo "SKIP - flush_before: no commit $BEFORE in this clone (a shallow one?)"; exit 0; }

tmp=$(mktemp -d)
[ "$(id -u)" -eq 0 ] && chmod 755 "$tmp"
old=$tmp/before
trap 'for d in "$tmp"/pg.*; do [ -d "$d" ] && scripts/pg-throwaway.sh destroy "$d" >/dev/null 2>&1; done; git worktree remove --force "$old" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
git worktree add --detach -q "$old" "$BEFORE" || { echo "flush_before: git worktree add $BEFORE failed"; exit 1; }
echo "== building $BEFORE ($(git log -1 --format='%h %ad' --date=short "$BEFORE"))"
make -C "$old" -j"$(nproc)" build/rel/shawk build/rel/bench/cmdb_bench >"$tmp/build.log" 2>&1 ||
	{ tail -20 "$tmp/build.log"; echo "flush_before: building $BEFORE failed"; exit 1; }

# run DIR SHAWK DRIVER: one cmdb_bench flush on a new throwaway PostgreSQL
# in DIR, destroyed after it.
run() {
	local url dir=$1 rc
	url=$(scripts/pg-throwaway.sh start "$dir") || return 1
	"$2" create-scheme --cmdb "$url" >/dev/null &&
		"$3" flush "$url" $SIZES
	rc=$?
	scripts/pg-throwaway.sh destroy "$dir" >/dev/null
	return $rc
}

BENCH_NAME=flush_before
. bench/lib.sh # median, ratio

# field NAME LINE: the value of NAME=... in LINE.
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }

echo "== flush_before ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)): $ROUNDS rounds, sizes $SIZES"
for r in $(seq 1 "$ROUNDS"); do
	# Alternate which goes first.
	if [ $((r % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
	for w in $order; do
		if [ "$w" = old ]; then
			run "$tmp/pg.old.$r" "$old/build/rel/shawk" "$old/build/rel/bench/cmdb_bench" >"$tmp/old.$r" 2>&1
		else
			run "$tmp/pg.new.$r" "$SHAWK_BIN" "$DRIVER" >"$tmp/new.$r" 2>&1
		fi || { cat "$tmp/$w.$r"; echo "flush_before: round $r ($w) failed"; exit 1; }
	done
	for n in $SIZES; do
		o=$(grep "^flush n=$n " "$tmp/old.$r") h=$(grep "^history n=$n " "$tmp/new.$r")
		before=$(field batched_insert "$o") with=$(field insert_with_history "$h")
		[ -n "$before" ] && [ -n "$with" ] || { echo "flush_before: round $r: no figures for n=$n"; exit 1; }
		ratio=$(ratio "$with" "$before")
		echo "round $r n=$n before=$before flows/s with_history=$with flows/s ratio=$ratio history_off_pair_ratio=$(field pair_ratio "$h")"
		echo "$n $ratio" >>"$tmp/ratios"
	done
done
for n in $SIZES; do
	# shellcheck disable=SC2046 # one ratio a word
	m=$(median $(awk -v n="$n" '$1 == n { print $2 }' "$tmp/ratios"))
	verdict=$(awk -v m="$m" 'BEGIN { print (m >= 0.8) ? "met" : "MISSED" }')
	echo "flush_before n=$n median_ratio=$m (target >= 0.8 x the flush of $BEFORE: $verdict)"
done
