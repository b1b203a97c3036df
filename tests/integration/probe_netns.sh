#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two network namespaces joined by a veth pair: a server in one, clients in
# the other (IPv4, IPv6, connected UDP). `shawk probe --once --output json`
# run from the root netns must report the flows on both sides, with the
# right processes, counts and netns.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
require_root

SRV=shawk-it-srv-$$ CLI=shawk-it-cli-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	# The peers are grandchildren (ip netns exec -> bash -> python):
	# find them by the temp dir on their command line.
	pkill -f "$tmp/" 2>/dev/null
	wait_for bash -c "! pgrep -f '$tmp/' >/dev/null"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$SRV" 2>/dev/null
	ip netns del "$CLI" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

netns_pair "$SRV" "$CLI" veth 198.18.0 fd00:5a || skip "cannot create network namespaces"

H=tests/integration/lib/holder.py
ip netns exec "$SRV" bash -c ". tests/integration/lib/common.sh; pyrun shawk-srv $H server $tmp/srv tcp:198.18.0.1:8080 tcp:[fd00:5a::1]:8443 udp:198.18.0.1:5353; wait" &
pids+=($!)
wait_for test -f "$tmp/srv" || { not_ok "server started"; finish; }
ip netns exec "$CLI" bash -c ". tests/integration/lib/common.sh; pyrun shawk-cli-a $H client $tmp/a tcp:198.18.0.1:8080:3; wait" &
pids+=($!)
ip netns exec "$CLI" bash -c ". tests/integration/lib/common.sh; pyrun shawk-cli-b $H client $tmp/b tcp:[fd00:5a::1]:8443:2 udp:198.18.0.1:5353:1; wait" &
pids+=($!)
wait_for test -f "$tmp/a" && wait_for test -f "$tmp/b" || { not_ok "clients connected"; finish; }

srv_ns=$(stat -L -c %i "/run/netns/$SRV")
cli_ns=$(stat -L -c %i "/run/netns/$CLI")
# The pid of this run's peer named COMM (its command line names our $tmp;
# an earlier run's peer may still be exiting).
pid_of() { # COMM: the oldest
	local p
	for p in $(ps -o pid= --sort=start_time -C "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF "$tmp/" && { echo "$p"; return; }
	done
}
srv_pid=$(pid_of shawk-srv)
a_pid=$(pid_of shawk-cli-a)
b_pid=$(pid_of shawk-cli-b)

# Both polling backends must give the same flows: BPF iterators and
# sock_diag with /proc/<pid>/fd walks. Where this machine runs BPF, the
# iterator backend must run, every program of it: its failure fails.
backends="bpf-iter sockdiag"
no_bpf=$(bpf_unsupported)
if [ -n "$no_bpf" ]; then
	backends=sockdiag
	skip_check "[bpf-iter] every check" "$no_bpf"
fi
for backend in $backends; do
	export SHAWK_POLL_BACKEND=$backend
	case $backend in bpf-iter) backend_log="BPF iterators" ;; *) backend_log=sock_diag ;; esac
	"$SHAWK_BIN" probe --once --output json >"$tmp/out.json" 2>"$tmp/err"
	check "[$backend] probe --once --output json exits 0" test $? -eq 0
	check "[$backend] backend in use logged" grep -q "polling via $backend_log" "$tmp/err"
	if [ "$backend" = bpf-iter ]; then
		check "[bpf-iter] no BPF program switched off" bash -c "! grep -q 'switched off' $tmp/err"
		check "[bpf-iter] every iterator by its light skeleton" grep -q "BPF iterators loaded: shawk_iter_tcp (light skeleton), shawk_iter_udp (light skeleton), shawk_iter_task_file (light skeleton), shawk_iter_fd_sock (light skeleton)" "$tmp/err"
		record_poll_log "$tmp/err"
	fi
	record_ran "polling backend: $backend"
	"$SHAWK_BIN" probe --once --output text >"$tmp/out.txt" 2>>"$tmp/err"
	check "[$backend] text output has the v4 passive flow" grep -q "passive tcp 198.18.0.1:8080 <-- 198.18.0.2:many connections=3 ('shawk-srv'" "$tmp/out.txt"

	python3 - "$tmp/out.json" "$srv_ns" "$cli_ns" "$srv_pid" "$a_pid" "$b_pid" "$backend" <<'PY'
import json, os, sys
flows = json.load(open(sys.argv[1]))
srv_ns, cli_ns = int(sys.argv[2]), int(sys.argv[3])
srv_pid, a_pid, b_pid = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
pgid = os.getpgid

