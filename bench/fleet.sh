#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fleet: how many agents one PostgreSQL holds (issue 19). N simulated
# agents (bench/cmdb_bench fleet), each its own connection and node name,
# each flushing F = 500 live flows every I = 10 s (CHANGE % of them with a
# new connection, the rest unchanged), into one throwaway PostgreSQL
# (unix socket, fsync off) for DURATION seconds, after a first round that
# inserts every flow. For each N: flushes/s, flows/s, flush latency (end
# of the flush after its due time: a flush later than I is "late"; the
# mean over the first and last third of the run shows a growing backlog)
# and PostgreSQL's CPU (all its processes, % of one core).
# The largest N where no flush is late and the last third is not slower
# than the first is the answer. Run alone: the driver shares the cores.
#
#   FLEET_NS="100 300 ..." FLEET_DURATION=60 FLEET_CHANGE=10 \
#   FLEET_MODES="flush history_off plan_each send_all turn" bash bench/fleet.sh
# FLEET_SHARED_BUFFERS=512MB sets the server's shared_buffers (default
# 128MB). After each run: the sizes of flows and flow_history.
set -u
cd "$(dirname "$0")/.." || exit 1
SHAWK_BIN=${SHAWK_BIN:-build/shawk}
DRIVER=${OBJDIR:-build/rel}/bench/cmdb_bench
[ -x "$DRIVER" ] || { echo "fleet bench: $DRIVER missing (make bench)"; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "SKIP - fleet bench needs PostgreSQL server binaries"; exit 0; }
NS=${FLEET_NS:-"100 250 500 750 1000"}
F=${FLEET_FLOWS:-500}
I=${FLEET_INTERVAL:-10}
D=${FLEET_DURATION:-60}
C=${FLEET_CHANGE:-10}
T=${FLEET_THREADS:-16}
# The flush as agents run it (flush), and references measured in the same
# run for each N: without history (history_off: every flow rewritten at
# every flush, as before the history), unique.sql planned at every flush
# instead of prepared (plan_each), every flow sent at every flush instead
# of those the CMDB does not have as they are (send_all), every live
# flow's once-per-bucket refresh in the first flush of the bucket instead
# of spread over it (turn).
MODES=${FLEET_MODES:-flush}

tmp=$(mktemp -d)
[ "$(id -u)" -eq 0 ] && chmod 755 "$tmp"
trap 'scripts/pg-throwaway.sh destroy "$tmp/pg"; rm -rf "$tmp"' EXIT
URL=$(scripts/pg-throwaway.sh start "$tmp/pg") || exit 1
max=0
for n in $NS; do [ "$n" -gt "$max" ] && max=$n; done
psql "$URL" -XAtqc "ALTER SYSTEM SET max_connections = $((max + 20))" >/dev/null || exit 1
# FLEET_SHARED_BUFFERS (e.g. 512MB): the server's shared_buffers; its
# default (128MB) is less than the flows table of 1000 agents' 500 flows.
if [ -n "${FLEET_SHARED_BUFFERS:-}" ]; then
	psql "$URL" -XAtqc "ALTER SYSTEM SET shared_buffers = '$FLEET_SHARED_BUFFERS'" >/dev/null || exit 1
fi
scripts/pg-throwaway.sh stop "$tmp/pg"
URL=$(scripts/pg-throwaway.sh start "$tmp/pg") || exit 1
"$SHAWK_BIN" create-scheme --cmdb "$URL" >/dev/null || exit 1
# The postmaster: its processes' CPU is PostgreSQL's (not other clusters').
home=$tmp/pg
[ -L "$home/cluster" ] && home=$(readlink -f "$home/cluster")
pm=$(head -1 "$home/data/postmaster.pid" 2>/dev/null || echo 0)

echo "== fleet bench ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)): F=$F flows, every ${I}s, ${C}% changing, ${D}s per N"
for n in $NS; do
	for mode in $MODES; do
		psql "$URL" -XAtqc "TRUNCATE flows, passive_nodes, active_nodes, flush_batches, flow_history" >/dev/null
		case $mode in
		history_off) export FLEET_HISTORY_OFF=1 FLEET_PLAN_EACH=0 FLEET_SEND_ALL=0 FLEET_TURN=0 ;;
		plan_each) export FLEET_HISTORY_OFF=0 FLEET_PLAN_EACH=1 FLEET_SEND_ALL=0 FLEET_TURN=0 ;;
		send_all) export FLEET_HISTORY_OFF=0 FLEET_PLAN_EACH=0 FLEET_SEND_ALL=1 FLEET_TURN=0 ;;
		turn) export FLEET_HISTORY_OFF=0 FLEET_PLAN_EACH=0 FLEET_SEND_ALL=0 FLEET_TURN=1 ;;
		*) export FLEET_HISTORY_OFF=0 FLEET_PLAN_EACH=0 FLEET_SEND_ALL=0 FLEET_TURN=0 ;;
		esac
		psql "$URL" -XAtqc "SELECT pg_stat_reset()" >/dev/null
		"$DRIVER" fleet "$URL" "$n" "$F" "$I" "$D" "$C" "$T" "$pm" || exit 1
		# What autovacuum did meanwhile (fill and steady state): its
		# ANALYZEs invalidate every connection's prepared plan. (A
		# VACUUM ANALYZE between the fill and the clock did not shorten
		# the first third's backlog: 1250 agents, 1677 late against 0.)
		psql "$URL" -XAtqc "SELECT 'sizes after the run: flows ' || pg_size_pretty(pg_total_relation_size('flows')) || ', flow_history ' || pg_size_pretty(coalesce(sum(pg_total_relation_size(inhrelid)), 0)) || ', shared_buffers ' || current_setting('shared_buffers') FROM pg_inherits WHERE inhparent = 'flow_history'::regclass"
		psql "$URL" -XAtqc "SELECT 'autovacuum during the run: ' || coalesce(sum(autovacuum_count), 0) || ' vacuums, ' || coalesce(sum(autoanalyze_count), 0) || ' analyzes (' || coalesce(string_agg(relname, ' ' ORDER BY relname) FILTER (WHERE autovacuum_count + autoanalyze_count > 0), '') || ')' FROM pg_stat_user_tables"
	done
done
