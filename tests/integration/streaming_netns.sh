#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Streaming mode end to end: two network namespaces joined by a veth pair,
# servers that accept and close, clients making thousands of connections
# each shorter than a millisecond (IPv4, IPv6) and connected UDP sockets.
# `shawk probe --mode streaming` summed over its JSON lines must count every
# connection exactly once on both sides, the passive side attributed to the
# server process and the active side to the client process.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
require_root
command -v cc >/dev/null || skip "needs a C compiler for the test peers"

N4=${SHAWK_IT_CONNS:-2000} N6=${SHAWK_IT_CONNS6:-2000} NU=${SHAWK_IT_UDP:-300}
SRV=shawk-st-srv-$$ CLI=shawk-st-cli-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	[ -n "${probe_pid:-}" ] && kill "$probe_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	# Servers are grandchildren (ip netns exec): found by our binary path.
	pkill -f "$tmp/connburst" 2>/dev/null
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/connburst" tests/integration/lib/connburst.c || skip "cannot build the test peers"
B=$tmp/connburst

# Can this machine stream at all? (BPF needs root, BTF, cgroup v2.)
"$SHAWK_BIN" probe --mode streaming --output none --interval 100ms >"$tmp/probe0" 2>&1 &
p0=$!
sleep 0.5
kill -TERM $p0 2>/dev/null
wait $p0
rc0=$?
# Only a machine without BPF may skip; where it runs, not starting fails.
no_bpf=$(bpf_unsupported)
if [ -n "$no_bpf" ] && grep -q "streaming mode cannot start" "$tmp/probe0"; then
	skip "$no_bpf: $(sed -n 's/.*streaming mode cannot start: //p' "$tmp/probe0" | head -1)"
fi
check "streaming probe can start here" bash -c "! grep -q 'streaming mode cannot start' $tmp/probe0"
check "streaming probe starts and stops cleanly (exit $rc0)" test "$rc0" -eq 0

netns_pair "$SRV" "$CLI" vst 198.18.1 fd00:5b || skip "cannot create network namespaces"

# The agent first: the servers' listen() and bind() are then seen too.
# Without the conntrack stage (no NAT here), so that every connection is
# counted in the kernel from the first (with the stage, a peer's first
# connections come as events until the stage vouches for it: see
# services_netns.sh). The check at the end says which path counted them.
"$SHAWK_BIN" probe --mode streaming --conntrack off --output json --interval 200ms --flush-interval 1s >"$tmp/out.json" 2>"$tmp/err" &
probe_pid=$!
wait_for grep -q "streaming from eBPF" "$tmp/err" || { not_ok "streaming probe started"; cat "$tmp/err"; finish; }
if [ "${SHAWK_BPF_CLASSIC:-}" = 1 ] || [[ ",${SHAWK_BPF_DENY:-}," = *,shawk_tcp_state,* ]]; then
	check "classic hooks forced: agent says it uses them" grep -q "using sockops and the classic tracepoint" "$tmp/err"
fi
# Every program runs unless the test refuses some (SHAWK_BPF_DENY): then
# exactly those are off and the agent says so.
check "no BPF program refused by the kernel" bash -c "! grep -q 'refused by the kernel' $tmp/err"
attached=$(sed -n 's/.*streaming: BPF programs attached: //p' "$tmp/err" | head -1)
for prog in shawk_connect4 shawk_connect6 shawk_sendmsg4 shawk_sendmsg6 shawk_recvmsg4 shawk_recvmsg6 shawk_sock_release; do
	case ",${SHAWK_BPF_DENY:-}," in
	*",$prog,"*) check "$prog off as SHAWK_BPF_DENY asks" bash -c "case ', $attached,' in *', $prog,'*) exit 1;; esac" ;;
	*) check "$prog attached" bash -c "case ', $attached,' in *', $prog,'*) exit 0;; esac; exit 1" ;;
	esac
done
record_poll_log "$tmp/err"