def find(**want):
    out = []
    for f in flows:
        if all(get(f, k) == v for k, v in want.items()):
            out.append(f)
    return out

def get(f, path):
    for part in path.split("__"):
        f = f[part]
    return f

def check(name, cond):
    print(("ok - " if cond else "not ok - ") + "[%s] " % sys.argv[7] + name)

cases = [
    ("v4 passive flow at the server", dict(direction="passive", proto="tcp", local__addr="198.18.0.1", local__port=8080, peer__addr="198.18.0.2", peer__port=0), 3, "shawk-srv", srv_pid, srv_ns),
    ("v4 active flow at client a", dict(direction="active", proto="tcp", local__addr="198.18.0.2", local__port=0, peer__addr="198.18.0.1", peer__port=8080), 3, "shawk-cli-a", a_pid, cli_ns),
    ("v6 passive flow at the server", dict(direction="passive", proto="tcp", local__addr="fd00:5a::1", local__port=8443, peer__addr="fd00:5a::2", peer__port=0), 2, "shawk-srv", srv_pid, srv_ns),
    ("v6 active flow at client b", dict(direction="active", proto="tcp", local__addr="fd00:5a::2", local__port=0, peer__addr="fd00:5a::1", peer__port=8443), 2, "shawk-cli-b", b_pid, cli_ns),
    ("udp active flow at client b", dict(direction="active", proto="udp", local__addr="198.18.0.2", peer__addr="198.18.0.1", peer__port=5353), 1, "shawk-cli-b", b_pid, cli_ns),
]
for name, want, conns, comm, pid, ns in cases:
    got = find(netns=ns, **want)
    check(name + ": exactly one flow", len(got) == 1)
    if len(got) != 1:
        print("# got: %s" % json.dumps(got))
        continue
    f = got[0]
    check(name + ": connections=%d" % conns, f["connections"] == conns)
    check(name + ": process %s" % comm, f["process"]["name"] == comm)
    check(name + ": pid", f["process"]["pid"] == pid)
    check(name + ": pgid", f["process"]["pgid"] == pgid(pid))
    check(name + ": netns", f["netns"] == ns)
    check(name + ": container/pod null", f["container"] is None and f["pod"] is None)
    check(name + ": cgroup path", isinstance(f["cgroup"], str) and f["cgroup"].startswith("/"))
# Nothing from the test namespaces may be attributed to a wrong process.
ours = [f for f in flows if f["netns"] in (srv_ns, cli_ns)]
check("no other flows in the test namespaces (%d)" % len(ours), len(ours) == 5)
PY
	check "[$backend] no error logged" bash -c "! grep -q ' error: ' $tmp/err"
done
unset SHAWK_POLL_BACKEND


# The daemon loop: scans every 200ms, flushes every 1s, one JSON line per
# flush; SIGTERM makes one final flush and exits 0. A connection held open
# counts in every interval's `connections` but only once in new_connections.
SHAWK_HEARTBEAT_FILE=$tmp/heartbeat "$SHAWK_BIN" probe --output json --interval 200ms --flush-interval 1s >"$tmp/loop.json" 2>"$tmp/loop.err" &
loop_pid=$!
sleep 2.6
check "shawk health sees the heartbeat of the running probe" "$SHAWK_BIN" health --file "$tmp/heartbeat" --max-age 2s
kill -TERM $loop_pid
wait $loop_pid
check "probe loop exits 0 on SIGTERM" test $? -eq 0
python3 - "$tmp/loop.json" <<'PY'
import json, sys
# Daemon lines: {"node", "window", "flows"} (docs/json.md).
lines = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()]
print(("ok - " if len(lines) >= 3 else "not ok - ") + "one line per flush plus the final one (%d lines)" % len(lines))
def v4(flows):
    return [f for f in flows if f["direction"] == "passive" and f["local"]["addr"] == "198.18.0.1" and f["local"]["port"] == 8080]
per = [v4(l) for l in lines[:2]]
print(("ok - " if all(len(p) == 1 and p[0]["connections"] == 3 for p in per) else "not ok - ") + "held connections counted in each interval")
news = [p[0]["new_connections"] for p in per if p]
print(("ok - " if news == [3, 0] else "not ok - ") + "new_connections counted once across intervals: %s" % news)
PY
check "probe loop logged the final flush" grep -q "final flush" "$tmp/loop.err"
sleep 1.2
check "shawk health fails once the heartbeat is stale" bash -c "! '$SHAWK_BIN' health --file '$tmp/heartbeat' --max-age 1s 2>/dev/null"

