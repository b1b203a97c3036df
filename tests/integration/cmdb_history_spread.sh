#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The once-per-bucket refresh spread over the bucket (issue 19's fleet,
# src/cmdb/delta.c), with 6 s history buckets and a flush every second:
# 40 long-lived connections between a client and a server in two network
# namespaces, recorded by the probe daemon into a throwaway PostgreSQL.
# Checks that the flows' history rows of one bucket were written by
# several flushes (not all by the first flush of the bucket), that every
# flow has a row in every bucket it was alive in (none missing, none
# after), and that flows still owed their bucket's refresh when their
# connections closed (1.3-1.7 s into a bucket, before most flows' turn)
# have that bucket's row all the same, as do flows still open when the
# probe stops (1.3-1.7 s into a bucket too).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/bridge.sh
require_root
pg_require

SW=i19s-sw-$$ CL=i19s-cl-$$ SV=i19s-sv-$$
NCONN=40 NLIVE=10
tmp=$(mktemp -d)
probe_pid=
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	pkill -f "$tmp/" 2>/dev/null
	wait 2>/dev/null
	for ns in "$CL" "$SV" "$SW"; do ip netns del "$ns" 2>/dev/null; done
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pg_test_start
bridge_hosts "$SW" i19s "$CL:198.18.67.2" "$SV:198.18.67.3" || skip "cannot create network namespaces"

# The server: one listener per port, each accepted connection closed when
# its peer closes.
cat >"$tmp/srv.py" <<'PY'
import os, socket, sys, threading
d, n = sys.argv[1], int(sys.argv[2])
def serve(s):
    while True:
        c, _ = s.accept()
        threading.Thread(target=lambda c=c: (c.recv(1), c.close()), daemon=True).start()
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("198.18.67.3", 9000 + i))
    s.listen(8)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
open(f"{d}/srv", "w").close()
threading.Event().wait()
PY
# The client: one connection to each of ports 9000 + [FROM, FROM + N),
# held until $tmp/close exists, then all closed; the time (epoch ms) in
# $tmp/closed. Another (shawk-splive) holds its connections to the end.
cat >"$tmp/cli.py" <<'PY'
import os, socket, sys, time
d, n, lo, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
conns = [socket.create_connection(("198.18.67.3", 9000 + lo + i)) for i in range(n)]
open(f"{d}/{name}", "w").close()
if name == "live":
    time.sleep(3600)
while not os.path.exists(f"{d}/close"):
    time.sleep(0.01)
for c in conns:
    c.close()
t = int(time.time() * 1000)
with open(f"{d}/closed.tmp", "w") as f:
    f.write(f"{t}\n")
os.rename(f"{d}/closed.tmp", f"{d}/closed")
time.sleep(3600)
PY
ip netns exec "$SV" bash -c ". tests/integration/lib/common.sh; pyrun shawk-spsrv $tmp/srv.py $tmp $((NCONN + NLIVE)); wait" &
wait_for test -f "$tmp/srv" || { not_ok "server started"; finish; }
ip netns exec "$CL" bash -c ". tests/integration/lib/common.sh; pyrun shawk-spcli $tmp/cli.py $tmp $NCONN 0 cli; wait" &
ip netns exec "$CL" bash -c ". tests/integration/lib/common.sh; pyrun shawk-splive $tmp/cli.py $tmp $NLIVE $NCONN live; wait" &
wait_for test -f "$tmp/cli" || { not_ok "client connected"; finish; }
wait_for test -f "$tmp/live" || { not_ok "second client connected"; finish; }

"$SHAWK_BIN" probe --cmdb "$CMDB" --interval 200ms --flush-interval 1s \
	--history-bucket 6s >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
now_ms() { date +%s%3N; }
# Waits until 1.3-1.7 s into a bucket.
into_bucket() {
	while :; do
		into=$(($(now_ms) % 6000))
		[ "$into" -ge 1300 ] && [ "$into" -le 1700 ] && break
		sleep 0.1
	done
}
t0=$(now_ms)

