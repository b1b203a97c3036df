#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A newcomer's first hour (issue 17), against a real PostgreSQL: errors
# that say what to do (a CMDB without the schema, a --cmdb that is no
# PostgreSQL URL, a database or role that does not exist) and the command
# line conventions (-o, positional selectors, help CMD, version).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
pg_available || skip "needs PostgreSQL server binaries (apt-get install postgresql)"
command -v psql >/dev/null || skip "needs psql"

tmp=$(mktemp -d)
cleanup() {
	[ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_start "$tmp/pg" || { not_ok "throwaway PostgreSQL starts"; finish; }
S="$SHAWK_BIN"
unset SHAWK_CMDB_URL

# one_line NAME RC WANT_RC FILE PATTERN: exit status and one stderr line
# matching PATTERN.
one_line() {
	local name=$1 rc=$2 want=$3 f=$4 pat=$5
	if [ "$rc" -eq "$want" ] && [ "$(wc -l <"$f")" -eq 1 ] && grep -q -- "$pat" "$f"; then
		ok "$name"
	else
		not_ok "$name (exit $rc, stderr: $(head -c 300 "$f"))"
	fi
}

# --- A CMDB without the schema: every command names create-scheme. ------
"$S" look --host 198.18.65.1 --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look, no schema: exit 1, one line naming create-scheme" $? 1 "$tmp/err" 'shawk create-scheme'
check "look, no schema: not the raw PostgreSQL error" bash -c "! grep -q 'does not exist' '$tmp/err'"
timeout 30 "$S" probe --once --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "probe --once, no schema: exit 1, one line naming create-scheme" $? 1 "$tmp/err" 'shawk create-scheme'
check "probe --once, no schema: no timeout message" bash -c "! grep -qi 'timed out' '$tmp/err'"
timeout 30 "$S" serve --cmdb "$CMDB" --listen 127.0.0.1:0 >/dev/null 2>"$tmp/err"
one_line "serve, no schema: exit 1, one line naming create-scheme" $? 1 "$tmp/err" 'shawk create-scheme'
# A half-made schema (an older shawk, a hand-made table) is no better.
psql_val "CREATE TABLE shawk_schema_version (version int)" >/dev/null
"$S" look --host 198.18.65.1 --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look, empty schema table: names create-scheme" $? 1 "$tmp/err" 'shawk create-scheme'
psql_val "DROP TABLE shawk_schema_version" >/dev/null

# --- A --cmdb that cannot be a PostgreSQL URL: exit 2 at parse time. ----
for url in 'not a url' 'mysql://x/y' 'postgresql://%zz/db' 'host=/x port'; do
	for cmd in "look --host 198.18.65.1" "probe --once" "probe" "serve" "create-scheme"; do
		# shellcheck disable=SC2086 # cmd is words
		timeout 10 "$S" $cmd --cmdb "$url" >/dev/null 2>"$tmp/err"
		one_line "$cmd --cmdb '$url': exit 2, one line" $? 2 "$tmp/err" 'invalid --cmdb'
	done
done
SHAWK_CMDB_URL='mysql://x/y' "$S" look --host 198.18.65.1 >/dev/null 2>"$tmp/err"
one_line "SHAWK_CMDB_URL=mysql://x/y: exit 2, one line" $? 2 "$tmp/err" 'SHAWK_CMDB_URL'

# --- A database or role that does not exist: which one. -----------------
host=$(sed -n 's/.*host=\([^&]*\).*/\1/p' <<<"$CMDB")
"$S" look --host 198.18.65.1 --cmdb "postgresql:///no_such_db?host=$host&user=shawk" >/dev/null 2>"$tmp/err"
one_line "missing database: exit 1, named" $? 1 "$tmp/err" 'database "no_such_db" does not exist'
"$S" look --host 198.18.65.1 --cmdb "postgresql:///postgres?host=$host&user=no_such_role" >/dev/null 2>"$tmp/err"
one_line "missing role: exit 1, named" $? 1 "$tmp/err" 'role "no_such_role" does not exist'

# --- Echoed input: control characters escaped. ---------------------------
"$S" look --host $'198.18.65.1\e[31m' --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
check "control characters in an echoed argument are escaped" bash -c "! grep -q \$'\\e' '$tmp/err' && grep -q '198.18.65.1?\\[31m' '$tmp/err'"

finish
