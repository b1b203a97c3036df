#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Processes born during a scan (issue 18): a process forked after a poll
# read its pid list, whose connection is in that poll's socket dump, must
# still be found as its owner (procmap lists /proc again for sockets no
# listed process holds). Before, its sockets were left ownerless and not
# searched again for 30 scans: 0.45% of the connections of short-lived
# processes were counted in an ownerless flow (issue 18), 42 of 600 (7%)
# of this test's with the sock_diag backend on a loaded 2-core host.
#
# A client in its own netns forks a child every NB_GAP seconds (NB_CONNS
# in all); each child connects to a server in another netns, holds the
# connection NB_HOLD seconds and exits. The polling agent (100 ms scans,
# JSON output) must count every connection once (the hold is 20 scans:
# none can fall between two) and every one under its process group,
# none in an ownerless flow. No tolerance: the owner is alive from before
# its socket is dumped until long after the scan that first sees it, so
# no kernel race can hide it (the one real race, an owner exiting between
# the dump and the fd walk, needs a scan longer than the hold).
# Both polling backends: sock_diag + /proc fd walk, and the BPF iterators
# (their owner search sees every process; skipped when BPF does not work).
# What a scan stall does instead (a 1.5 s SIGSTOP of the agent, 1 s holds):
# 23 of 600 connections lived entirely inside it and were not counted
# (577 counted, 1 of them ownerless: seen only while closing). The run
# prints the largest scan gap, so such a failure names its cause.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
require_root
. tests/integration/lib/bridge.sh

conns=${NB_CONNS:-600}
gap=${NB_GAP:-0.025}
hold=${NB_HOLD:-2.0}
SW=shawk-nb-sw-$$ SRV=shawk-nb-srv-$$ CLI=shawk-nb-cli-$$
NET=198.18.63
PORT=9263
tmp=$(mktemp -d)
pids=()
trap 'cleanup_run "$tmp" "$SRV" "$CLI" "$SW"' EXIT

bridge_hosts "$SW" nb "$SRV:$NET.11" "$CLI:$NET.12" || skip "cannot create network namespaces"
cli_ns=$(stat -Lc %i "/run/netns/$CLI")

cat >"$tmp/server.py" <<'PY'
import socket, sys, threading
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1024)
def serve(c):
    while c.recv(64):
        pass
    c.close()
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
# (ip netns exec execs python: $! is the server itself, killed at exit.)
ip netns exec "$SRV" python3 "$tmp/server.py" "$NET.11" "$PORT" &
pids+=($!)
wait_for bash -c "ip netns exec $SRV ss -Htln 'sport = :$PORT' | grep -q ." ||
	{ not_ok "server listens"; finish; }

# The client: one short-lived child process per connection. Writes how
# many connected (a child that could not connect exits 1).
cat >"$tmp/client.py" <<'PY'
import os, socket, sys, time
addr, port, n, gap, hold, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
made = failed = 0
def reap(block):
    global made, failed
    while True:
        try:
            pid, st = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.waitstatus_to_exitcode(st) == 0:
            made += 1
        else:
            failed += 1
for i in range(n):
    if os.fork() == 0:
        try:
            s = socket.create_connection((addr, port), timeout=5)
            t0 = time.time()
            time.sleep(hold)
            s.close()
            with open(out + ".life", "a") as f:
                f.write("%.3f %.3f\n" % (t0, time.time()))
            os._exit(0)
        except Exception:
            os._exit(1)
    time.sleep(gap)
    reap(False)
reap(True)
open(out, "w").write("%d %d\n" % (made, failed))
PY

# run NAME [VAR=VALUE...]: one agent, one round of the client.
run() {
	local name=$1
	shift
	rm -f "$tmp/made" "$tmp/made.life"
	env "$@" "$SHAWK_BIN" probe --mode polling --output json --log-level debug \
		--interval 100ms --flush-interval 1s >"$tmp/$name.json" 2>"$tmp/$name.err" &
	probe_pid=$!
	wait_for test -s "$tmp/$name.json" || { not_ok "$name: first flush"; return; }
	ip netns exec "$CLI" python3 "$tmp/client.py" "$NET.11" "$PORT" "$conns" "$gap" "$hold" "$tmp/made"
	sleep 2.5 # two flushes after the last connection closed
	kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
	local made failed
	read -r made failed <"$tmp/made" || { not_ok "$name: client ran"; return; }
	check "$name: the client made $made connections of $conns (failed $failed)" \
		test "$made" -eq "$conns"
	local total ownerless pgids
	read -r total ownerless pgids < <(python3 - "$tmp/$name.json" "$cli_ns" "$PORT" <<'PY'
import json, sys
ns, port = int(sys.argv[2]), int(sys.argv[3])
total = ownerless = 0
pgids = {}
for l in open(sys.argv[1]):
    if not l.strip():
        continue
    for f in json.loads(l)["flows"]:
        if f.get("netns") != ns or f.get("direction") != "active" or \
           (f.get("peer") or {}).get("port") != port:
            continue
        n = f["new_connections"]
        total += n
        p = f.get("process") or {}
        if not p.get("pgid"):
            ownerless += n
        else:
            pgids[p["pgid"]] = pgids.get(p["pgid"], 0) + n
print(total, ownerless, ",".join("%s:%d" % kv for kv in sorted(pgids.items())) or "-")
PY
	)
	echo "# $name: counted $total new, $ownerless ownerless, by pgid $pgids"
	# Polling sees a connection alive at a scan: one that lived entirely
	# between two scans (a scan stall longer than the hold) is missed, or
	# seen only while closing, ownerless. Not an attribution failure: say
	# so when it happened (scan times: the agent's "scan:" debug lines).
	python3 - "$tmp/$name.err" "$tmp/made.life" "$name" <<'PY'
import bisect, datetime, re, sys
scans = []
for l in open(sys.argv[1]):
    m = re.match(r"(\S+)Z shawk debug: scan: ", l)
    if m:
        scans.append(datetime.datetime.fromisoformat(m.group(1)).replace(
            tzinfo=datetime.timezone.utc).timestamp())
life = [tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip()]
if scans and life:
    lo, hi = min(a for a, _ in life), max(b for _, b in life)
    during = [t for t in scans if lo - 1 <= t <= hi + 1]
    gap = max((b - a for a, b in zip(during, during[1:])), default=0)
    between = sum(bisect.bisect_left(scans, a) == bisect.bisect_right(scans, b)
                  for a, b in life)
    print("# %s: largest scan gap while the client ran %.3f s; %d connections "
          "lived entirely between two scans%s" % (sys.argv[3], gap, between,
          " (a scan stall longer than the hold: polling cannot see those)"
          if between else ""))
PY
	check "$name: every connection counted once ($total of $made)" test "${total:-x}" = "$made"
	check "$name: none in an ownerless flow ($ownerless of $total)" test "${ownerless:-x}" = 0
}

run sockdiag SHAWK_POLL_BACKEND=sockdiag
no_bpf=$(bpf_unsupported)
if [ -n "$no_bpf" ]; then
	echo "# bpf-iter backend not run: $no_bpf"
else
	run bpf-iter SHAWK_POLL_BACKEND=bpf-iter
fi
finish
