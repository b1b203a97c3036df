#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The agent's final flush (cmdb_batch.final, src/cmdb/store.c): through
# the agent's own flush (cmdb_store_flush, driven by tests/tools/flush_flows
# on one connection), 40 flows new in one 60 s bucket, then seen again
# unchanged 1 s into the next bucket with a flush every 10 s: the
# client-side delta (cmdb/delta.h) spreads their refresh over the bucket,
# so a usual flush then writes few of them and owes the rest. A final
# flush writes every one of them (the drain's flush of the flows it holds
# at exit), and a final flush of no flows after a usual one writes those
# owed (the drain when it holds none).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh

FF=${OBJDIR:-build/rel}/tests/tools/flush_flows
[ -x "$FF" ] || { echo "not ok - $FF is built (make integration builds it)"; exit 1; }
pg_test_begin

N=40 BUCKET=60 INTERVAL_MS=10000
# B1: a bucket start 10 minutes ago (s); B2 the next bucket.
B1=$(( $(date +%s) / 60 * 60 - 600 )) B2=$((B1 + 60))

# flows LADDR NEW LAST_MS: one line per flow, each to its own port, one
# connection, first seen 5 s into B1.
flows() {
	for i in $(seq 0 $((N - 1))); do
		echo "a tcp $1 0 198.18.70.100 $((9000 + i)) $((100 + i)) i19f$i 1 $2 $((B1 * 1000 + 5000)) $3"
	done
}
# run NODE LADDR MARKS...: the flows new in B1, then seen again 1 s into
# B2, each batch ended by a mark (flush or final), then the other marks.
run() {
	local node=$1 addr=$2 m1=$3
	shift 3
	{
		flows "$addr" 1 $((B1 * 1000 + 5000))
		echo flush
		flows "$addr" 0 $((B2 * 1000 + 1000))
		echo "$m1"
		for m in "$@"; do echo "$m"; done
	} | "$FF" "$CMDB" "$node" 1000 "$BUCKET" "$INTERVAL_MS" >"$tmp/$node.out" 2>"$tmp/$node.err"
}
# rows NODE BUCKET: the node's flows with a history row in BUCKET.
rows() {
	psql_val "SELECT count(*) FROM flow_history h JOIN flows f
		ON f.laddr = h.laddr AND f.flow_id = h.flow_id
		WHERE f.node_name = '$1' AND h.bucket = to_timestamp($2)"
}

check "usual flushes written" run i19f-usual 198.18.70.1 flush
check "final flush written" run i19f-final 198.18.70.2 final
check "final flush of no flows written" run i19f-owed 198.18.70.3 flush final
for node in i19f-usual i19f-final i19f-owed; do
	check "$node: every flow has its row in the first bucket" test "$(rows "$node" "$B1")" -eq "$N"
done

# The usual flush 1 s into B2 leaves most flows for later (owed): what
# makes the two checks after it mean something.
usual=$(rows i19f-usual "$B2")
check "a usual flush early in a bucket writes few flows' row ($usual of $N)" test "$usual" -le $((N / 4))
final=$(rows i19f-final "$B2")
check "the final flush writes every flow's row ($final of $N)" test "$final" -eq "$N"
owed=$(rows i19f-owed "$B2")
check "a final flush of no flows writes the owed ones ($owed of $N)" test "$owed" -eq "$N"
for node in i19f-usual i19f-final i19f-owed; do
	[ -s "$tmp/$node.err" ] && sed "s/^/# $node: /" "$tmp/$node.err"
done

finish