# Skipping unchanged netns (on by default in the daemon) must never hide a
# change: a netns is walked in the first scan of each flush interval, then
# reused while its socket counters stay put. A connection opened after that
# first scan (mid-interval) must be in that same interval's flush; once
# closed, it is gone from the next interval's.
"$SHAWK_BIN" probe --mode polling --output json --interval 200ms --flush-interval 2s --log-level debug >"$tmp/skip.json" 2>"$tmp/skip.err" &
skip_pid=$!
lines() { local n; n=$(grep -c . "$tmp/skip.json" 2>/dev/null); echo "${n:-0}"; }
wait_for bash -c "[ \$(cat $tmp/skip.json 2>/dev/null | grep -c .) -ge 2 ]"
opened=
for attempt in 1 2 3; do
	n=$(lines)
	wait_for bash -c "[ \$(cat $tmp/skip.json 2>/dev/null | grep -c .) -gt $n ]"
	sleep 0.3 # past the interval's first (forced) scan
	n=$(lines)
	rm -f "$tmp/c"
	ip netns exec "$CLI" bash -c ". tests/integration/lib/common.sh; pyrun shawk-cli-c $H client $tmp/c tcp:198.18.0.1:8080:1; wait" &
	c_pid=$!
	wait_for test -f "$tmp/c"
	if [ "$(lines)" -eq "$n" ]; then opened=$n; break; fi
	# A flush came in between: not mid-interval, try again.
	pkill -x shawk-cli-c; wait $c_pid 2>/dev/null
done
check "skip: connection opened mid-interval" test -n "$opened"
wait_for bash -c "[ \$(cat $tmp/skip.json 2>/dev/null | grep -c .) -gt ${opened:-0} ]"
check "skip: unchanged netns were reused" grep -q "netns unchanged, not walked" "$tmp/skip.err"
n=$(lines)
pkill -x shawk-cli-c; wait $c_pid 2>/dev/null
closed_at=$(lines)
wait_for bash -c "[ \$(cat $tmp/skip.json 2>/dev/null | grep -c .) -gt $((closed_at + 1)) ]"
kill -TERM $skip_pid; wait $skip_pid
check "skip: probe loop exits 0" test $? -eq 0
python3 - "$tmp/skip.json" "${opened:-0}" "$closed_at" <<'PY'
import json, sys
# Daemon lines: {"node", "window", "flows"} (docs/json.md).
lines = [json.loads(l)["flows"] for l in open(sys.argv[1]) if l.strip()]
opened, closed = int(sys.argv[2]), int(sys.argv[3])
def c(flows):
    return [f for f in flows if f["direction"] == "active" and f["process"] and f["process"]["name"] == "shawk-cli-c"]
def srv(flows):
    return [f["connections"] for f in flows if f["direction"] == "passive" and f["local"]["addr"] == "198.18.0.1" and f["local"]["port"] == 8080]
ok = len(lines) > opened and len(c(lines[opened])) == 1
print(("ok - " if ok else "not ok - ") + "skip: connection opened mid-interval is in that interval's flush (line %d)" % (opened + 1))
print(("ok - " if ok and srv(lines[opened]) == [4] else "not ok - ") + "skip: server flow counts it in that interval: %s" % (srv(lines[opened]) if ok else None))
after = lines[closed + 1:closed + 2] # not the final, partial flush
ok = after and all(not c(l) for l in after) and all(srv(l) == [3] for l in after)
if not ok: print("# after close: %s" % [(len(c(l)), srv(l)) for l in after])
print(("ok - " if ok else "not ok - ") + "skip: closed connection gone from the next interval's flushes (%d lines)" % len(after))
PY

# The one-shot BPF path reads every socket held by an fd in one walk and
# trusts it for a netns only when the kernel's per-netns socket counters
# agree: here every test socket has its fd, so neither netns is walked
# again; a connection left in a listener's accept queue (no fd holds it)
# makes the server's netns disagree, and it is then walked like before.
fd_walked_again() { # log netns
	grep -q "fd walk: netns $2: .*walking it" "$1"
}
if [ "$backends" != sockdiag ]; then
	SHAWK_POLL_BACKEND=bpf-iter "$SHAWK_BIN" probe --once --output none --log-level debug 2>"$tmp/fd.err"
	check "[bpf-iter] fd walk used" grep -q "fd walk served" "$tmp/fd.err"
	check "[bpf-iter] fd walk trusted for the server netns" bash -c "! grep -q 'fd walk: netns $srv_ns: ' $tmp/fd.err"
	check "[bpf-iter] fd walk trusted for the client netns" bash -c "! grep -q 'fd walk: netns $cli_ns: ' $tmp/fd.err"
