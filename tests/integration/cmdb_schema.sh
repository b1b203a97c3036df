#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# create-scheme against a real PostgreSQL (initdb in a temp dir, unix
# socket): fresh install, idempotent second run, upgrade from version 1;
# then a loopback flow written by `probe --once` and written again
# (upsert: one row, counts of the last pass, first_seen kept).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
pg_require

tmp=$(mktemp -d)
cleanup() {
	pkill -f "$tmp/" 2>/dev/null
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_test_db

S="$SHAWK_BIN"
# Fresh install up to version 1 only, then upgrade in place.
out=$("$S" create-scheme --cmdb "$CMDB" --target 1)
check "create-scheme --target 1" test "$out" = "schema upgraded from version 0 to 1"
check "version 1 has flows, no pods" test "$(psql_val "SELECT to_regclass('flows') IS NOT NULL, to_regclass('pods') IS NULL")" = "t|t"
psql_val "INSERT INTO flows VALUES ('10.9.0.1', 'n1', 'passive', 'tcp', 80, '10.9.0.2', 0, 1, 7, 'old', NULL, 2, 5, now(), now())" >/dev/null
out=$(SHAWK_CMDB_URL=$CMDB "$S" create-scheme)
newest=$(ls sql/[0-9]*.sql | tail -1 | sed -e "s,^sql/0*,," -e "s,_.*,,")
check "upgrade from version 1 to $newest" test "$out" = "schema upgraded from version 1 to $newest"
check "upgrade keeps existing rows" test "$(psql_val "SELECT connections_total FROM flows WHERE comm = 'old'")" = 5
check "upgrade: the flows key includes service and NAT peer (NULLs equal)" bash -c "psql '$CMDB' -XAtqc \"SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'flows_key'\" | grep -qx 'UNIQUE NULLS NOT DISTINCT (laddr, lport, direction, proto, raddr, rport, node_name, netns, pgid, comm, service_addr, service_port, nat_peer_addr, nat_peer_port)'"
check "upgrade: an existing flow has no service" test "$(psql_val "SELECT service_addr IS NULL AND nat_peer_port IS NULL FROM flows WHERE comm = 'old'")" = t
ins="INSERT INTO flows VALUES ('10.9.0.1', 'n1', 'passive', 'tcp', 80, '10.9.0.2', 0, 1, 7, 'old', NULL, 2, 5, now(), now()"
check "the same flow without a service conflicts (upsert stays one row)" test "$(psql_val "$ins) ON CONFLICT DO NOTHING RETURNING 1")" = ""
check "the same flow with a NAT peer is another row" test "$(psql_val "$ins, NULL, NULL, '198.18.62.9', 0) ON CONFLICT DO NOTHING RETURNING 1")" = 1
check "a service without its port is refused" bash -c "! psql '$CMDB' -XAtqc \"INSERT INTO flows VALUES ('10.9.0.1', 'n1', 'active', 'tcp', 0, '10.9.0.2', 80, 1, 7, 'old', NULL, 2, 5, now(), now(), '198.18.162.10', NULL, NULL, NULL)\" 2>/dev/null"
psql_val "DELETE FROM flows WHERE nat_peer_addr IS NOT NULL" >/dev/null
check "upgrade adds the services table and names services in pod_edges" test "$(psql_val "SELECT to_regclass('services') IS NOT NULL, count(*) FROM information_schema.columns WHERE table_name = 'pod_edges' AND column_name IN ('service_addr', 'service_port', 'service_namespace', 'service_name', 'nat_seen_addr')")" = "t|5"
check "upgrade leaves room for HOT updates" test "$(psql_val "SELECT string_agg(relname || ':' || array_to_string(reloptions, ','), ' ' ORDER BY relname) FROM pg_class WHERE relname IN ('flows', 'passive_nodes', 'active_nodes')")" = "active_nodes:fillfactor=50 flows:fillfactor=50 passive_nodes:fillfactor=50"
check "upgrade adds pods and the edges view" test "$(psql_val "SELECT to_regclass('pods') IS NOT NULL, to_regclass('edges') IS NOT NULL")" = "t|t"
dump1=$(pg_dump -s "$CMDB" 2>&1 | grep -v "restrict ")
out=$("$S" create-scheme --cmdb "$CMDB")
check "second run changes nothing (message)" test "$out" = "schema is up to date at version $newest"
dump2=$(pg_dump -s "$CMDB" 2>&1 | grep -v "restrict ")
check "second run changes nothing (schema dump)" test "$dump1" = "$dump2"
nfiles=$(ls sql/[0-9]*.sql | wc -l)
check "versions recorded once each" test "$(psql_val "SELECT count(*), count(DISTINCT version), max(version) FROM shawk_schema_version")" = "$nfiles|$nfiles|$newest"
check "read-only role shawk_reader exists" test "$(psql_val "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'shawk_reader'")" = f
check "shawk_reader may read flows" test "$(psql_val "SELECT has_table_privilege('shawk_reader', 'flows', 'SELECT'), has_table_privilege('shawk_reader', 'flows', 'INSERT')")" = "t|f"
"$S" create-scheme --cmdb "$CMDB" --target 99 >/dev/null 2>"$tmp/err"
check "unknown target version exits 2" test $? -eq 2
"$S" create-scheme >/dev/null 2>"$tmp/err" </dev/null
rc=$?
check "no URL: exit 2 with a clear message" bash -c "[ $rc -eq 2 ] && grep -q 'no CMDB' $tmp/err"
"$S" create-scheme --cmdb "postgresql:///x?host=$tmp/nowhere" >/dev/null 2>"$tmp/err"
rc=$?
check "unreachable server: exit 1, one line" bash -c "[ $rc -eq 1 ] && [ \$(wc -l < $tmp/err) -eq 1 ]"

