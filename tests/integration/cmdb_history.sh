#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CMDB over time (issue 19), with 1 s history buckets: one client
# process in its own network namespace connects to a server in another in
# three phases ("Monday", "Friday", and during a CMDB outage), recorded by
# the probe daemon into a throwaway PostgreSQL. Checks that the edge is
# absent from a window between the phases (though its flow row brackets
# it), counts summed over a window, `look --diff-*` in tree, json, dot and
# svg, bad windows, flows buffered during an outage landing in the buckets
# of when they were seen, retention by the agent and by `shawk prune` on a
# month of synthetic history, and the upgrade from schema 5 with data.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/bridge.sh
require_root
pg_require

SW=i19h-sw-$$ CL=i19h-cl-$$ SV=i19h-sv-$$
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
newest=$(ls sql/[0-9]*.sql | tail -1 | sed -e 's,^sql/0*,,' -e 's,_.*,,')
check "schema at the newest version ($newest)" test "$(psql_val "SELECT max(version) FROM shawk_schema_version")" = "$newest"
check "today's and tomorrow's history partitions exist" test "$(psql_val "SELECT count(*) FROM pg_inherits WHERE inhparent = 'flow_history'::regclass")" -ge 2

# An old partition with a row in it, for the agent's retention to drop.
psql_val "SELECT shawk_history_prepare(now() - interval '40 days', now() - interval '40 days')" >/dev/null
old_part=$(psql_val "SELECT 'flow_history_p' || to_char((now() - interval '40 days') AT TIME ZONE 'UTC', 'YYYYMMDD')")
psql_val "INSERT INTO flow_history VALUES ('198.18.66.9', 42, now() - interval '40 days', 60, 1)" >/dev/null
check "synthetic partition 40 days old exists" test "$(psql_val "SELECT to_regclass('$old_part') IS NOT NULL")" = t

bridge_hosts "$SW" i19h "$CL:198.18.66.2" "$SV:198.18.66.3" || skip "cannot create network namespaces"
inns "$SV" shawk-hsrv server "$tmp/sv" tcp:198.18.66.3:80
wait_for test -f "$tmp/sv" || { not_ok "server started"; finish; }

# The client: one process for every phase (lib/pg.sh), the same edge
# each time.
history_client "$CL" shawk-hcli 198.18.66.3:80 198.18.66.3:80 198.18.66.3:80
history_probe_start
history_phase 1; s1=$S e1=$E
sleep 6
history_phase 2; s2=$S e2=$E
hist() { psql_val "SELECT count(*) FROM flow_activity WHERE comm = 'shawk-hcli' AND bucket >= to_timestamp($1 / 1000.0 - 1)"; }
wait_for bash -c "[ \"\$(psql '$CMDB' -XAtqc \"SELECT count(*) FROM flow_activity WHERE comm = 'shawk-hcli' AND bucket >= to_timestamp($s2 / 1000.0 - 1)\")\" -gt 0 ]"
sleep 2 # the flush after the close

check "the agent's retention dropped the 40-day-old partition" test "$(psql_val "SELECT to_regclass('$old_part') IS NULL")" = t
check "the agent logged its retention run" grep -q "retention dropped 1 history partitions" "$tmp/probe.err"
check "the agent's retention kept today's history" test "$(psql_val "SELECT count(*) FROM flow_activity WHERE comm = 'shawk-hcli'")" -gt 0

L="$SHAWK_BIN look --cmdb $CMDB"
pg_cl=$(ps -o pgid= -p "$(pgrep -x shawk-hcli | head -1)" | tr -d ' ')
pg_sv=$(ps -o pgid= -p "$(pgrep -x shawk-hsrv | head -1)" | tr -d ' ')
all_s=$(rfc3339_ms $((s1 - 2000))) all_e=$(rfc3339_ms $((e2 + 2000)))
p1_s=$(rfc3339_ms $((s1 - 2000))) p1_e=$(rfc3339_ms $((e1 + 500)))
gap_s=$(rfc3339_ms $((e1 + 2000))) gap_e=$(rfc3339_ms $((s2 - 2000)))
p2_s=$(rfc3339_ms $((s2 - 1000))) p2_e=$(rfc3339_ms $((e2 + 2000)))

