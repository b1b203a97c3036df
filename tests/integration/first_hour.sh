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
pg_require

tmp=$(mktemp -d)
cleanup() {
	[ -n "${serve_pid:-}" ] && kill "$serve_pid" 2>/dev/null
	wait 2>/dev/null
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
pg_test_db
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
for cmd in "probe --interval" "create-scheme --target" "health --max-age" "list --since"; do
	# shellcheck disable=SC2086 # cmd is words
	"$S" $cmd $'1\e[31m' --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
	rc=$?
	check "$cmd: control characters escaped, exit 2" bash -c "[ $rc -eq 2 ] && ! grep -q \$'\\e' '$tmp/err' && grep -q '1?\\[31m' '$tmp/err'"
done

# --- Command line conventions. -------------------------------------------
"$S" version >"$tmp/v" 2>&1
check "shawk version: version, commit, schema, kernel" bash -c "grep -q '^shawk [0-9].*(commit ' '$tmp/v' && grep -q 'CMDB schema: writes version $(ls sql/*.sql | wc -l)' '$tmp/v' && grep -q '^kernel: ' '$tmp/v'"
check "shawk --version is shawk version" bash -c "'$S' --version | head -1 | grep -q '^shawk [0-9]'"
check "shawk help look is shawk look --help" bash -c "diff <('$S' help look) <('$S' look --help)"
"$S" help nosuch >/dev/null 2>"$tmp/err"
one_line "shawk help nosuch: exit 2, one line" $? 2 "$tmp/err" "unknown command 'nosuch'"
for c in probe list serve create-scheme health; do
	check "shawk help $c prints its usage" bash -c "'$S' help $c | grep -q '^Usage: shawk $c'"
done
# Completion: commands, each command's flags from its --help, list kinds.
comp() { # comp WORDS... : what completes the last word
	bash -c 'eval "$("$0" completion bash)"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _shawk; echo "${COMPREPLY[*]}"' "$S" "$@"
}
check "completion: commands" test "$(comp shawk li)" = "list"
check "completion: look's flags from its --help" test "$(comp "$S" look --sta)" = "--stale"
check "completion: probe's flags from its option table" test "$(comp "$S" probe --flush)" = "--flush-interval"
check "completion: list kinds" test "$(comp "$S" list wo)" = "workloads"
"$S" completion fish >/dev/null 2>"$tmp/err"
one_line "completion fish: exit 2, one line" $? 2 "$tmp/err" "expected bash or zsh"

"$S" look -o yaml --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look -o yaml: exit 2, one line" $? 2 "$tmp/err" "invalid --output 'yaml'"
"$S" look 1.2.3.4 5.6.7.8 --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look with two positional selectors: exit 2" $? 2 "$tmp/err" "unexpected argument"
"$S" look 1.2.3.4 --host 5.6.7.8 --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look with a positional and a flag selector: exit 2" $? 2 "$tmp/err" "exactly one selector"

# --- An empty CMDB: say how to fill it. ------------------------------------
"$S" create-scheme --cmdb "$CMDB" >/dev/null || { not_ok "create-scheme"; finish; }
"$S" look --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "look on an empty CMDB: exit 1, names shawk probe" $? 1 "$tmp/err" "shawk probe"
"$S" list --cmdb "$CMDB" >/dev/null 2>"$tmp/err"
one_line "list on an empty CMDB: exit 1, names shawk probe" $? 1 "$tmp/err" "shawk probe"
check "list -o json on an empty CMDB: four empty arrays" test "$("$S" list --cmdb "$CMDB" -o json)" = '{"hosts":[],"pods":[],"namespaces":[],"workloads":[]}'
SHAWK_CMDB_URL=$CMDB "$S" probe --once -o json --log-level error >"$tmp/once.json" 2>"$tmp/err"
check "probe --once with only SHAWK_CMDB_URL prints (JSON array)" python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)' "$tmp/once.json"
check "...and writes nothing" test "$(psql_val "SELECT count(*) FROM flows")" = 0

