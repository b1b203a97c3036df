# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# A throwaway PostgreSQL per test script (sourced after common.sh):
# initdb in a temp dir, unix socket only. Sets PGDIR and CMDB.
pg_available() {
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null
}

pg_start() { # pg_start DIR
	PGDIR=$1
	if [ "$(id -u)" -eq 0 ]; then chmod 755 "$(dirname "$PGDIR")"; fi
	CMDB=$(scripts/pg-throwaway.sh start "$PGDIR") || return 1
	export CMDB
}

pg_stop() {
	[ -n "${PGDIR:-}" ] && scripts/pg-throwaway.sh stop "$PGDIR"
}

# psql_val SQL : one value, no decoration.
psql_val() {
	psql "$CMDB" -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

# pg_require: SKIP without PostgreSQL's server binaries or psql.
pg_require() {
	pg_available || skip "needs PostgreSQL server binaries (apt-get install postgresql)"
	command -v psql >/dev/null || skip "needs psql"
}

# pg_test_db: a throwaway PostgreSQL in $tmp/pg (at $CMDB), empty; when
# it does not start, a failed check and the end of the test.
pg_test_db() {
	pg_start "$tmp/pg" || { not_ok "throwaway PostgreSQL starts"; finish; }
}

# pg_test_start: the same with shawk's schema.
pg_test_start() {
	pg_test_db
	"$SHAWK_BIN" create-scheme --cmdb "$CMDB" >/dev/null || { not_ok "create-scheme"; finish; }
}

# pg_test_begin: what a test of the CMDB alone starts with: skips without
# PostgreSQL, makes $tmp, then a throwaway CMDB with the schema; both gone
# at exit.
pg_test_begin() {
	pg_require
	tmp=$(mktemp -d)
	trap pg_test_end EXIT
	pg_test_start
}

pg_test_end() {
	pg_stop
	rm -rf "$tmp"
}

# cmdb_test_begin: what an agent-against-a-CMDB test starts with: skips
# without root or PostgreSQL, makes $tmp (world-readable: PostgreSQL's
# owner walks into it), $pids (background helpers) and $probe_pid, all
# killed at exit with the database, then a throwaway CMDB with the schema.
cmdb_test_begin() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (the probe reads every socket)"
	pg_require
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	pids=()
	probe_pid=
	trap cmdb_test_end EXIT
	pg_test_start
}

# standin_kubelet_certs TOKEN: the kubelet stand-in's certificates in $tmp/pki
# (its CA: $tmp/pki/ca.crt) and TOKEN in $tmp/token.
standin_kubelet_certs() {
	python3 tests/integration/lib/kubelet_server.py certs "$tmp/pki" || { not_ok "kubelet certificates"; finish; }
	echo "$1" >"$tmp/token"
}

# standin_kubelet_start: the kubelet stand-in (lib/kubelet_server.py) serving
# $tmp/pods.json, "ok" in its control file $tmp/kubelet.ctl, its port in
# $tmp/kubelet.port once it listens; its pid in $pids.
standin_kubelet_start() {
	echo ok >"$tmp/kubelet.ctl"
	python3 tests/integration/lib/kubelet_server.py serve --dir "$tmp/pki" --token-file "$tmp/token" \
		--pods "$tmp/pods.json" --port-file "$tmp/kubelet.port" --control "$tmp/kubelet.ctl" 2>/dev/null &
	pids+=($!)
	wait_for test -s "$tmp/kubelet.port" || { not_ok "kubelet stand-in started"; finish; }
}