# Flows of both ends: the client's (active, one per port) and the
# server's (passive, one per port); those closed in the test (Q) and
# those open to the end (L).
H="FROM flow_history h JOIN flows f ON f.laddr = h.laddr AND f.flow_id = h.flow_id"
Q="$H WHERE (f.comm = 'shawk-spcli' OR (f.comm = 'shawk-spsrv' AND f.lport < $((9000 + NCONN))))"
L="$H WHERE (f.comm = 'shawk-splive' OR (f.comm = 'shawk-spsrv' AND f.lport >= $((9000 + NCONN))))"
check "the probe wrote the $((2 * (NCONN + NLIVE))) flows" wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT count(DISTINCT (h.laddr, h.flow_id)) $H WHERE f.comm LIKE 'shawk-sp%'\")\" -eq $((2 * (NCONN + NLIVE))) ]"

# Three whole buckets after the first, then the close 1.3-1.7 s into a
# bucket: offsets into the bucket are spread over its first 4 s, so most
# flows are still owed their refresh then.
sleep $(((t0 + 21000 - $(now_ms)) / 1000))
into_bucket
touch "$tmp/close"
wait_for test -f "$tmp/closed" || { not_ok "client closed"; finish; }
read -r closed <"$tmp/closed"
cb=$((closed / 6000 * 6)) # the close's bucket, epoch s
# Two buckets for the flushes after it, then the probe stops 1.3-1.7 s
# into a bucket.
sleep 12
into_bucket
sb=$(($(now_ms) / 6000 * 6))
probe_stop
check "probe exits 0 on SIGTERM" test "$probe_rc" -eq 0
check "no error logged by the probe" bash -c "! grep -q ' error: ' '$tmp/probe.err'"

# Every flow has a row in every bucket from its first to the close's.
psql_val "SELECT f.comm, f.lport, f.rport, extract(epoch FROM min(h.bucket))::bigint,
	extract(epoch FROM max(h.bucket))::bigint, count(*) $Q
	GROUP BY f.comm, f.lport, f.rport, h.laddr, h.flow_id" >"$tmp/rows"
bad=$(awk -F'|' -v cb="$cb" '$5 != cb || $6 != ($5 - $4) / 6 + 1' "$tmp/rows")
check "every flow has a row in each bucket it was alive in, the close's last ($(wc -l <"$tmp/rows") flows)" test -z "$bad"
if [ -n "$bad" ]; then
	echo "# close at $closed (bucket $cb)"
	echo "$bad" | head -5 | sed 's/^/# comm|lport|rport|first|last|rows: /'
	psql_val "SELECT f.comm, f.rport, f.lport, f.last_seen, h.bucket, h.xmin $Q ORDER BY 1, 2, 3, 5" | head -30 | sed 's/^/# /'
	grep -i "cmdb\|flush" "$tmp/probe.err" | tail -5 | sed 's/^/# /'
fi
check "flows spanned at least three buckets before the close" test "$(awk -F'|' '$6 >= 4' "$tmp/rows" | wc -l)" -eq $((2 * NCONN))

# The flows open when the probe stopped have a row in its last bucket.
psql_val "SELECT f.comm, f.lport, f.rport, extract(epoch FROM max(h.bucket))::bigint $L
	GROUP BY f.comm, f.lport, f.rport, h.laddr, h.flow_id" >"$tmp/live_rows"
check "flows open at the probe's stop have a row in its last bucket ($(wc -l <"$tmp/live_rows") flows)" test "$(awk -F'|' -v sb="$sb" '$4 == sb' "$tmp/live_rows" | wc -l)" -eq $((2 * NLIVE))

# The refresh of a whole bucket before the close: its rows were inserted
# by several flushes (transactions), none with most of them.
mid=$((cb - 6))
psql_val "SELECT h.xmin::text, count(*) $Q AND h.bucket = to_timestamp($mid)
	GROUP BY 1 ORDER BY 2 DESC" >"$tmp/xmin"
check "one bucket's rows written by several flushes ($(wc -l <"$tmp/xmin") of them)" test "$(wc -l <"$tmp/xmin")" -ge 3
check "no flush wrote more than 60 % of one bucket's rows ($(head -1 "$tmp/xmin" | cut -d'|' -f2) of $((2 * NCONN)))" test "$(head -1 "$tmp/xmin" | cut -d'|' -f2)" -le $((2 * NCONN * 60 / 100))

finish