cat >"$tmp/tree" <<EOT
198.18.66.3:80 ('shawk-hsrv', pgid=$pg_sv)
└<-- 198.18.66.2:many ('shawk-hcli', pgid=$pg_cl)  [tcp 2 conns, AGO]
EOT
sed 's/tcp 2 conns/tcp 1 conn/' "$tmp/tree" >"$tmp/tree_now"
# expect (lib/pg.sh) reads "last seen 3m ago, stale" as AGO too.
expect_ages='(last seen )?([0-9]+[smhd] ago|just now)(, stale)?'
json_edges() { # json_edges ARGS... : "connections[:change]" per edge, sorted
	$L --format json "$@" | python3 -c '
import json, sys
g = json.load(sys.stdin)
print(" ".join(sorted(str(e["connections"]) + (":" + e["change"] + ":" + str(e["connections_change"]) if "change" in e else "") for e in g["edges"])))'
}

expect "window over both phases shows the edge" "$tmp/tree" $L --ipv4 198.18.66.3 --since "$all_s" --until "$all_e"
check "window over both phases counts 2 connections" test "$(json_edges --ipv4 198.18.66.3 --since "$all_s" --until "$all_e")" = 2
check "window over phase 1 counts 1 connection" test "$(json_edges --ipv4 198.18.66.3 --since "$p1_s" --until "$p1_e")" = 1
check "the flow row's first/last seen bracket the gap (the old test would show it)" test "$(psql_val "SELECT bool_and(first_seen < '$gap_s' AND last_seen > '$gap_e') FROM flows WHERE comm = 'shawk-hcli'")" = t
$L --ipv4 198.18.66.3 --since "$gap_s" --until "$gap_e" >"$tmp/gap" 2>"$tmp/gap.err"
check "window between the phases: nothing, exit 1" test $? -eq 1
check "window between the phases, json: no edge" test "$(json_edges --ipv4 198.18.66.3 --since "$gap_s" --until "$gap_e")" = ""
expect "no window: the edge as today (its last interval's connection)" "$tmp/tree_now" $L --ipv4 198.18.66.3

# Diff: phase 2 against the gap (added), the gap against phase 1
# (removed), phase 2 against phase 1 (unchanged, same count).
cat >"$tmp/added" <<EOT
  198.18.66.3:80 ('shawk-hsrv', pgid=$pg_sv)
+ └<-- 198.18.66.2:many ('shawk-hcli', pgid=$pg_cl)  [tcp 1 conn (+1), AGO]
EOT
expect "diff tree: added edge marked +" "$tmp/added" $L --ipv4 198.18.66.3 --since "$p2_s" --diff-since "$gap_s" --diff-until "$gap_e"
cat >"$tmp/removed" <<EOT
  198.18.66.2:many ('shawk-hcli', pgid=$pg_cl)
- └--> 198.18.66.3:80 ('shawk-hsrv', pgid=$pg_sv)  [tcp 0 conns (-1), AGO]
EOT
expect "diff tree: removed edge marked - (from the client, --host)" "$tmp/removed" $L --host 198.18.66.2 --since "$gap_s" --until "$gap_e" --diff-since "$p1_s" --diff-until "$p1_e"
cat >"$tmp/unchanged" <<EOT
  198.18.66.3:80 ('shawk-hsrv', pgid=$pg_sv)
  └<-- 198.18.66.2:many ('shawk-hcli', pgid=$pg_cl)  [tcp 1 conn (+0), AGO]
EOT
expect "diff tree: unchanged edge, no marker" "$tmp/unchanged" $L --ipv4 198.18.66.3 --depth 2 --since "$p2_s" --until "$p2_e" --diff-since "$p1_s" --diff-until "$p1_e"
head -1 "$tmp/unchanged" >"$tmp/unchanged_hidden"
expect "diff tree --changed-only hides it" "$tmp/unchanged_hidden" $L --ipv4 198.18.66.3 --since "$p2_s" --until "$p2_e" --diff-since "$p1_s" --diff-until "$p1_e" --changed-only
check "diff json: added" test "$(json_edges --ipv4 198.18.66.3 --since "$p2_s" --diff-since "$gap_s" --diff-until "$gap_e")" = "1:added:1"
check "diff json: removed" test "$(json_edges --ipv4 198.18.66.3 --since "$gap_s" --until "$gap_e" --diff-since "$p1_s" --diff-until "$p1_e")" = "0:removed:-1"
check "diff json: unchanged" test "$(json_edges --ipv4 198.18.66.3 --since "$p2_s" --until "$p2_e" --diff-since "$p1_s" --diff-until "$p1_e")" = "1:unchanged:0"
check "diff json --changed-only: no edge" test "$(json_edges --ipv4 198.18.66.3 --since "$p2_s" --until "$p2_e" --diff-since "$p1_s" --diff-until "$p1_e" --changed-only)" = ""
$L --ipv4 198.18.66.3 --since "$p2_s" --diff-since "$gap_s" --diff-until "$gap_e" --format dot >"$tmp/added.dot"
check "diff dot: added edge green" grep -q 'label="tcp 1 conn (+1)", color=green' "$tmp/added.dot"
$L --ipv4 198.18.66.3 --since "$gap_s" --until "$gap_e" --diff-since "$p1_s" --diff-until "$p1_e" --format dot >"$tmp/removed.dot"
check "diff dot: removed edge red dashed" grep -q 'color=red, style=dashed' "$tmp/removed.dot"
check "diff dot renders" bash -c "dot -Tsvg '$tmp/removed.dot' | grep -q '<svg'"
$L --ipv4 198.18.66.3 --since "$gap_s" --until "$gap_e" --diff-since "$p1_s" --diff-until "$p1_e" --format svg >"$tmp/removed.svg"
check "diff svg: removed edge red and dashed" bash -c "grep -q 'stroke=\"red\"' '$tmp/removed.svg' && grep -q 'stroke-dasharray' '$tmp/removed.svg'"
$L --ipv4 198.18.66.3 --since "$p2_s" --diff-since "$gap_s" --diff-until "$gap_e" --format svg >"$tmp/added.svg"
check "diff svg: added edge green" grep -q 'stroke="green"' "$tmp/added.svg"

