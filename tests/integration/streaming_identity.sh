#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One socket, one connection, whichever path reported it. The kernel makes
# a socket's cookie on first request; the streaming agent's polls walk
# every fd with a BPF iterator that reads the cookie field (the verifier
# refuses the helper there), so a connection held from before the agent
# comes with cookie 0 at first. Once a sock_diag dump made its cookie (here
# `ss`, in the field the poller's own sock_diag or per-netns fallback when
# a netns churns), later polls report the cookie: the flow table must still
# know it (seen in each interval, new once), with the BTF tracepoint and
# in-kernel aggregates as with the classic hooks. The agent's debug log
# proves the case ran: its seed saw each side without a cookie, a later
# poll moved the connection to the cookie. Nothing on a quiet host makes
# the cookies before the seed (the fd walk only reads the field; events,
# which do make it, come only for connections established after the
# agent started), so a seed that saw one fails the test; only another
# shawk agent polling the host (its dumps make every socket's cookie) turns
# that into a SKIP naming it. tests/test_flow.c checks the flow table's
# side deterministically.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
require_root

no_bpf=$(bpf_unsupported)
[ -n "$no_bpf" ] && skip "$no_bpf"

. tests/integration/lib/bridge.sh

SW=shawk-sid-sw-$$ SRV=shawk-sid-srv-$$ CLI=shawk-sid-cli-$$
NET=198.18.63
tmp=$(mktemp -d)
pids=()
unproven=()
trap 'cleanup_run "$tmp" "$SRV" "$CLI" "$SW"' EXIT

bridge_hosts "$SW" sid "$SRV:$NET.1" "$CLI:$NET.2" || skip "cannot create network namespaces"
srv_ns=$(stat -Lc %i "/run/netns/$SRV")
cli_ns=$(stat -Lc %i "/run/netns/$CLI")

# run MODE_NAME [VAR=VALUE...]: a held connection opened before the agent,
# cookies made after its seed poll; checks both sides in 3 intervals.
run() {
	local name=$1 port=$2
	shift 2
	ip netns exec "$SRV" python3 -c '
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[2], int(sys.argv[1])))
l.listen(8)
c, _ = l.accept()
time.sleep(30)' "$port" "$NET.1" &
	pids+=($!)
	# (ss lists the listener only: the held sockets keep no cookie.)
	wait_for bash -c "ip netns exec $SRV ss -Htln 'sport = :$port' | grep -q ." ||
		not_ok "$name: server listens"
	ip netns exec "$CLI" python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[3], int(sys.argv[2])))
open(sys.argv[1], "w").close()
time.sleep(30)' "$tmp/held-$name" "$port" "$NET.1" &
	pids+=($!)
	wait_for test -f "$tmp/held-$name" || not_ok "$name: held connection opened"
	env "$@" "$SHAWK_BIN" probe --mode streaming --output json --log-level debug \
		--interval 200ms --flush-interval 2s >"$tmp/$name.json" 2>"$tmp/$name.err" &
	probe_pid=$!
	# The seed poll ran before the first flush.
	wait_for test -s "$tmp/$name.json" || not_ok "$name: first flush"
	ip netns exec "$CLI" ss -tn >/dev/null
	ip netns exec "$SRV" ss -tn >/dev/null
	sleep 4.5
	kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
	# The fd walk served both netns (else a per-netns walk made the
	# cookies before the seed saw them and this run proves less).
	local fb
	fb=$(grep -cE "fd walk: netns ($srv_ns|$cli_ns):" "$tmp/$name.err")
	echo "# $name: fd walk fell back for the test netns $fb times"
	# What this test exists for, from the agent's debug log (core/flow.c
	# conn_upsert(), ports "local -> remote"): its seed saw each side's
	# socket without a cookie, and the poll after `ss` saw it with one
	# and moved the connection to it.
	local side ns ports others
	others=$(pgrep -d, -x shawk)
	for side in "client $cli_ns [0-9]+ -> $port" "server $srv_ns $port -> [0-9]+"; do
		read -r side ns ports <<<"$side"
		if ! grep -qE "flow: netns $ns, ports $ports: first seen without a cookie" "$tmp/$name.err"; then
			# Only another agent polling this host (sock_diag or
			# iterators) makes every socket's cookie first; nothing
			# else on a quiet host does.
			if [ -n "$others" ]; then
				unproven+=("$name: the $side socket had a cookie before the agent's seed poll (fd walk fell back $fb times for the test netns; other shawk processes on the host: $others)")
			else
				not_ok "$name: the seed poll saw the $side socket without a cookie (fd walk fell back $fb times for the test netns)"
			fi
			continue
		fi
		grep -qE "flow: netns $ns, ports $ports: cookie [0-9]+ made after first sight, moved from inode" "$tmp/$name.err"
		check "$name: the $side socket's late cookie reached the flow table (moved from its inode)" test $? -eq 0
	done
	local l n=0
	while IFS= read -r l; do
		n=$((n + 1))
		case $l in
		"ok - "*) ok "${l#ok - }" ;;
		*) not_ok "${l#not ok - }" ;;
		esac
	done < <(python3 - "$tmp/$name.json" "$cli_ns" "$srv_ns" "$name" "$port" <<'PY'
import json, sys
# One JSON object per flush, its flows under "flows".
lines = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()][:3]
cli_ns, srv_ns, name, port = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
for side, ns, dirn, key in (("client", cli_ns, "active", "peer"),
                            ("server", srv_ns, "passive", "local")):
    got = [[(f["connections"], f["new_connections"]) for f in l
            if f.get("netns") == ns and f.get("direction") == dirn
            and isinstance(f.get(key), dict) and f[key].get("port") == port]
           for l in lines]
    want = [[(1, 1)], [(1, 0)], [(1, 0)]]
    print(("ok - " if got == want else "not ok - ") +
          "%s: held connection at the %s: in each interval, new once "
          "(connections, new): %s" % (name, side, got))
PY
	)
	[ "$(grep -c . "$tmp/$name.json")" -ge 3 ] || not_ok "$name: three flushes"
	[ "$n" -eq 2 ] || not_ok "$name: the checker read the probe's JSON"
}

run btf 9100
run classic 9101 SHAWK_BPF_CLASSIC=1
# Another agent on the host made the cookies: the case could not be built.
[ "$failures" -eq 0 ] && [ ${#unproven[@]} -gt 0 ] &&
	skip "late cookies not exercised, the checks above prove less: $(printf '%s; ' "${unproven[@]}")"
finish