fi
ip netns exec "$SRV" bash -c ". tests/integration/lib/common.sh; pyrun shawk-bl $H backlog $tmp/bl tcp:198.18.0.1:9090; wait" &
pids+=($!)
wait_for test -f "$tmp/bl" || { not_ok "backlog listener started"; finish; }
ip netns exec "$CLI" bash -c ". tests/integration/lib/common.sh; pyrun shawk-cli-q $H client $tmp/q tcp:198.18.0.1:9090:2; wait" &
pids+=($!)
wait_for test -f "$tmp/q" || { not_ok "backlog clients connected"; finish; }
q_pid=$(pid_of shawk-cli-q)
for backend in $backends; do
	SHAWK_POLL_BACKEND=$backend "$SHAWK_BIN" probe --once --output json --log-level debug >"$tmp/q.json" 2>"$tmp/q.err"
	check "[$backend] with queued connections: exits 0" test $? -eq 0
	if [ "$backend" = bpf-iter ]; then
		check "[bpf-iter] queued connections: server netns walked again" fd_walked_again "$tmp/q.err" "$srv_ns"
		check "[bpf-iter] queued connections: client netns still trusted" bash -c "! grep -q 'fd walk: netns $cli_ns: ' $tmp/q.err"
	fi
	python3 - "$tmp/q.json" "$srv_ns" "$cli_ns" "$q_pid" "$backend" "$srv_pid" <<'PY'
import json, sys
flows = json.load(open(sys.argv[1]))
srv_ns, cli_ns, q_pid, backend, srv_pid = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + "[%s] queued connections: " % backend + name)
pas = [f for f in flows if f["netns"] == srv_ns and f["direction"] == "passive" and f["local"]["port"] == 9090]
act = [f for f in flows if f["netns"] == cli_ns and f["direction"] == "active" and f["peer"]["port"] == 9090]
# The passive flow takes its process from the listener, as with sock_diag.
check("server side reported, 2 connections, listener's process (%s)" % [(f["connections"], f["process"] and f["process"]["name"]) for f in pas],
      len(pas) == 1 and pas[0]["connections"] == 2 and pas[0]["process"]["name"] == "shawk-bl")
check("client side reported, 2 connections by the client",
      len(act) == 1 and act[0]["connections"] == 2 and act[0]["process"]["pid"] == q_pid)
v4 = [f for f in flows if f["netns"] == srv_ns and f["direction"] == "passive" and f["local"]["port"] == 8080]
check("other flows of the server netns still attributed",
      len(v4) == 1 and v4[0]["connections"] == 3 and v4[0]["process"]["pid"] == srv_pid)
PY
done
pkill -x shawk-cli-q; pkill -x shawk-bl

# One socket held by several fds and processes (dup, fork) is one
# connection, on both backends; the fd walk deduplicates it and is still
# trusted for the netns.
ip netns exec "$CLI" bash -c ". tests/integration/lib/common.sh; pyrun shawk-cli-s $H shared $tmp/s tcp:198.18.0.1:8080:2; wait" &
pids+=($!)
wait_for test -f "$tmp/s" || { not_ok "shared-socket client connected"; finish; }
s_pid=$(pid_of shawk-cli-s)
for backend in $backends; do
	SHAWK_POLL_BACKEND=$backend "$SHAWK_BIN" probe --once --output json --log-level debug >"$tmp/s.json" 2>"$tmp/s.err"
	check "[$backend] shared sockets: exits 0" test $? -eq 0
	if [ "$backend" = bpf-iter ]; then
		check "[bpf-iter] shared sockets: fd walk trusted for the client netns" bash -c "! grep -q 'fd walk: netns $cli_ns: ' $tmp/s.err"
	fi
	python3 - "$tmp/s.json" "$srv_ns" "$cli_ns" "$s_pid" "$backend" <<'PY'
import json, sys
flows = json.load(open(sys.argv[1]))
srv_ns, cli_ns, s_pid, backend = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def check(name, cond):
    print(("ok - " if cond else "not ok - ") + "[%s] shared sockets: " % backend + name)
act = [f for f in flows if f["netns"] == cli_ns and f["direction"] == "active" and f["process"] and f["process"]["name"] == "shawk-cli-s"]
check("2 connections, once, to the first holder (%s)" % [(f["connections"], f["process"]["pid"]) for f in act],
      len(act) == 1 and act[0]["connections"] == 2 and act[0]["process"]["pid"] == s_pid)