ip netns exec "$SRV" "$B" shawk-st-srv4 tcp-server 198.18.1.1 9000 "$tmp/r4" &
pids+=($!)
ip netns exec "$SRV" "$B" shawk-st-srv6 tcp-server fd00:5b::1 9443 "$tmp/r6" &
pids+=($!)
ip netns exec "$SRV" "$B" shawk-st-srvu udp-server 198.18.1.1 5300 "$tmp/ru" &
pids+=($!)
ip netns exec "$SRV" "$B" shawk-st-srvu6 udp-server fd00:5b::1 5301 "$tmp/ru6" &
pids+=($!)
wait_for test -f "$tmp/r4" && wait_for test -f "$tmp/r6" && wait_for test -f "$tmp/ru" &&
	wait_for test -f "$tmp/ru6" ||
	{ not_ok "servers started"; finish; }

start=$(date +%s%N)
ip netns exec "$CLI" "$B" shawk-st-cli4 tcp-client 198.18.1.1 9000 "$N4" &
c4=$!
ip netns exec "$CLI" "$B" shawk-st-cli6 tcp-client fd00:5b::1 9443 "$N6" &
c6=$!
ip netns exec "$CLI" "$B" shawk-st-cliu udp-client 198.18.1.1 5300 "$NU" >"$tmp/uports" &
cu=$!
ip netns exec "$CLI" "$B" shawk-st-cliu6 udp-client fd00:5b::1 5301 "$NU" >"$tmp/uports6" &
cu6=$!
wait $c4; r4=$?
wait $c6; r6=$?
wait $cu; ru=$?
wait $cu6; ru6=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "clients ran (tcp4 $r4, tcp6 $r6, udp $ru, udp6 $ru6; ${ms}ms for $N4+$N6 tcp)" test $((r4 + r6 + ru + ru6)) -eq 0
avg_us=$(( ms * 1000 / (N4 > N6 ? N4 : N6) ))
# Process start-up dominates small runs: judge the duration on big ones.
[ "$N4" -ge 1000 ] && check "each connection lasted under a millisecond on average (${avg_us}us)" test "$avg_us" -lt 1000

# The server sees one UDP peer per distinct client port.
NUP=$(sort -u "$tmp/uports" | wc -l)
NUP6=$(sort -u "$tmp/uports6" | wc -l)
srv_ns=$(stat -L -c %i "/run/netns/$SRV")
cli_ns=$(stat -L -c %i "/run/netns/$CLI")
srv4_pid=$(pgrep -x shawk-st-srv4 | head -1)
srv6_pid=$(pgrep -x shawk-st-srv6 | head -1)
srvu_pid=$(pgrep -x shawk-st-srvu | head -1)
srvu6_pid=$(pgrep -x shawk-st-srvu6 | head -1)

# Two flushes after the last connection: every event is drained.
sleep 2.2
kill -TERM "$probe_pid"
wait "$probe_pid"
check "streaming probe exits 0 on SIGTERM" test $? -eq 0
probe_pid=
check "no event lost" bash -c "! grep -q 'events lost' $tmp/err"
check "no error logged" bash -c "! grep -q ' error: ' $tmp/err"

python3 - "$tmp/out.json" "$srv_ns" "$cli_ns" "$N4" "$N6" "$NU" "$NUP" "$srv4_pid" "$srv6_pid" "$srvu_pid" "$c4" "$c6" "$cu" "$NUP6" "$srvu6_pid" "$cu6" <<'PY'
import json, sys
lines = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()]
srv_ns, cli_ns, n4, n6, nu, nup = (int(x) for x in sys.argv[2:8])
srv4, srv6, srvu, c4, c6, cu = (int(x) for x in sys.argv[8:14])
nup6, srvu6, cu6 = (int(x) for x in sys.argv[14:17])
flows = [f for l in lines for f in l]

def check(name, cond, detail=""):
    print(("ok - " if cond else "not ok - ") + name)
    if not cond and detail:
        print("# " + detail)

def side(name, want, n, comm, pid):
    got = [f for f in flows if all(want[k](f) for k in want)]
    total = sum(f["connections"] for f in got)
    news = sum(f["new_connections"] for f in got if "new_connections" in f)
    check("%s: %d connections counted (got %d)" % (name, n, total), total == n,
          json.dumps(got)[:600])
    bad = [f for f in got if f["process"] is None or f["process"]["name"] != comm]
    check("%s: every flow attributed to %s" % (name, comm), got and not bad,
          json.dumps(bad)[:600])
    pids = {f["process"]["pid"] for f in got if f["process"]}
    check("%s: pid %d" % (name, pid), pids == {pid}, "pids %s" % pids)