cmdb_test_end() {
	[ -n "$probe_pid" ] && kill -KILL "$probe_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}

# expect NAME FILE CMD... : a check that CMD's output (`look`'s tree)
# equals FILE, the ages that move with the clock read as AGO: "3m ago" and
# "just now" ("[tcp 3 conns, AGO]"), or what the sed -E pattern
# $expect_ages matches when the test sets it.
expect() {
	local name=$1 want=$2 ages=${expect_ages:-'([0-9]+[smhd] ago|just now)'}
	shift 2
	"$@" 2>"$tmp/got.err" | sed -E "s/$ages/AGO/" >"$tmp/got"
	if diff -u "$want" "$tmp/got" >"$tmp/diff"; then ok "$name"; else not_ok "$name"; sed 's/^/# /' "$tmp/diff"; cat "$tmp/got.err"; fi
}

# The history tests (1 s buckets) drive one client through phases.
# history_client NETNS COMM ADDR:PORT...: one client process (comm COMM) in
# NETNS for every phase, so one client identity: phase N (history_phase N)
# connects to the Nth ADDR:PORT, holds the connection 1.2 s, closes it and
# writes "START END" (epoch ms) to $tmp/doneN. Its script is
# $tmp/phases.py (a cleanup may pkill -f "$tmp/"); its pid $client_pid.
# shellcheck disable=SC2034 # client_pid is for the caller
history_client() {
	local ns=$1 comm=$2
	shift 2
	cat >"$tmp/phases.py" <<'PY'
import os, socket, sys, time
d, targets = sys.argv[1], sys.argv[2:]
ms = lambda: int(time.time() * 1000)
for n, target in enumerate(targets, 1):
    host, port = target.rsplit(":", 1)
    while not os.path.exists(f"{d}/go{n}"):
        time.sleep(0.05)
    s = socket.create_connection((host, int(port)))
    t0 = ms()
    time.sleep(1.2)
    s.close()
    t1 = ms()
    with open(f"{d}/done{n}.tmp", "w") as f:
        f.write(f"{t0} {t1}\n")
    os.rename(f"{d}/done{n}.tmp", f"{d}/done{n}")
time.sleep(3600)
PY
	ip netns exec "$ns" bash -c ". tests/integration/lib/common.sh; pyrun $comm $tmp/phases.py $tmp $*; wait" &
	client_pid=$!
}

# history_probe_start: the probe daemon into $CMDB with 1 s history
# buckets and a flush every second, output in $tmp/probe.out and
# $tmp/probe.err, pid in $probe_pid; returns once it has started.
history_probe_start() {
	"$SHAWK_BIN" probe --cmdb "$CMDB" --interval 200ms --flush-interval 1s \
		--history-bucket 1s >"$tmp/probe.out" 2>"$tmp/probe.err" &
	probe_pid=$!
	sleep 1.5
}

# history_phase N: runs phase N of the client, sets S and E (epoch ms).
# shellcheck disable=SC2034 # S and E are for the caller
history_phase() {
	touch "$tmp/go$1"
	wait_for test -f "$tmp/done$1" || { not_ok "phase $1 ran"; finish; }
	read -r S E <"$tmp/done$1"
}

# rfc3339_ms MS: RFC 3339 with milliseconds.
rfc3339_ms() {
	date -u -d "@$(($1 / 1000)).$(printf %03d $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ
}

# history_probe_end: stops the probe; checks that it exited 0 and logged
# no error.
history_probe_end() {
	probe_stop
	check "probe exits 0 on SIGTERM" test "$probe_rc" -eq 0
	check "no error logged by the probe" bash -c "! grep -q ' error: ' '$tmp/probe.err'"
}

# pg_test_old_db NAME VERSION: another database NAME on the same server
# with the schema up to VERSION only (for an upgrade), at $UP.
pg_test_old_db() {
	psql_val "CREATE DATABASE $1" >/dev/null
	UP=${CMDB/\/postgres\?//$1?}
	"$SHAWK_BIN" create-scheme --cmdb "$UP" --target "$2" >/dev/null
}

# probe_stop: SIGTERM to $probe_pid and wait; its exit status in $probe_rc,
# $probe_pid emptied (nothing left for the cleanup to kill).
# shellcheck disable=SC2034 # probe_rc is for the caller
probe_stop() {
	kill -TERM "$probe_pid"
	wait "$probe_pid"
	probe_rc=$?
	probe_pid=
}