# Bad input: one line, exit 2.
bad() { # bad NAME CMD... : exit 2 and one line on stderr
	local name=$1 rc
	shift
	"$@" >/dev/null 2>"$tmp/bad.err"
	rc=$?
	if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/bad.err")" -eq 1 ]; then ok "$name"; else not_ok "$name (rc $rc)"; cat "$tmp/bad.err"; fi
}
bad "--since later than --until" $L --ipv4 198.18.66.3 --since "$p2_s" --until "$p1_s"
bad "--diff window overlapping the window" $L --ipv4 198.18.66.3 --since "$p1_s" --diff-since "$all_s" --diff-until "$all_e"
bad "--diff-since later than --diff-until" $L --ipv4 198.18.66.3 --since "$p2_s" --diff-since "$gap_e" --diff-until "$gap_s"
bad "--diff-until without --diff-since" $L --ipv4 198.18.66.3 --diff-until "$gap_e"
bad "--changed-only without a diff" $L --ipv4 198.18.66.3 --changed-only
bad "probe: retention shorter than the bucket" "$SHAWK_BIN" probe --once --output none --retention 30s --history-bucket 1m
bad "probe: bucket not whole seconds" env SHAWK_HISTORY_BUCKET=1500ms "$SHAWK_BIN" probe --once --output none
bad "prune: retention shorter than the bucket" "$SHAWK_BIN" prune --cmdb "$CMDB" --retention 1s

# Outage: the connection of phase 3 comes and goes while PostgreSQL is
# down; its history lands in the buckets of when it was seen.
scripts/pg-throwaway.sh ctl "$PGDIR" -m fast -w stop >/dev/null 2>&1
history_phase 3; s3=$S e3=$E
sleep 3
restart=$(date +%s%3N)
scripts/pg-throwaway.sh start "$PGDIR" >/dev/null || not_ok "CMDB restarted"
for i in $(seq 1 40); do
	[ "$(hist "$s3")" -gt 0 ] 2>/dev/null && break
	sleep 0.5
done
check "phase 3 (seen during the outage) reached the history" test "$(hist "$s3")" -gt 0
last=$(psql_val "SELECT (extract(epoch FROM max(bucket)) * 1000)::bigint FROM flow_activity WHERE comm = 'shawk-hcli'")
check "its buckets are when it was seen, not when written ($last < $((e3 + 1000)) < $restart)" test "$last" -lt $((e3 + 1000)) -a $((e3 + 1000)) -lt "$restart"
check "window over phase 3 counts its connection" test "$(json_edges --ipv4 198.18.66.3 --since "$(rfc3339_ms $((s3 - 1000)))" --until "$(rfc3339_ms $((e3 + 500)))")" = 1

# A month of synthetic history (a minute bucket for each of 20 edges,
# every 10 minutes), then `shawk prune` with a week's retention.
psql_val "SELECT shawk_history_prepare(now() - interval '31 days', now())" >/dev/null
psql "$CMDB" -XAtq -v ON_ERROR_STOP=1 <<'EOF' >/dev/null
INSERT INTO flows SELECT ('198.18.66.' || (100 + i))::inet, 'synth', 'active', 'tcp', 0,
	'198.18.66.3', 80, 1, 1000 + i, 'synth', NULL, 1, 1,
	now() - interval '31 days', now() - (i || ' days')::interval
