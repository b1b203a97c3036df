# SPDX-License-Identifier: MIT
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

# cmdb_test_begin: what an agent-against-a-CMDB test starts with: skips
# without root or PostgreSQL, makes $tmp (world-readable: PostgreSQL's
# owner walks into it), $pids (background helpers) and $probe_pid, all
# killed at exit with the database, then a throwaway CMDB with the schema.
cmdb_test_begin() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (the probe reads every socket)"
	pg_available || skip "needs PostgreSQL server binaries (apt-get install postgresql)"
	command -v psql >/dev/null || skip "needs psql"
	tmp=$(mktemp -d)
	chmod 755 "$tmp"
	pids=()
	probe_pid=
	trap cmdb_test_end EXIT
	pg_start "$tmp/pg" || { not_ok "throwaway PostgreSQL starts"; finish; }
	"$SHAWK_BIN" create-scheme --cmdb "$CMDB" >/dev/null || { not_ok "create-scheme"; finish; }
}

cmdb_test_end() {
	[ -n "$probe_pid" ] && kill -KILL "$probe_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
