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