FROM generate_series(1, 20) i;
INSERT INTO flow_history SELECT f.laddr, f.flow_id, shawk_bucket(t, 60), 60, 1
FROM flows f,
     generate_series(now() - interval '31 days', now() - interval '1 hour', interval '10 minutes') t
WHERE f.comm = 'synth';
EOF
synth="laddr BETWEEN '198.18.66.101' AND '198.18.66.120'"
rows_before=$(psql_val "SELECT count(*) FROM flow_history WHERE $synth")
check "a month of synthetic history (>80k rows)" test "$rows_before" -gt 80000
parts_before=$(psql_val "SELECT count(*) FROM pg_inherits WHERE inhparent = 'flow_history'::regclass")
t0=$(date +%s%3N)
out=$("$SHAWK_BIN" prune --cmdb "$CMDB" --retention 7d)
rc=$?
t1=$(date +%s%3N)
echo "# prune of a month: $out in $((t1 - t0)) ms"
check "prune exits 0" test $rc -eq 0
parts_after=$(psql_val "SELECT count(*) FROM pg_inherits WHERE inhparent = 'flow_history'::regclass")
check "prune dropped the partitions older than a week ($parts_before -> $parts_after)" test $((parts_before - parts_after)) -ge 23 -a "$parts_after" -ge 8
check "no history row older than 8 days left" test "$(psql_val "SELECT count(*) FROM flow_history WHERE bucket < now() - interval '8 days'")" = 0
check "recent synthetic history kept" test "$(psql_val "SELECT count(*) FROM flow_history WHERE $synth AND bucket > now() - interval '6 days'")" -gt 10000
check "flows not seen within a week deleted, the others kept" test "$(psql_val "SELECT count(*) FROM flows WHERE comm = 'synth'")" = 6
check "live edge still there after prune" test "$(json_edges --ipv4 198.18.66.3 --since "$all_s" --until "$all_e" | wc -w)" -ge 1
check "prune reported it" bash -c "echo '$out' | grep -Eq 'pruned: [0-9]+ history partitions dropped, [0-9]+ rows deleted'"

history_probe_end