# --- make run on a host with a netns scene (root only). -------------------
if [ "$(id -u)" -ne 0 ] || ! ip netns add "shawk-fh-probe-$$" 2>/dev/null; then
	skip_check "make run with a netns scene" "needs root and network namespaces"
	finish
fi
ip netns del "shawk-fh-probe-$$"
P=shawk-fh-$$ NET=198.18.65
export SHAWK_RUN_PREFIX=$P SHAWK_RUN_NET=$NET SHAWK_RUN_SCENE_DIR=$tmp/scene
# `look --since` reads the history, exact to its bucket (issue 19): with
# the default minute the first run's edges, a second before t2, would be
# in the window too. One-second buckets keep the two runs apart.
export SHAWK_HISTORY_BUCKET=1s
for run in 1 2; do
	# The checks below look at the second run's flows only (--since).
	[ $run = 2 ] && sleep 1.1 && t2=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	SHAWK_CMDB_URL=$CMDB SHAWK_BIN=$S timeout 120 bash scripts/run.sh >"$tmp/run$run.out" 2>"$tmp/run$run.err"
	check "make run #$run exits 0" test $? -eq 0
	check "make run #$run: no netns left behind" bash -c "! ip netns list | grep -q '^$P-'"
done
sed -E 's/pgid=[0-9]+/pgid=N/; s/([0-9]+[smhd] ago|just now)/AGO/' "$tmp/run1.out" >"$tmp/run.norm"
cat >"$tmp/api.want" <<EOT
$NET.2:8080 ('shawk-api', pgid=N)
├<-- $NET.1:many ('shawk-web', pgid=N)  [tcp 3 conns, AGO]
└--> $NET.3:5432 ('shawk-db', pgid=N)  [tcp 2 conns, AGO]
EOT
# tree_of FILE: the tree whose root is the first line of $tmp/api.want.
tree_of() { grep -A2 -xF "$(head -1 "$tmp/api.want")" "$1" | head -3 | diff - "$tmp/api.want"; }
check "make run (first, on a fresh CMDB) shows the scene's map" tree_of "$tmp/run.norm"
check "make run lists the scene's hosts" bash -c "grep -q '^$NET.1 *shawk-web' '$tmp/run2.out' && grep -q '^$NET.3 *shawk-db *tcp/5432' '$tmp/run2.out'"
check "make run points at shawk serve" grep -q 'shawk serve' "$tmp/run2.out"
check "make run: nothing on stderr but the probe's --once note" bash -c "! grep -v 'writing the flows to the CMDB' '$tmp/run2.err'"

# The recorded scene, through look and list.
export SHAWK_CMDB_URL=$CMDB
lk() { "$S" look --since "$t2" "$@" 2>&1 | sed -E 's/pgid=[0-9]+/pgid=N/; s/([0-9]+[smhd] ago|just now)/AGO/'; }
lk >"$tmp/all"
check "look without a selector: the api tier's tree is there" tree_of "$tmp/all"
check "look without a selector: roots separated by a blank line" bash -c "'$S' look | grep -q '^\$'"
check "look ADDRESS (positional) is look --host ADDRESS" bash -c "diff <('$S' look $NET.2 | sed -E 's/[0-9]+[smhd] ago|just now//') <('$S' look --host $NET.2 | sed -E 's/[0-9]+[smhd] ago|just now//')"
out=$(lk $NET.1 --depth 2)
want="$NET.1:many ('shawk-web', pgid=N)
└--> $NET.2:8080 ('shawk-api', pgid=N)  [tcp 3 conns, AGO]
     └--> $NET.3:5432 ('shawk-db', pgid=N)  [tcp 2 conns, AGO]"