ns = lambda v: (lambda f: f["netns"] == v)
eq = lambda path, v: (lambda f: dig(f, path) == v)
def dig(f, path):
    for p in path.split("."):
        f = f[p]
    return f

side("tcp4 passive at the server",
     dict(n=ns(srv_ns), d=eq("direction", "passive"), p=eq("proto", "tcp"),
          l=eq("local.addr", "198.18.1.1"), lp=eq("local.port", 9000),
          r=eq("peer.addr", "198.18.1.2"), rp=eq("peer.port", 0)),
     n4, "shawk-st-srv4", srv4)
side("tcp4 active at the client",
     dict(n=ns(cli_ns), d=eq("direction", "active"), p=eq("proto", "tcp"),
          l=eq("local.addr", "198.18.1.2"), lp=eq("local.port", 0),
          r=eq("peer.addr", "198.18.1.1"), rp=eq("peer.port", 9000)),
     n4, "shawk-st-cli4", c4)
side("tcp6 passive at the server",
     dict(n=ns(srv_ns), d=eq("direction", "passive"), p=eq("proto", "tcp"),
          l=eq("local.addr", "fd00:5b::1"), lp=eq("local.port", 9443),
          r=eq("peer.addr", "fd00:5b::2")),
     n6, "shawk-st-srv6", srv6)
side("tcp6 active at the client",
     dict(n=ns(cli_ns), d=eq("direction", "active"), p=eq("proto", "tcp"),
          l=eq("local.addr", "fd00:5b::2"), r=eq("peer.addr", "fd00:5b::1"),
          rp=eq("peer.port", 9443)),
     n6, "shawk-st-cli6", c6)
side("udp passive at the server (one per distinct client port)",
     dict(n=ns(srv_ns), d=eq("direction", "passive"), p=eq("proto", "udp"),
          l=eq("local.addr", "198.18.1.1"), lp=eq("local.port", 5300),
          r=eq("peer.addr", "198.18.1.2")),
     nup, "shawk-st-srvu", srvu)
side("udp active at the client (local address known)",
     dict(n=ns(cli_ns), d=eq("direction", "active"), p=eq("proto", "udp"),
          l=eq("local.addr", "198.18.1.2"), r=eq("peer.addr", "198.18.1.1"),
          rp=eq("peer.port", 5300)),
     nu, "shawk-st-cliu", cu)
side("udp6 passive at the server (one per distinct client port)",
     dict(n=ns(srv_ns), d=eq("direction", "passive"), p=eq("proto", "udp"),
          l=eq("local.addr", "fd00:5b::1"), lp=eq("local.port", 5301),
          r=eq("peer.addr", "fd00:5b::2")),
     nup6, "shawk-st-srvu6", srvu6)
# The local address of a connected UDP6 socket comes from its release
# (cgroup/sock_release), which once copied only its first byte ("::").
side("udp6 active at the client (local address known)",
     dict(n=ns(cli_ns), d=eq("direction", "active"), p=eq("proto", "udp"),
          l=eq("local.addr", "fd00:5b::2"), r=eq("peer.addr", "fd00:5b::1"),
          rp=eq("peer.port", 5301)),
     nu, "shawk-st-cliu6", cu6)
ours = [f for f in flows if f["netns"] in (srv_ns, cli_ns)]
odd = [f for f in ours if f["connections"] == 0 or f["local"]["addr"] in ("0.0.0.0", "::")]
check("no empty or wildcard flows in the test namespaces", not odd, json.dumps(odd)[:600])
check("one JSON line per flush (%d lines)" % len(lines), len(lines) >= 3)
PY