# Upgrade in place from schema 5 with data in it (another database).
pg_test_old_db up5 5
psql "$UP" -XAtq -v ON_ERROR_STOP=1 <<'EOF'
INSERT INTO flows VALUES ('198.18.66.20', 'n1', 'active', 'tcp', 0, '198.18.66.21', 5432, 1, 70, 'app', NULL, 2, 9, now() - interval '3 days', now() - interval '1 hour');
INSERT INTO passive_nodes (addr, port, proto, pgid, comm, node_name, first_seen, last_seen) VALUES ('198.18.66.21', 5432, 'tcp', 80, 'db', 'n2', now() - interval '3 days', now() - interval '1 hour');
EOF
out=$("$SHAWK_BIN" create-scheme --cmdb "$UP")
check "upgrade from 5 ($out)" test "$out" = "schema upgraded from version 5 to $newest"
check "upgrade keeps the flows" test "$(psql "$UP" -XAtqc "SELECT connections_total FROM flows WHERE comm = 'app'")" = 9
check "upgrade turns them into history" test "$(psql "$UP" -XAtqc "SELECT sum(connections), count(*) FROM flow_activity WHERE comm = 'app'")" = "9|2"
cat >"$tmp/up" <<EOT
198.18.66.21:5432 ('db', pgid=80)
└<-- 198.18.66.20:many ('app', pgid=70)  [tcp 9 conns, AGO]
EOT
expect "upgraded CMDB: look --since 4d" "$tmp/up" "$SHAWK_BIN" look --cmdb "$UP" --ipv4 198.18.66.21 --since 4d
"$SHAWK_BIN" look --cmdb "$UP" --ipv4 198.18.66.21 --since 2d --until 1d >/dev/null 2>&1
check "upgraded CMDB: not active between its first and last minute" test $? -eq 1
# Upgrade in place from schema 9 (history keyed like the flows) with data:
# each history row goes to its flow's id, the same edge recorded by two
# agents keeps each one's history, a Service flow its own; rows of flows
# no longer there go. The upgraded tables and views are the fresh ones.
psql_val "CREATE DATABASE up9" >/dev/null
UP=${CMDB/\/postgres\?//up9?}
"$SHAWK_BIN" create-scheme --cmdb "$UP" --target 9 >/dev/null
# The history rows below are up to 150 minutes old: yesterday's partition
# too when the test runs just after midnight UTC.
psql "$UP" -XAtq -v ON_ERROR_STOP=1 <<'EOF'
DO $$ BEGIN PERFORM shawk_history_prepare(now() - interval '1 day', now()); END $$;
INSERT INTO flows VALUES ('198.18.66.30', 'n1', 'active', 'tcp', 0, '198.18.66.31', 5432, 1, 70, 'app', NULL, 1, 5, now() - interval '3 hours', now() - interval '1 hour', NULL, NULL, NULL, NULL);
INSERT INTO flows VALUES ('198.18.66.30', 'n2', 'active', 'tcp', 0, '198.18.66.31', 5432, 2, 70, 'app', NULL, 1, 7, now() - interval '3 hours', now() - interval '1 hour', NULL, NULL, NULL, NULL);
INSERT INTO flows VALUES ('198.18.66.30', 'n1', 'active', 'tcp', 0, '198.18.66.31', 5432, 1, 70, 'app', NULL, 1, 2, now() - interval '3 hours', now() - interval '1 hour', '198.18.66.130', 80, NULL, NULL);
INSERT INTO flow_history VALUES
 ('198.18.66.30', 0, 'active', 'tcp', '198.18.66.31', 5432, 'n1', 1, 70, 'app', shawk_bucket(now() - interval '150 minutes', 60), 60, 5, NULL, NULL, NULL, NULL),
 ('198.18.66.30', 0, 'active', 'tcp', '198.18.66.31', 5432, 'n1', 1, 70, 'app', shawk_bucket(now() - interval '61 minutes', 60), 60, 0, NULL, NULL, NULL, NULL),
 ('198.18.66.30', 0, 'active', 'tcp', '198.18.66.31', 5432, 'n2', 2, 70, 'app', shawk_bucket(now() - interval '150 minutes', 60), 60, 7, NULL, NULL, NULL, NULL),
 ('198.18.66.30', 0, 'active', 'tcp', '198.18.66.31', 5432, 'n1', 1, 70, 'app', shawk_bucket(now() - interval '150 minutes', 60), 60, 2, '198.18.66.130', 80, NULL, NULL),
 ('198.18.66.39', 0, 'active', 'tcp', '198.18.66.31', 5432, 'n1', 1, 70, 'gone', shawk_bucket(now() - interval '150 minutes', 60), 60, 4, NULL, NULL, NULL, NULL);
EOF
out=$("$SHAWK_BIN" create-scheme --cmdb "$UP")
check "upgrade from 9 ($out)" test "$out" = "schema upgraded from version 9 to $newest"
check "upgrade from 9: each flow has its own id" test "$(psql "$UP" -XAtqc "SELECT count(DISTINCT flow_id) FROM flows")" = 3
per_flow=$(psql "$UP" -XAtqc "SELECT string_agg(node_name || ':' || coalesce(host(service_addr), '-') || ':' || n || ':' || c, ' ' ORDER BY node_name, service_addr NULLS FIRST) FROM (SELECT node_name, service_addr, count(*) n, sum(connections) c FROM flow_activity GROUP BY 1, 2) a")
check "upgrade from 9: each flow keeps its own history ($per_flow)" test "$per_flow" = "n1:-:2:5 n1:198.18.66.130:1:2 n2:-:1:7"
check "upgrade from 9: rows of flows no longer there dropped" test "$(psql "$UP" -XAtqc "SELECT count(*) FROM flow_history")" = 4
check "upgrade from 9: the old history table is gone" test "$(psql "$UP" -XAtqc "SELECT count(*) FROM pg_class WHERE relname LIKE '%v9%'")" = 0
cols="SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ' ' ORDER BY table_name, ordinal_position) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN ('flows', 'flow_history', 'edges', 'pod_edges', 'flow_activity')"
check "upgrade from 9: same tables and views as a fresh CMDB" test "$(psql "$UP" -XAtqc "$cols")" = "$(psql_val "$cols")"
j=$("$SHAWK_BIN" look --cmdb "$UP" --format json --ipv4 198.18.66.30 --since 4h | python3 -c '
import json, sys
print(" ".join(sorted(str(e["connections"]) for e in json.load(sys.stdin)["edges"])))')
check "upgrade from 9: look --since 4h counts each flow's history ($j)" test "$j" = "12 2"
"$SHAWK_BIN" look --cmdb "$UP" --ipv4 198.18.66.30 --since 100m --until 70m >/dev/null 2>&1
check "upgrade from 9: nothing active between the buckets" test $? -eq 1
"$SHAWK_BIN" look --cmdb "$UP" --ipv4 198.18.66.30 --since 62m --until 59m >"$tmp/up9" 2>&1
check "upgrade from 9: the last bucket is the direct flow's on n1" test "$(grep -c 198.18.66.31 "$tmp/up9")" = 1
finish
