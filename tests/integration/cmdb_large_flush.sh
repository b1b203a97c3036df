#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A flush of more than 2000 flows (PREPARED_MAX_FLOWS in src/cmdb/store.c)
# is planned for its size and runs sql/flush/unique_join.sql, not the
# prepared unique.sql of the fleet's small batches. Through the agent's
# own flush (cmdb_store_flush, driven by tests/tools/flush_flows): 2400
# synthetic flows (active and passive, IPv4 and IPv6, tcp and udp, nodes
# shared by many flows) in ONE flush, then the same flows and 200 new ones
# in one flush again, a new agent process each time (so the CMDB itself,
# not the client-side delta, tells the unchanged flows). Each table is
# compared with what a model of the flush's rules (below) expects: every
# flow, node and history row, and which rows the second flush rewrote
# (xmin): a flow with new connections or whose last_seen enters a new
# bucket is rewritten and gets its history rows, an unchanged one or one
# whose last_seen stays in its bucket is not. Then the same two flushes
# in batches of 500 flows (the prepared path) into a second database
# give the same rows and rewrite the same ones.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh

FF=${OBJDIR:-build/rel}/tests/tools/flush_flows
[ -x "$FF" ] || { echo "not ok - $FF is built (make integration builds it)"; exit 1; }
pg_test_begin
chmod 755 "$tmp"

N=2400 NEW=200 BUCKET=60
# T: a bucket start 10 minutes ago, in seconds.
T=$(( $(date +%s) / 60 * 60 - 600 ))

# The flows of both flushes, and the model: model.py FLUSH1 FLUSH2 BATCH
# writes expected/{flows,history,passive,active} after the two flushes in
# batches of BATCH flows, and expected/rewritten (the rows the second
# flush writes).
cat >"$tmp/flows.py" <<'PY'
import ipaddress, sys
N, NEW, T = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) * 1000
def addr(v6, kind, i):
    if v6:
        return str(ipaddress.ip_address("2001:db8:%x::" % kind) + i)
    return str(ipaddress.ip_address("198.%d.0.0" % (18 + kind - 1)) + i)