check "look web --depth 2: the chain" test "$out" = "$want"
[ "$out" = "$want" ] || printf '%s\n' "$out" | sed 's/^/# /'
check "look -o json: connections 3 on web -> api" python3 -c '
import json, subprocess, sys
g = json.loads(subprocess.check_output([sys.argv[1], "look", sys.argv[2], "-o", "json", "--since", sys.argv[3]]))
ids = {n["id"]: n for n in g["nodes"]}
e = [e for e in g["edges"] if ids[e["client"]]["addr"].endswith(".1")]
assert len(e) == 1 and e[0]["connections"] == 3, e
' "$S" "$NET.2" "$t2"
"$S" look $NET.2 -o dot --since "$t2" >"$tmp/dot"
check "look -o dot: labels with units, the same count as the tree" grep -qF 'label="tcp 3 conns"' "$tmp/dot"
check "list hosts -o json: the three tiers with last_seen" python3 -c '
import json, subprocess, sys
h = json.loads(subprocess.check_output([sys.argv[1], "list", "hosts", "-o", "json"]))
by = {x["address"]: x for x in h}
net = sys.argv[2]
assert by[net + ".2"]["processes"] == "shawk-api" and by[net + ".2"]["listening"] == "tcp/8080", by
assert by[net + ".1"]["listening"] is None and by[net + ".1"]["last_seen"].endswith("Z"), by
' "$S" "$NET"
# The daemon's JSON lines: node, window, flows; netns by `ip netns` name.
scripts/scene.sh up "$P" "$NET" "$tmp/scene2" || not_ok "scene up again"
timeout 10 "$S" probe --output json --interval 200ms --flush-interval 1s --node-name fh-node >"$tmp/daemon.json" 2>"$tmp/daemon.err" &
dpid=$!
sleep 2.6
kill -TERM $dpid; wait $dpid
check "daemon -o json exits 0 on SIGTERM" test $? -eq 0
scripts/scene.sh down "$P" "$NET" "$tmp/scene2"
check "daemon -o json lines: node, window, flows, netns names" python3 -c '
import json, sys
ls = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(ls) >= 2, ls
for l in ls:
    assert l["node"] == "fh-node" and set(l) == {"node", "window", "flows"}, l
    assert l["window"]["start"] < l["window"]["end"], l["window"]
assert ls[0]["window"]["end"] == ls[1]["window"]["start"], "windows follow each other"
api = [f for f in ls[0]["flows"] if f["process"]["name"] == "shawk-api" and f["direction"] == "passive"]
assert api and api[0]["netns_name"] == sys.argv[2] + "-api", api
assert api[0]["peer"]["port"] == 0 and api[0]["peer"]["ephemeral"] is True, api
assert api[0]["local"]["port"] == 8080 and "ephemeral" not in api[0]["local"], api
' "$tmp/daemon.json" "$P"

# make demo, twice in a row: the streaming probe (polling where BPF is
# refused) records the app, the tree and an SVG come out, nothing is left.
for run in 1 2; do
	SHAWK_CMDB_URL=$CMDB SHAWK_BIN=$S SHAWK_DEMO_PREFIX=$P-d SHAWK_DEMO_NET=$NET SHAWK_DEMO_DIR=$tmp/demo \
		timeout 120 bash scripts/demo.sh >"$tmp/demo$run.out" 2>"$tmp/demo$run.err"
	check "make demo #$run exits 0" test $? -eq 0
	check "make demo #$run: no netns left behind" bash -c "! ip netns list | grep -q '^$P-d-'"
	sed -E 's/pgid=[0-9]+/pgid=N/; s/([0-9]+[smhd] ago|just now)/AGO/' "$tmp/demo$run.out" >"$tmp/demo.norm"
	cat >"$tmp/chain.want" <<EOT
$NET.1:many ('shawk-web', pgid=N)
└--> $NET.2:8080 ('shawk-api', pgid=N)  [tcp 3 conns, AGO]
     └--> $NET.3:5432 ('shawk-db', pgid=N)  [tcp 2 conns, AGO]
EOT
	check "make demo #$run: the chain web -> api -> db, this run's only" bash -c "grep -A2 -xF \"$NET.1:many ('shawk-web', pgid=N)\" '$tmp/demo.norm' | head -3 | diff - '$tmp/chain.want'"
	check "make demo #$run: an SVG (Graphviz is linked in)" grep -q '<svg' "$tmp/demo/demo.svg"
done

"$S" list nosuch >/dev/null 2>"$tmp/err"
one_line "list nosuch: exit 2, one line" $? 2 "$tmp/err" "unknown kind 'nosuch'"

finish
