#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# connections_total is exact across agent processes (issue 18): three held
# connections stay three over four `probe --once` runs and daemon restarts
# (polling and streaming), because each flush records the identity of the
# connections it counts (boot id, netns, socket cookie) and the CMDB counts
# an identity once. A fourth connection still counts.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh

cmdb_test_begin

cat >"$tmp/srv.py" <<PY
import os, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(16)
open("$tmp/port.tmp", "w").write(str(s.getsockname()[1])); os.rename("$tmp/port.tmp", "$tmp/port")
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
pyrun i18-tot-srv "$tmp/srv.py"
pids+=($!)
wait_for test -s "$tmp/port" || { not_ok "server started"; finish; }
cat >"$tmp/cli.py" <<PY
import os, socket, sys, time
n = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", $(cat "$tmp/port"))) for _ in range(n)]
open("$tmp/cli" + sys.argv[1], "w").close()
time.sleep(3600)
PY
pyrun i18-tot-cli "$tmp/cli.py" 3
pids+=($!)
wait_for test -e "$tmp/cli3" || { not_ok "client holds 3 connections"; finish; }

totals() { # "active|passive" connections_total of the client and server flows
	psql_val "SELECT coalesce((SELECT sum(connections_total) FROM flows WHERE comm = 'i18-tot-cli' AND direction = 'active'), 0) || '|' ||
		coalesce((SELECT sum(connections_total) FROM flows WHERE comm = 'i18-tot-srv' AND direction = 'passive'), 0)"
}

for i in 1 2 3 4; do
	mode=auto
	[ "$i" -eq 2 ] && mode=polling
	"$SHAWK_BIN" probe --once --cmdb "$CMDB" --include-loopback --mode "$mode" \
		>"$tmp/once$i.out" 2>"$tmp/once$i.err" || not_ok "probe --once #$i exits 0: $(tail -2 "$tmp/once$i.err")"
	got=$(totals)
	check "after probe --once #$i (--mode $mode): client and server count 3 held connections ($got)" test "$got" = "3|3"
done

for mode in polling streaming polling; do
	"$SHAWK_BIN" probe --cmdb "$CMDB" --include-loopback --mode "$mode" --interval 200ms \
		--flush-interval 500ms >"$tmp/d.out" 2>"$tmp/d.err" &
	probe_pid=$!
	sleep 2
	kill -TERM "$probe_pid"
	wait "$probe_pid"
	rc=$?
	probe_pid=
	got=$(totals)
	check "after a $mode agent's life (rc=$rc): still 3 ($got)" test "$got" = "3|3"
done
check "seen connection identities recorded ($(psql_val 'SELECT count(*) FROM seen_conns'))" \
	test "$(psql_val 'SELECT count(*) FROM seen_conns')" -ge 6

# A new connection is new for every process.
pyrun i18-tot-cli "$tmp/cli.py" 1
pids+=($!)
wait_for test -e "$tmp/cli1" || not_ok "a fourth connection"
"$SHAWK_BIN" probe --once --cmdb "$CMDB" --include-loopback >/dev/null 2>&1
got=$(totals)
check "a fourth connection is counted: 4 ($got)" test "$got" = "4|4"
"$SHAWK_BIN" probe --once --cmdb "$CMDB" --include-loopback >/dev/null 2>&1
got=$(totals)
check "and once only: 4 ($got)" test "$got" = "4|4"

finish