def flow(i):
    v6 = i % 10 in (1, 4)
    proto = "udp" if i % 7 == 0 else "tcp"
    if i % 2:  # passive: 40 servers, each peer address its own flow
        s = i % 40
        return ["p", proto, addr(v6, 1, s), 53 if proto == "udp" else 80,
                addr(v6, 2, 1000 + i), 0, 2000 + s, "srv%d" % s]
    # active: 100 clients, each to many servers; the new flows of the
    # second flush from 10 new clients (each old client's flows are then
    # all in one category below: i % 5 == c % 5)
    c, s = (i % 200, i // 200) if i < N else (200 + i % 20, i // 20)
    return ["a", proto, addr(v6, 2, c), 0, addr(v6, 1, 100 + s),
            53 if proto == "udp" else 80, 1000 + c, "cli%d" % c]
def line(k, conns, new, first, last):
    return " ".join(map(str, k + [conns, new, first, last]))
with open(sys.argv[4], "w") as f1, open(sys.argv[5], "w") as f2:
    for i in range(N):
        k = flow(i)
        conns, new = 1 + i % 3, 1 + i % 2
        first, last = T + 5000, T + (70000 if i % 10 == 9 else 10000)
        f1.write(line(k, conns, new, first, last) + "\n")
        c = i % 5
        if c == 0:    # new connections, same bucket
            f2.write(line(k, conns + 1, 2, T + 15000, T + 20000) + "\n")
        elif c == 1:  # seen again in the next bucket only
            f2.write(line(k, conns, 0, T + 65000, T + 70000) + "\n")
        elif c == 2:  # unchanged
            f2.write(line(k, conns, 0, first, last) + "\n")
        elif c == 3:  # later, same bucket: not rewritten
            f2.write(line(k, conns, 0, T + 5000, T + 30000) + "\n")
        else:         # since the first bucket, into the next one
            f2.write(line(k, conns, 0, T + 5000, T + 70000) + "\n")
    for i in range(N, N + NEW):
        f2.write(line(flow(i), 1, 1, T + 62000, T + 64000) + "\n")
PY

# The flush's rules (sql/flush/_unique_write.sql), on the flows files: a
# known flow is rewritten when it has new connections, another count, an
# earlier first_seen or a last_seen past its row's bucket; its history
# covers each bucket from its batch first_seen's to its last_seen, new
# connections in the first. A node (its batch's earliest first_seen and
# latest last_seen) is rewritten the same way.
cat >"$tmp/model.py" <<'PY'
import sys
B = int(sys.argv[4]) * 1000
batch = int(sys.argv[3])
def bucket(t):
    return t // B * B
flows, hist, nodes = {}, {}, {}
rewritten = set()
# merge (argv[6]): a batch's rows of one key are one flow first, as
# grouped.sql merges them (connections added up, the earliest first_seen,
# the latest last_seen).
def merged(rows):
    m = {}
    for l in rows:
        k, v = tuple(l[:8]), list(map(int, l[8:]))
        o = m.get(k)
        m[k] = v if o is None else [o[0] + v[0], o[1] + v[1], min(o[2], v[2]), max(o[3], v[3])]
    return [list(k) + v for k, v in m.items()]
merge = len(sys.argv) > 6
for n, path in enumerate(sys.argv[1:3]):
    lines = [l.split() for l in open(path)]
    for off in range(0, len(lines), batch):
        staged = {}
        rows = lines[off:off + batch]
        for l in merged(rows) if merge else rows:
            k = tuple(l[:8])
            conns, new, first, last = map(int, l[8:])
            o = flows.get(k)
            if o is None or new > 0 or conns != o[0] or first < o[2] or o[3] < bucket(last):
                if o is None:
                    flows[k] = [conns, new, first, last]
                else:
                    flows[k] = [conns, o[1] + new, min(o[2], first), max(o[3], last)]
                if n:
                    rewritten.add(("flow",) + k)
                b0 = bucket(first)
                for b in range(b0, last + 1, B):
                    h = hist.get(k + (b,))
                    add = new if b == b0 else 0
                    if h is None or add > 0:
                        hist[k + (b,)] = (h or 0) + add
                        if n:
                            rewritten.add(("history",) + k + (b,))
            if l[0] == "p":
                nk = ("passive", l[2], l[3], l[1], l[6], l[7])
            else:
                nk = ("active", l[2], l[6], l[7])
            s = staged.get(nk)
            staged[nk] = [min(s[0], first), max(s[1], last)] if s else [first, last]
        for nk, (first, last) in staged.items():
            o = nodes.get(nk)
            if o is None or first < o[0] or o[1] < bucket(last):
                nodes[nk] = [first, last] if o is None else [min(o[0], first), max(o[1], last)]
                if n:
                    rewritten.add(nk)
out = sys.argv[5]
with open(out + "/flows", "w") as f:
    for k, v in flows.items():
        f.write("|".join(map(str, k + tuple(v))) + "\n")
with open(out + "/history", "w") as f:
    for k, v in hist.items():
        f.write("|".join(map(str, k + (B // 1000, v))) + "\n")
with open(out + "/passive", "w") as f, open(out + "/active", "w") as g:
    for k, v in nodes.items():
        (f if k[0] == "passive" else g).write("|".join(map(str, k[1:] + tuple(v))) + "\n")
with open(out + "/rewritten", "w") as f:
    for k in rewritten:
        f.write("|".join(map(str, k)) + "\n")
PY

python3 "$tmp/flows.py" "$N" "$NEW" "$T" "$tmp/flush1" "$tmp/flush2" || { not_ok "flows generated"; finish; }
mkdir -p "$tmp/expected"
python3 "$tmp/model.py" "$tmp/flush1" "$tmp/flush2" 100000 "$BUCKET" "$tmp/expected" || { not_ok "model ran"; finish; }

# dump URL DIR [XMIN_DIR]: the tables as the model writes them (sorted);
# with XMIN_DIR, the rows whose xmin differs from the one saved there (or
# that are new) to DIR/rewritten; the xmins to DIR/xmin.*.
fkey="left(f.direction, 1), f.proto, host(f.laddr), f.lport, host(f.raddr), f.rport, f.pgid, f.comm"
ms() { echo "(extract(epoch FROM $1) * 1000)::bigint"; }
dump() {
	local url=$1 d=$2 old=${3:-}
	mkdir -p "$d"
	q() { psql "$url" -XAtq -v ON_ERROR_STOP=1 -c "$1" | LC_ALL=C sort; }
	q "SELECT left(direction, 1), proto, host(laddr), lport, host(raddr), rport, pgid, comm, connections,
		connections_total, $(ms first_seen), $(ms last_seen) FROM flows f" >"$d/flows" &&
	q "SELECT $fkey, $(ms h.bucket), h.seconds, h.connections
		FROM flow_history h JOIN flows f USING (laddr, flow_id)" >"$d/history" &&
	q "SELECT host(addr), port, proto, pgid, comm, $(ms first_seen), $(ms last_seen) FROM passive_nodes" >"$d/passive" &&
	q "SELECT host(addr), pgid, comm, $(ms first_seen), $(ms last_seen) FROM active_nodes" >"$d/active" &&
	q "SELECT 'flow', left(direction, 1), proto, host(laddr), lport, host(raddr), rport, pgid, comm, xmin FROM flows f" >"$d/xmin.flows" &&
	q "SELECT 'history', $fkey, $(ms h.bucket), h.xmin
		FROM flow_history h JOIN flows f USING (laddr, flow_id)" >"$d/xmin.history" &&
	q "SELECT 'passive', host(addr), port, proto, pgid, comm, xmin FROM passive_nodes" >"$d/xmin.passive" &&
	q "SELECT 'active', host(addr), pgid, comm, xmin FROM active_nodes" >"$d/xmin.active" || return 1
	if [ -n "$old" ]; then
		cat "$old"/xmin.{flows,history,passive,active} | LC_ALL=C sort >"$d/xmin.before"
		cat "$d"/xmin.{flows,history,passive,active} | LC_ALL=C sort | LC_ALL=C comm -13 "$d/xmin.before" - |
			sed 's/|[0-9]*$//' | LC_ALL=C sort >"$d/rewritten"
	fi
}
for f in flows history passive active rewritten; do LC_ALL=C sort -o "$tmp/expected/$f" "$tmp/expected/$f"; done

# same NAME A B: a check that files A and B are equal (the diff's head if not).
same() {
	if diff -u "$2" "$3" >"$tmp/diff"; then ok "$1"; else not_ok "$1"; head -20 "$tmp/diff" | sed 's/^/# /'; fi
}

FLOWS1=$(wc -l <"$tmp/flush1") FLOWS2=$(wc -l <"$tmp/flush2")
check "the second flush has $FLOWS2 flows (over 2000)" test "$FLOWS2" -gt 2000 -a "$FLOWS1" -gt 2000
"$FF" "$CMDB" i19-node 100000 "$BUCKET" <"$tmp/flush1" >"$tmp/ff1.out" 2>"$tmp/ff1.err"
check "first flush: $FLOWS1 flows in one batch" grep -qx "flushed $FLOWS1 flows in 1 batches" "$tmp/ff1.out"
dump "$CMDB" "$tmp/big1" || not_ok "dump after the first flush"
mkdir -p "$tmp/expected1"
python3 "$tmp/model.py" "$tmp/flush1" /dev/null 100000 "$BUCKET" "$tmp/expected1"
for f in flows history passive active; do LC_ALL=C sort -o "$tmp/expected1/$f" "$tmp/expected1/$f"; done
same "first flush: every flow row as expected ($FLOWS1)" "$tmp/expected1/flows" "$tmp/big1/flows"
same "first flush: every history row as expected ($(wc -l <"$tmp/expected1/history"))" "$tmp/expected1/history" "$tmp/big1/history"
same "first flush: every passive node as expected ($(wc -l <"$tmp/expected1/passive"))" "$tmp/expected1/passive" "$tmp/big1/passive"
same "first flush: every active node as expected ($(wc -l <"$tmp/expected1/active"))" "$tmp/expected1/active" "$tmp/big1/active"

"$FF" "$CMDB" i19-node 100000 "$BUCKET" <"$tmp/flush2" >"$tmp/ff2.out" 2>"$tmp/ff2.err"
check "second flush: $FLOWS2 flows in one batch" grep -qx "flushed $FLOWS2 flows in 1 batches" "$tmp/ff2.out"
dump "$CMDB" "$tmp/big2" "$tmp/big1" || not_ok "dump after the second flush"
same "second flush: every flow row as expected ($(wc -l <"$tmp/expected/flows"))" "$tmp/expected/flows" "$tmp/big2/flows"
same "second flush: every history row as expected ($(wc -l <"$tmp/expected/history"))" "$tmp/expected/history" "$tmp/big2/history"
same "second flush: every passive node as expected" "$tmp/expected/passive" "$tmp/big2/passive"
same "second flush: every active node as expected" "$tmp/expected/active" "$tmp/big2/active"
same "second flush: rewrote exactly the changed rows ($(wc -l <"$tmp/expected/rewritten"))" "$tmp/expected/rewritten" "$tmp/big2/rewritten"
for c in flow history passive active; do
	n=$(grep -c "^$c|" "$tmp/expected/rewritten")
	check "the model has $c rows rewritten and $c rows left ($n)" test "$n" -gt 0 -a "$n" -lt "$(wc -l <"$tmp/big2/xmin.${c/flow/flows}")"
done

# The same flushes in batches of 500 (the prepared unique.sql) into a
# second database: the same rows, the same rewritten.
psql_val "CREATE DATABASE small" >/dev/null || { not_ok "second database"; finish; }
SMALL=${CMDB/\/postgres\?//small?}
"$SHAWK_BIN" create-scheme --cmdb "$SMALL" >/dev/null || { not_ok "create-scheme small"; finish; }
"$FF" "$SMALL" i19-node 500 "$BUCKET" <"$tmp/flush1" >"$tmp/fs1.out" 2>"$tmp/fs1.err"
check "small path: first flush in 5 batches" grep -qx "flushed $FLOWS1 flows in 5 batches" "$tmp/fs1.out"
dump "$SMALL" "$tmp/small1"
"$FF" "$SMALL" i19-node 500 "$BUCKET" <"$tmp/flush2" >"$tmp/fs2.out" 2>"$tmp/fs2.err"
check "small path: second flush in 6 batches" grep -qx "flushed $FLOWS2 flows in 6 batches" "$tmp/fs2.out"
dump "$SMALL" "$tmp/small2" "$tmp/small1"
for f in flows history passive active rewritten; do
	same "batches of 500 and one batch: the same $f" "$tmp/big2/$f" "$tmp/small2/$f"
done

# Repeated keys in a batch go through grouped.sql (ON CONFLICT, keys
# merged, its own history statement): 300 flows of the first flush, each
# twice in its batch (the copy one connection more and seen 0-3 buckets
# later), then the same again with new connections in the first bucket.
psql_val "CREATE DATABASE dups" >/dev/null || { not_ok "third database"; finish; }
DUPS=${CMDB/\/postgres\?//dups?}
"$SHAWK_BIN" create-scheme --cmdb "$DUPS" >/dev/null || { not_ok "create-scheme dups"; finish; }
head -300 "$tmp/flush1" | awk -v B=$((BUCKET * 1000)) 'BEGIN { OFMT = CONVFMT = "%.0f" } { print; $9 += 1; $10 = 1; $12 += (NR % 4) * B; print }' >"$tmp/dups1"
head -300 "$tmp/flush1" | awk 'BEGIN { OFMT = CONVFMT = "%.0f" } { $10 = 2; $12 = $11; print; $10 = 1; print }' >"$tmp/dups2"
mkdir -p "$tmp/expected_dups"
python3 "$tmp/model.py" "$tmp/dups1" "$tmp/dups2" 100000 "$BUCKET" "$tmp/expected_dups" merge
for f in flows history; do LC_ALL=C sort -o "$tmp/expected_dups/$f" "$tmp/expected_dups/$f"; done
"$FF" "$DUPS" i19-node 100000 "$BUCKET" <"$tmp/dups1" >"$tmp/fd1.out" 2>"$tmp/fd1.err"
"$FF" "$DUPS" i19-node 100000 "$BUCKET" <"$tmp/dups2" >"$tmp/fd2.out" 2>"$tmp/fd2.err"
check "repeated keys: both flushes written" grep -qx "flushed 600 flows in 1 batches" "$tmp/fd2.out"
dump "$DUPS" "$tmp/dups"
same "repeated keys: every flow row as expected" "$tmp/expected_dups/flows" "$tmp/dups/flows"
same "repeated keys: every history row as expected ($(wc -l <"$tmp/expected_dups/history"))" "$tmp/expected_dups/history" "$tmp/dups/history"
cat "$tmp"/ff*.err "$tmp"/fs*.err "$tmp"/fd*.err | sed 's/^/# /'
finish