pas = [f["connections"] for f in flows if f["netns"] == srv_ns and f["direction"] == "passive" and f["local"]["port"] == 8080]
check("server side counts 3 + 2 (%s)" % pas, pas == [5])
PY
done
pkill -x shawk-cli-s

# Connections of the clients killed above close in the background (FIN,
# then the server's close); the reference snapshot below must not see the
# last of them while a later level does not. Wait until the killed
# processes are gone and no socket of the test netns is still closing.
none_closing() {
	local ns
	for ns in "$SRV" "$CLI"; do
		[ -z "$(ip netns exec "$ns" ss -Htn state fin-wait-1 state fin-wait-2 \
			state close-wait state last-ack state closing)" ] || return 1
	done
}
wait_for bash -c "! pgrep -f '$tmp/(q|s|bl) ' >/dev/null" &&
	wait_for none_closing ||
	not_ok "killed clients' connections closed (still: $(ip netns exec "$CLI" ss -Htn state connected | grep -cv time-wait))"

# Every fallback level gives the same flows of the test netns: the fd walk
# (light, then regular skeleton), per-netns iterators with BPF owners, then
# with /proc owners, sock_diag with BPF owners, sock_diag alone. Levels are
# forced with SHAWK_POLL_BACKEND and SHAWK_BPF_DENY (programs the loader
# treats as refused by the kernel).
flows_of_test_netns() { # JSON-FILE OUT
	python3 - "$1" "$srv_ns" "$cli_ns" >"$2" <<'PY'
import json, sys
flows = json.load(open(sys.argv[1]))
keep = {int(sys.argv[2]), int(sys.argv[3])}
for f in sorted(json.dumps(f, sort_keys=True) for f in flows if f["netns"] in keep):
    print(f)
PY
}
if [ -n "$no_bpf" ]; then
	skip_check "fallback levels give the same flows" "$no_bpf"
else
	SHAWK_POLL_BACKEND=sockdiag "$SHAWK_BIN" probe --once --output json >"$tmp/lv0.json" 2>/dev/null
	flows_of_test_netns "$tmp/lv0.json" "$tmp/lv0.txt"
	n0=$(wc -l <"$tmp/lv0.txt")
	check "fallback levels: reference flows (sock_diag) found ($n0)" test "$n0" -ge 5
	while IFS='|' read -r deny path; do
		SHAWK_POLL_BACKEND=auto SHAWK_BPF_DENY=$deny "$SHAWK_BIN" probe --once --output json --log-level info >"$tmp/lv.json" 2>"$tmp/lv.err"
		rc=$?
		flows_of_test_netns "$tmp/lv.json" "$tmp/lv.txt"
		check "fallback level [${deny:-none}]: exits 0" test $rc -eq 0
		check "fallback level [${deny:-none}]: path '$path'" grep -q "$path" "$tmp/lv.err"
		check "fallback level [${deny:-none}]: same flows as sock_diag" diff -u "$tmp/lv0.txt" "$tmp/lv.txt"
		record_poll_log "$tmp/lv.err"
	done <<'EOF'
|polling path: one fd walk of every netns.*owners from iter/task_file
light-skeleton|BPF iterators loaded: shawk_iter_tcp (regular skeleton), shawk_iter_udp (regular skeleton), shawk_iter_task_file (regular skeleton), shawk_iter_fd_sock (regular skeleton)
shawk_iter_fd_sock|polling path: iter/tcp + iter/udp per netns; process owners from iter/task_file
shawk_iter_fd_sock,shawk_iter_task_file|polling path: iter/tcp + iter/udp per netns; process owners from /proc/<pid>/fd
shawk_iter_fd_sock,shawk_iter_tcp|polling path: sock_diag per netns; process owners from iter/task_file
shawk_iter_fd_sock,shawk_iter_tcp,shawk_iter_udp,shawk_iter_task_file|polling via sock_diag (BPF iterators: no BPF iterator loads
EOF
fi

# A namespace that only exists as a bind mount in /run/netns (no process
# inside) is enumerated and scanned without error.
ip netns add shawk-it-empty-$$
"$SHAWK_BIN" probe --once --output json >"$tmp/empty.json" 2>"$tmp/empty.err"
check "named netns without processes: scan succeeds" test $? -eq 0
check "named netns without processes: no error" bash -c "! grep -q ' error: ' $tmp/empty.err"
ip netns del shawk-it-empty-$$

finish