# Flush and re-flush: loopback flows (written with --include-loopback).
H=tests/integration/lib/holder.py
pyrun shawk-lsrv $H server "$tmp/srv" tcp:127.0.0.1:18321
wait_for test -f "$tmp/srv" || { not_ok "loopback server"; finish; }
pyrun shawk-lcli $H client "$tmp/cli" tcp:127.0.0.1:18321:4
wait_for test -f "$tmp/cli" || { not_ok "loopback client"; finish; }

# 1 s history buckets: a flow without new connections gets its last_seen
# rewritten once per bucket (issue 19), and the re-flush below is 1.1 s on.
export SHAWK_HISTORY_BUCKET=1s
"$S" probe --once --cmdb "$CMDB" 2>"$tmp/p0.err"
check "probe --once --cmdb exits 0" test $? -eq 0
check "loopback flows are not written by default" test "$(psql_val "SELECT count(*) FROM flows WHERE comm LIKE 'shawk-l%'")" = 0
"$S" probe --once --cmdb "$CMDB" --include-loopback 2>"$tmp/p1.err"
check "probe --once --include-loopback exits 0" test $? -eq 0
q="SELECT count(*), sum(connections), min(first_seen) FROM flows WHERE comm = 'shawk-lsrv' AND direction = 'passive' AND lport = 18321"
first=$(psql_val "$q")
check "passive flow written once with 4 connections" test "${first%|*}" = "1|4"
check "active flow written with 4 connections" test "$(psql_val "SELECT count(*), sum(connections) FROM flows WHERE comm = 'shawk-lcli' AND direction = 'active' AND rport = 18321")" = "1|4"
check "nodes written" test "$(psql_val "SELECT (SELECT count(*) FROM passive_nodes WHERE comm = 'shawk-lsrv' AND port = 18321), (SELECT count(*) FROM active_nodes WHERE comm = 'shawk-lcli')")" = "1|1"
sleep 1.1
"$S" probe --once --cmdb "$CMDB" --include-loopback 2>"$tmp/p2.err"
second=$(psql_val "$q")
check "re-flush: still one row, connections of the last pass, first_seen kept" test "$second" = "$first"
check "re-flush: last_seen advanced" test "$(psql_val "SELECT last_seen > first_seen FROM flows WHERE comm = 'shawk-lsrv' AND lport = 18321")" = t
check "look sees the loopback server" bash -c "'$S' look --cmdb '$CMDB' --ipv4 127.0.0.1 | grep -q \"127.0.0.1:18321 ('shawk-lsrv'\""

# Another writer inserts the same flow while the flush runs (two agents
# given one node name): the flush's plain INSERT of new flows waits for it,
# meets a unique violation, and the flush goes again from a savepoint
# through ON CONFLICT. One row, both writers' totals.
# race TABLE KEEP COND ERR: moves TABLE's rows matching COND to a new table
# KEEP, then flushes one probe pass (stderr to ERR; exit status in rc)
# while another session holds them re-inserted, uncommitted, for 6 s (the
# flush waits for it: its deadline, --cmdb-timeout, is set above that).
race() {
	psql_val "CREATE TABLE $2 AS SELECT * FROM $1 WHERE $3; DELETE FROM $1 WHERE $3" >/dev/null
	psql "$CMDB" -qAt -c "BEGIN" -c "INSERT INTO $1 SELECT * FROM $2" -c "SELECT pg_sleep(6)" -c "COMMIT" >/dev/null 2>&1 &
	local racer=$!
	sleep 0.5
	"$S" probe --once --cmdb "$CMDB" --cmdb-timeout 9s --include-loopback 2>"$4"
	rc=$?
	wait $racer
}
cond="comm = 'shawk-lsrv' AND direction = 'passive' AND lport = 18321"
race flows race_keep "$cond" "$tmp/p3.err"
check "flush racing an insert of the same flow exits 0" test $rc -eq 0
check "racing flush: written at the first attempt" bash -c "! grep -q 'write failed' '$tmp/p3.err'"
# The held connections were counted by the earlier runs (seen_conns): the
# merged row keeps that total, and takes this flush's last_seen.
check "racing flush: one row, the connections counted once, last_seen advanced" test "$(psql_val "SELECT count(*), sum(connections_total) = (SELECT connections_total FROM race_keep), max(last_seen) > (SELECT last_seen FROM race_keep) FROM flows WHERE $cond")" = "1|t|t"

# The same for a node, which agents share (one address on several hosts).
ncond="comm = 'shawk-lsrv' AND port = 18321"
race passive_nodes race_node "$ncond" "$tmp/p4.err"
check "flush racing an insert of the same node: exit 0, first attempt" bash -c "[ $rc -eq 0 ] && ! grep -q 'write failed' '$tmp/p4.err'"
check "racing flush: one node row, last_seen advanced" test "$(psql_val "SELECT count(*), max(last_seen) > (SELECT last_seen FROM race_node) FROM passive_nodes WHERE $ncond")" = "1|t"
finish