# Where the connections were counted: in the kernel (aggregate maps) with
# the BTF tracepoint, one event each with the classic hooks or
# SHAWK_BPF_AGGREGATE=0 (streaming_events.sh).
kern=$(sed -n 's/.* \([0-9]*\) connections counted in the kernel.*/\1/p' "$tmp/err" | tail -1)
classic=${SHAWK_BPF_CLASSIC:-0}
case ",${SHAWK_BPF_DENY:-}," in *,shawk_tcp_state,*) classic=1 ;; esac
if [ "$classic" = 1 ] || [ "${SHAWK_BPF_AGGREGATE:-}" = 0 ]; then
	check "connections came as events (${kern:-?} counted in the kernel)" test "${kern:-x}" = 0
else
	check "connections counted in the kernel (${kern:-?} >= $((2 * (N4 + N6)))" test "${kern:-0}" -ge $((2 * (N4 + N6)))
fi

# A connection opened before the agent and held across intervals: the seed
# reports it, and it shows in each later interval (resync poll) while
# new_connections counts it once.
# The burst servers accept and close: a client socket to them sits in
# CLOSE-WAIT, no live connection (counted once, never again). Held
# connections need a server that holds them.
ip netns exec "$SRV" python3 -c '
import socket, sys, time
ls = []
for fam, addr, port in ((socket.AF_INET, "198.18.1.1", 9100), (socket.AF_INET6, "fd00:5b::1", 9543)):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(8)
    ls.append(s)
open(sys.argv[1], "w").close()
held = []
import select
while True:
    r, _, _ = select.select(ls, [], [], 40)
    if not r:
        break
    held += [s.accept()[0] for s in r]' "$tmp/holdsrv" &
pids+=($!)
wait_for test -f "$tmp/holdsrv" || not_ok "holding server started"
ip netns exec "$CLI" python3 -c '
import socket, sys, time
s = socket.create_connection(("198.18.1.1", 9100))
open(sys.argv[1], "w").close()
time.sleep(30)' "$tmp/held" &
pids+=($!)
wait_for test -f "$tmp/held" || not_ok "held connection opened"
# Flushes every 2s: the resync poll (first scan of each interval) may take a
# few hundred ms on a host with many sockets.
"$SHAWK_BIN" probe --mode streaming --output json --interval 200ms --flush-interval 2s >"$tmp/held.json" 2>"$tmp/held.err" &
probe_pid=$!
# Another one opened once the agent runs (counted in the kernel, not by
# the seed) and held: new in its interval, then in each later one.
sleep 1
ip netns exec "$CLI" python3 -c '
import socket, sys, time
s = socket.create_connection(("fd00:5b::1", 9543))
open(sys.argv[1], "w").close()
time.sleep(30)' "$tmp/held2" &
pids+=($!)
sleep 5.5
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
test -f "$tmp/held2" || not_ok "second held connection opened"
python3 - "$tmp/held.json" "$cli_ns" <<'PY'
import json, sys
lines = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()]
cli_ns = int(sys.argv[2])
per = [[f for f in l if f["netns"] == cli_ns and f["direction"] == "active"
        and f["peer"]["port"] == 9100 and f["process"] and f["process"]["name"] == "python3"]
       for l in lines[:3]]
ok = len(per) == 3 and all(len(p) == 1 and p[0]["connections"] == 1 for p in per)
print(("ok - " if ok else "not ok - ") + "held connection (seeded) in each interval: %s" % [[f["connections"] for f in p] for p in per])
news = [p[0]["new_connections"] for p in per if p]
print(("ok - " if news == [1, 0, 0] else "not ok - ") + "held connection new once: %s" % news)
per2 = [[f for f in l if f["netns"] == cli_ns and f["direction"] == "active"
         and f["peer"]["port"] == 9543 and f["process"] and f["process"]["name"] == "python3"]
        for l in lines[:3]]
got = [[(f["connections"], f["new_connections"]) for f in p] for p in per2]
print(("ok - " if got == [[(1, 1)], [(1, 0)], [(1, 0)]] else "not ok - ") +
      "connection opened after the start and held: new in its interval, then in each one: %s" % got)
if not ok:
    for l in lines:
        print("# line: %s" % [(f["direction"], f["local"], f["peer"], f["connections"], f["process"]) for f in l if f["netns"] == cli_ns])
PY

finish
