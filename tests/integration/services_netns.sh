#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Kubernetes Services through conntrack (issue 15): a node netns routing to
# pod netns the Calico way (tests/integration/lib/services_topo.sh), with
# kube-proxy-style DNAT rules (iptables, nft backend) in the node netns:
#   svc-a 198.18.161.10  :80 -> b1,b2:8080 (held)  :81 -> b1,b2:9090 (short)
#   svc-b 198.18.161.20  :80 -> c1:8080
#   svc-6 [2001:db8:61:ffff::10] :80 -> b1,b2:8080  :81 -> b1,b2:9090
#   NodePort 198.18.61.1:30080 -> b2:8080, masqueraded
# Two replicas are balanced with statistic --mode nth; the rules' packet
# counters (one per DNAT rule, first packet of each connection only) are
# the ground truth of how many connections reached each backend.
# Checks, polling (--once --output json) and streaming (daemon JSON lines):
# every connection through a Service is counted at its backend, exactly,
# with the dialed address as "service"; the NodePort's backend sees the
# original client as "nat_peer"; a direct connection (no NAT) is as before;
# conntrack unavailable (no CAP_NET_ADMIN) is one log line and the flows
# keep the dialed address; --conntrack off does the same without a line.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/services_topo.sh
require_root
command -v iptables >/dev/null && command -v ip6tables >/dev/null || skip "needs iptables"
command -v cc >/dev/null || skip "needs a C compiler for the test peers"

NSHORT=${SHAWK_IT_CONNS:-1200} NSHORT6=${SHAWK_IT_CONNS6:-300}
P=i15ct-$$
tmp=$(mktemp -d)
pids=()
cleanup() {
	[ -n "${probe_pid:-}" ] && kill "$probe_pid" 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -o "$tmp/connburst" tests/integration/lib/connburst.c || skip "cannot build the test peers"
B=$tmp/connburst
H=tests/integration/lib/holder.py

topo_init "$P" || skip "cannot create network namespaces"
topo_pod cli 198.18.61.10 2001:db8:61::10
topo_pod b1 198.18.61.21 2001:db8:61::21
topo_pod b2 198.18.61.22 2001:db8:61::22
topo_pod c1 198.18.61.31
topo_pod ext 198.18.61.50
ip -n "$P-node" addr add 198.18.61.1/32 dev lo
iptables -V | grep -q nf_tables || echo "# iptables is not the nft backend: $(iptables -V)"

NX="ip netns exec $P-node"
dnat2() { # CMD ADDR PORT TARGET_PORT A1 A2 (A in ip6tables brackets)
	local cmd=$1 addr=$2 port=$3 tport=$4 a1=$5 a2=$6
	$NX "$cmd" -t nat -A PREROUTING -d "$addr" -p tcp --dport "$port" \
		-m statistic --mode nth --every 2 --packet 0 \
		-j DNAT --to-destination "$a1:$tport" &&
		$NX "$cmd" -t nat -A PREROUTING -d "$addr" -p tcp --dport "$port" \
			-j DNAT --to-destination "$a2:$tport"
}
dnat2 iptables 198.18.161.10 80 8080 198.18.61.21 198.18.61.22 &&
	dnat2 iptables 198.18.161.10 81 9090 198.18.61.21 198.18.61.22 &&
	$NX iptables -t nat -A PREROUTING -d 198.18.161.20 -p tcp --dport 80 \
		-j DNAT --to-destination 198.18.61.31:8080 &&
	$NX iptables -t nat -A PREROUTING -d 198.18.61.1 -p tcp --dport 30080 \
		-j DNAT --to-destination 198.18.61.22:8080 &&
	$NX iptables -t nat -A POSTROUTING -m conntrack --ctstate DNAT \
		--ctorigdstport 30080 -j MASQUERADE &&
	dnat2 ip6tables 2001:db8:61:ffff::10 80 8080 "[2001:db8:61::21]" "[2001:db8:61::22]" &&
	dnat2 ip6tables 2001:db8:61:ffff::10 81 9090 "[2001:db8:61::21]" "[2001:db8:61::22]" ||
	skip "cannot add DNAT rules in a netns (iptables nat table)"

# Connections that reached TARGET (addr:port as iptables-save prints it).
counted() { # CMD TARGET
	$NX "$1-save" -c -t nat | awk -v t="$2" '
		$0 ~ "--to-destination " t "$" { split($1, c, /[\[:\]]/); n += c[2] }
		END { print n + 0 }'
}

for b in b1 b2 c1; do
	ip netns exec "$P-$b" python3 $H server "$tmp/ready-$b" tcp:0.0.0.0:8080 "tcp:[::]:8080" &
	pids+=($!)
done
for b in b1 b2; do
	# One dual-stack listener ([::]:9090) for IPv4 and IPv6.
	ip netns exec "$P-$b" "$B" "i15-$b-short" tcp-server :: 9090 "$tmp/short-$b" &
	pids+=($!)
done
for f in ready-b1 ready-b2 ready-c1 short-b1 short-b2; do
	wait_for test -f "$tmp/$f" || { not_ok "server $f started"; finish; }
done

# Held: 10 to svc-a (5 + 5), 3 to svc-b, 4 to svc-6 (2 + 2), one straight to
# b1 (no NAT), and from outside 2 to the NodePort.
ip netns exec "$P-cli" python3 $H client "$tmp/held-cli" tcp:198.18.161.10:80:10 \
	tcp:198.18.161.20:80:3 "tcp:[2001:db8:61:ffff::10]:80:4" \
	tcp:198.18.61.21:8080:1 &
pids+=($!)
ip netns exec "$P-ext" python3 $H client "$tmp/held-ext" tcp:198.18.61.1:30080:2 &
pids+=($!)
wait_for test -f "$tmp/held-cli" && wait_for test -f "$tmp/held-ext" ||
	{ not_ok "held connections established"; finish; }
cli_ns=$(stat -L -c %i "/run/netns/$P-cli")
ext_ns=$(stat -L -c %i "/run/netns/$P-ext")
b1_ns=$(stat -L -c %i "/run/netns/$P-b1")
b2_ns=$(stat -L -c %i "/run/netns/$P-b2")
node_ns=$(stat -L -c %i "/run/netns/$P-node")
echo "# netns: cli $cli_ns ext $ext_ns b1 $b1_ns b2 $b2_ns node $node_ns"

# What the held connections' rules counted (nth: 5 and 5, 2 and 2).
H_A1=$(counted iptables 198.18.61.21:8080) H_A2=$(counted iptables 198.18.61.22:8080)
H_B=$(counted iptables 198.18.61.31:8080)
H_61=$(counted ip6tables '\[2001:db8:61::21\]:8080') H_62=$(counted ip6tables '\[2001:db8:61::22\]:8080')
# b2:8080 also counts the NodePort's 2 (its own rule).
echo "# rules counted: svc-a b1 $H_A1 b2 $H_A2, svc-b $H_B, svc-6 b1 $H_61 b2 $H_62"
check "rules counted every held connection (10+2 nodeport, 3, 4)" \
	test $((H_A1 + H_A2)) -eq 12 -a "$H_B" -eq 3 -a $((H_61 + H_62)) -eq 4

# ---- polling ---------------------------------------------------------------

"$SHAWK_BIN" probe --mode polling --once --output json >"$tmp/poll.json" 2>"$tmp/poll.err"
check "polling: probe --once --output json exits 0" test $? -eq 0
check "polling: conntrack stage logged its NAT entries" grep -q "conntrack: [0-9]* NAT entries in" "$tmp/poll.err"
check "polling: no conntrack warning" bash -c "! grep -q 'conntrack unavailable' $tmp/poll.err"

# The python checks, shared by every mode: FLOWS_FILE MODE EXPECT...
cat >"$tmp/check.py" <<'PY'
import json, sys
path, mode = sys.argv[1], sys.argv[2]
exp = dict(a.split("=", 1) for a in sys.argv[3:])
# --once prints an array, a daemon one {window, node, flows} per line.
flows = [f for l in open(path) if l.strip()
         for d in [json.loads(l)] for f in (d["flows"] if isinstance(d, dict) else d)]
ok = True

def check(name, cond, detail=""):
    global ok
    print(("ok - " if cond else "not ok - ") + "%s: %s" % (mode, name))
    if not cond:
        ok = False
        if detail:
            print("# " + detail[:800])

def pick(**want):
    out = []
    for f in flows:
        good = True
        for k, v in want.items():
            path = k.split("__")
            x = f
            for p in path:
                x = x.get(p) if isinstance(x, dict) else None
            if x != v:
                good = False
                break
        if good:
            out.append(f)
    return out

def total(fl):
    return sum(f["connections"] for f in fl)

def svc(addr, port):
    return {"addr": addr, "port": port}

ns = lambda k: int(exp[k])
cli, ext, b1ns, b2ns = ns("cli"), ns("ext"), ns("b1"), ns("b2")

cases = [c.split(",") for c in exp.get("cases", "").split(";") if c]
for name, sa, sp, backend, bport, want in cases:
    sp, bport, want = int(sp), int(bport), int(want)
    got = pick(netns=cli, direction="active", peer__addr=backend,
               peer__port=bport)
    got = [f for f in got if f.get("service") == svc(sa, sp)]
    check("%s -> %s:%d counted at backend %s:%d" % (name, sa, sp, backend, bport)
          + " (want %d, got %d)" % (want, total(got)), total(got) == want,
          json.dumps(got))

# Nothing through a Service stays at its ClusterIP.
left = [f for f in flows if f["peer"]["addr"] in
        ("198.18.161.10", "198.18.161.20", "2001:db8:61:ffff::10")]
if exp.get("resolved") in ("yes", "short"):
    check("no flow left at a ClusterIP", not left, json.dumps(left))
if exp.get("resolved") == "yes":
    # Direct connection (no NAT): untouched.
    d = pick(netns=cli, direction="active", peer__addr="198.18.61.21",
             peer__port=8080, service=None)
    check("direct connection without NAT: service null, 1 connection",
          total(d) == 1, json.dumps(d))
    # NodePort with masquerade: the client sees its backend, the backend
    # sees the node's address and the original client as nat_peer.
    e = pick(netns=ext, direction="active", peer__addr="198.18.61.22",
             peer__port=8080)
    check("NodePort client: backend b2 with service 198.18.61.1:30080 (2)",
          total(e) == 2 and all(f["service"] == svc("198.18.61.1", 30080)
                                for f in e), json.dumps(e))
    n = pick(netns=b2ns, direction="passive", local__port=8080,
             peer__addr="198.18.61.1")
    check("NodePort backend: peer is the node, nat_peer the client (2)",
          total(n) == 2 and all(f["nat_peer"] == {"addr": "198.18.61.50",
                                                  "port": 0, "ephemeral": True}
                                for f in n),
          json.dumps(n))
    others = [f for f in flows if f["nat_peer"] is not None and f not in n]
    check("no other flow has a nat_peer", not others, json.dumps(others))
    # The backends' side (passive) counts what their rules counted.
    # (b1 also has the direct connection.)
    for bns, baddr, key in ((b1ns, "198.18.61.21", "b1_8080"),
                            (b2ns, "198.18.61.22", "b2_8080")):
        p = pick(netns=bns, direction="passive", local__port=8080,
                 peer__addr="198.18.61.10")
        want = int(exp[key])
        check("backend %s sees %d held connections from the client"
              % (baddr, want), total(p) == want, json.dumps(p))
elif exp.get("resolved") == "no":
    a = pick(netns=cli, direction="active", peer__addr="198.18.161.10",
             peer__port=80)
    check("unresolved: svc-a's 10 held connections at the ClusterIP",
          total(a) == 10 and all(f["service"] is None for f in a),
          json.dumps(a))
    s = [f for f in flows if f["service"] is not None or f["nat_peer"] is not None]
    check("unresolved: no service, no nat_peer", not s, json.dumps(s))
for f in flows:
    if "service" not in f or "nat_peer" not in f:
        check("every flow carries service and nat_peer", False, json.dumps(f))
        break
sys.exit(0 if ok else 1)
PY
common=(cli="$cli_ns" ext="$ext_ns" b1="$b1_ns" b2="$b2_ns")
held_cases="svc-a,198.18.161.10,80,198.18.61.21,8080,$H_A1;svc-a,198.18.161.10,80,198.18.61.22,8080,$((H_A2 - 2))"
held_cases+=";svc-b,198.18.161.20,80,198.18.61.31,8080,$H_B"
held_cases+=";svc-6,2001:db8:61:ffff::10,80,2001:db8:61::21,8080,$H_61;svc-6,2001:db8:61:ffff::10,80,2001:db8:61::22,8080,$H_62"
python3 "$tmp/check.py" "$tmp/poll.json" polling "${common[@]}" resolved=yes \
	b1_8080="$((H_A1 + 1))" b2_8080="$((H_A2 - 2))" "cases=$held_cases"
[ $? -eq 0 ] || failures=$((failures + 1))
# Which path: a one-shot scan looks its connections up (BPF kfunc) where
# the kernel loads the program; else one line saying why, and dumps.
if grep -q "per-connection lookup unavailable" "$tmp/poll.err"; then
	grep "per-connection lookup" "$tmp/poll.err" | sed 's/^/# /'
	not_ok "polling: the per-connection lookup path ran (kernel $(uname -r) has bpf_xdp_ct_lookup: $(grep -c ' bpf_xdp_ct_lookup$' /proc/kallsyms))"
else
	n=$(grep -c "conntrack: per-connection lookup (BPF kfunc): [1-9][0-9]* tuples looked up in [1-9]" "$tmp/poll.err")
	check "polling: the per-connection lookup path ran, not dumps ($n)" test "$n" -eq 1
fi
grep "per-connection lookup" "$tmp/poll.err" | sed 's/^/# /'
# The same scan by dumps (the lookup refused on purpose): same flows.
SHAWK_BPF_DENY=shawk_ct_lookup "$SHAWK_BIN" probe --mode polling --once --output json \
	>"$tmp/pollx.json" 2>"$tmp/pollx.err"
check "polling, lookup refused: exits 0" test $? -eq 0
n=$(grep -c "conntrack: per-connection lookup unavailable (refused (SHAWK_BPF_DENY)): dumps instead" "$tmp/pollx.err")
check "polling, lookup refused: one line, dumps instead ($n)" test "$n" -eq 1
python3 "$tmp/check.py" "$tmp/pollx.json" polling-dumps "${common[@]}" resolved=yes \
	b1_8080="$((H_A1 + 1))" b2_8080="$((H_A2 - 2))" "cases=$held_cases"
[ $? -eq 0 ] || failures=$((failures + 1))

# Short-lived connections, polling daemon: whatever a scan catches of them
# is at its backend too (counting each exactly is streaming's job).
"$SHAWK_BIN" probe --mode polling --output json --interval 100ms --flush-interval 1s \
	>"$tmp/polld.json" 2>"$tmp/polld.err" &
probe_pid=$!
wait_for grep -q "conntrack: [0-9]* NAT entries" "$tmp/polld.err" || not_ok "polling daemon started"
ip netns exec "$P-cli" "$B" i15-cli-short tcp-client 198.18.161.10 81 "$NSHORT"
check "polling: $NSHORT short-lived connections made" test $? -eq 0
sleep 1.3
kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
python3 - "$tmp/polld.json" <<'PY'
import json, sys
flows = [f for l in open(sys.argv[1]) if l.strip()
         for d in [json.loads(l)] for f in (d["flows"] if isinstance(d, dict) else d)]
bad = [f for f in flows if f["peer"]["addr"] == "198.18.161.10"]
short = [f for f in flows if f["direction"] == "active" and f.get("service") ==
         {"addr": "198.18.161.10", "port": 81}]
print(("ok" if not bad else "not ok") + " - polling daemon: no flow at the ClusterIP")
print("# polling daemon: %d short-lived connections caught by scans" %
      sum(f["connections"] for f in short))
sys.exit(0 if not bad else 1)
PY
[ $? -eq 0 ] || failures=$((failures + 1))

# ---- streaming -------------------------------------------------------------

no_bpf=$(bpf_unsupported)
if [ -n "$no_bpf" ]; then
	skip_check "streaming" "$no_bpf"
else
	S_A1=$(counted iptables 198.18.61.21:9090) S_A2=$(counted iptables 198.18.61.22:9090)
	S_61=$(counted ip6tables '\[2001:db8:61::21\]:9090') S_62=$(counted ip6tables '\[2001:db8:61::22\]:9090')
	"$SHAWK_BIN" probe --mode streaming --output json --interval 200ms --flush-interval 1s \
		>"$tmp/stream.json" 2>"$tmp/stream.err" &
	probe_pid=$!
	# After its first scan: the conntrack stage has told the source
	# which connections it may count in the kernel (before, none).
	wait_for grep -q "conntrack: [0-9]* NAT entries" "$tmp/stream.err" ||
		{ not_ok "streaming probe started"; cat "$tmp/stream.err"; finish; }
	ip netns exec "$P-cli" "$B" i15-cli-short tcp-client 198.18.161.10 81 "$NSHORT" &
	c4=$!
	ip netns exec "$P-cli" "$B" i15-cli-short6 tcp-client 2001:db8:61:ffff::10 81 "$NSHORT6" &
	c6=$!
	wait $c4; r4=$?
	wait $c6; r6=$?
	check "streaming: short-lived clients ran ($NSHORT v4, $NSHORT6 v6)" test $((r4 + r6)) -eq 0
	sleep 2.2
	kill -TERM "$probe_pid"; wait "$probe_pid"
	check "streaming probe exits 0" test $? -eq 0
	probe_pid=
	check "streaming: no event lost" bash -c "! grep -q 'events lost' $tmp/stream.err"
	check "streaming: no conntrack warning" bash -c "! grep -q 'conntrack unavailable' $tmp/stream.err"
	# The conntrack stage needs the tuple of the connections through the
	# Services only: the backends' side (peer: the client's own address,
	# no source NAT) is counted in the kernel, and still exactly (below).
	kern=$(sed -n 's/.* \([0-9]*\) connections counted in the kernel.*/\1/p' "$tmp/stream.err" | tail -1)
	check "streaming: connections without NAT counted in the kernel (${kern:-?} of $((NSHORT + NSHORT6)) passive)" \
		test "${kern:-0}" -gt $(( (NSHORT + NSHORT6) / 2 ))
	record_poll_log "$tmp/stream.err"
	D_A1=$(( $(counted iptables 198.18.61.21:9090) - S_A1 ))
	D_A2=$(( $(counted iptables 198.18.61.22:9090) - S_A2 ))
	D_61=$(( $(counted ip6tables '\[2001:db8:61::21\]:9090') - S_61 ))
	D_62=$(( $(counted ip6tables '\[2001:db8:61::22\]:9090') - S_62 ))
	echo "# streaming rules counted: b1 $D_A1 b2 $D_A2, v6 b1 $D_61 b2 $D_62"
	check "streaming: rules counted every short connection" \
		test $((D_A1 + D_A2)) -eq "$NSHORT" -a $((D_61 + D_62)) -eq "$NSHORT6"
	short_cases="svc-a,198.18.161.10,81,198.18.61.21,9090,$D_A1;svc-a,198.18.161.10,81,198.18.61.22,9090,$D_A2"
	short_cases+=";svc-6,2001:db8:61:ffff::10,81,2001:db8:61::21,9090,$D_61;svc-6,2001:db8:61:ffff::10,81,2001:db8:61::22,9090,$D_62"
	python3 "$tmp/check.py" "$tmp/stream.json" streaming "${common[@]}" resolved=short "cases=$short_cases"
	[ $? -eq 0 ] || failures=$((failures + 1))
	# ... and at the backends' side, passive, on port 9090.
	python3 - "$tmp/stream.json" "$b1_ns" "$b2_ns" "$((D_A1 + D_61))" "$((D_A2 + D_62))" <<'PY'
import json, sys
flows = [f for l in open(sys.argv[1]) if l.strip()
         for d in [json.loads(l)] for f in (d["flows"] if isinstance(d, dict) else d)]
for ns, want, name in ((int(sys.argv[2]), int(sys.argv[4]), "b1"),
                       (int(sys.argv[3]), int(sys.argv[5]), "b2")):
    got = sum(f["connections"] for f in flows if f["netns"] == ns and
              f["direction"] == "passive" and f["local"]["port"] == 9090)
    print(("ok" if got == want else "not ok") +
          " - streaming: backend %s counted %d short connections (got %d)" % (name, want, got))
    if got != want:
        sys.exit(1)
PY
	[ $? -eq 0 ] || failures=$((failures + 1))
fi

# ---- streaming: entries gone before the next scan ---------------------------
# The connections' conntrack entries are deleted right after them, before
# the daemon's next scan (3 s interval): only the NEW/DESTROY events it
# subscribed to can still resolve them.
if [ -n "$no_bpf" ]; then
	skip_check "streaming, entries deleted" "$no_bpf"
elif ! command -v conntrack >/dev/null; then
	skip_check "streaming, entries deleted" "no conntrack(8) to delete entries"
else
	N3=${SHAWK_IT_CONNS3:-400}
	S_A1=$(counted iptables 198.18.61.21:9090) S_A2=$(counted iptables 198.18.61.22:9090)
	"$SHAWK_BIN" probe --mode streaming --output json --interval 3s --flush-interval 3s \
		>"$tmp/stream3.json" 2>"$tmp/stream3.err" &
	probe_pid=$!
	wait_for grep -q "conntrack: [0-9]* NAT entries" "$tmp/stream3.err" ||
		{ not_ok "streaming probe (3 s) started"; cat "$tmp/stream3.err"; }
	ip netns exec "$P-cli" "$B" i15-cli-short tcp-client 198.18.161.10 81 "$N3"
	r3=$?
	del=$($NX conntrack -D -p tcp --orig-dst 198.18.161.10 --orig-port-dst 81 2>&1 | sed -n 's/.*: \([0-9]*\) flow entries have been deleted.*/\1/p')
	echo "# deleted ${del:-0} conntrack entries of svc-a:81 before the next scan"
	check "streaming (3 s): $N3 connections made, their entries deleted (${del:-0})" \
		test "$r3" -eq 0 -a "${del:-0}" -ge "$N3"
	sleep 6.5
	kill -TERM "$probe_pid"; wait "$probe_pid"; probe_pid=
	D_A1=$(( $(counted iptables 198.18.61.21:9090) - S_A1 ))
	D_A2=$(( $(counted iptables 198.18.61.22:9090) - S_A2 ))
	cases3="svc-a,198.18.161.10,81,198.18.61.21,9090,$D_A1;svc-a,198.18.161.10,81,198.18.61.22,9090,$D_A2"
	python3 "$tmp/check.py" "$tmp/stream3.json" streaming-deleted "${common[@]}" resolved=short "cases=$cases3"
	[ $? -eq 0 ] || failures=$((failures + 1))
fi

# ---- IPVS (kube-proxy --proxy-mode=ipvs) --------------------------------------
# kube-proxy binds the ClusterIP to the node (kube-ipvs0), adds a virtual
# service with the pods as masquerading real servers and sets
# net.ipv4.vs.conntrack=1 so that the connections are in conntrack, their
# reply tuple rewritten without the IPS_DST_NAT bit (the stage dumps such a
# netns unfiltered and compares the tuples).
ipvs_missing() { # prints why IPVS cannot be tested here, or nothing
	if ! $NX test -e /proc/net/ip_vs; then
		modprobe -q ip_vs 2>/dev/null
		$NX test -e /proc/net/ip_vs || {
			echo "kernel $(uname -r) has no IPVS (no /proc/net/ip_vs in a netns, modprobe ip_vs failed, $(grep -c '\[ip_vs\]\| ip_vs_' /proc/kallsyms) ip_vs symbols in /proc/kallsyms)"
			return
		}
	fi
	command -v ipvsadm >/dev/null || echo "no ipvsadm (scripts/install-deps.sh installs it)"
}
no_ipvs=$(ipvs_missing)
if [ -n "$no_ipvs" ]; then
	skip_check "IPVS virtual service" "$no_ipvs"
else
	VIP=198.18.161.40
	ip -n "$P-node" addr add $VIP/32 dev lo
	$NX sysctl -qw net.ipv4.vs.conntrack=1 &&
		$NX ipvsadm -A -t $VIP:80 -s rr &&
		$NX ipvsadm -a -t $VIP:80 -r 198.18.61.21:8080 -m &&
		$NX ipvsadm -a -t $VIP:80 -r 198.18.61.22:8080 -m
	check "IPVS: virtual service $VIP:80 with b1, b2 (masquerade)" test $? -eq 0
	ip netns exec "$P-cli" python3 $H client "$tmp/held-ipvs" tcp:$VIP:80:4 &
	pids+=($!)
	wait_for test -f "$tmp/held-ipvs" || not_ok "IPVS: 4 held connections established"
	"$SHAWK_BIN" probe --mode polling --once --output json >"$tmp/ipvs.json" 2>"$tmp/ipvs.err"
	check "IPVS: probe --once exits 0" test $? -eq 0
	python3 - "$tmp/ipvs.json" "$cli_ns" "$VIP" <<'PY'
import json, sys
flows = json.load(open(sys.argv[1]))
ns, vip = int(sys.argv[2]), sys.argv[3]
mine = [f for f in flows if f["netns"] == ns and f["direction"] == "active"
        and f.get("service") == {"addr": vip, "port": 80}]
at = {}
for f in mine:
    at[f["peer"]["addr"]] = at.get(f["peer"]["addr"], 0) + f["connections"]
left = [f for f in flows if f["peer"]["addr"] == vip]
good = sum(at.values()) == 4 and set(at) <= {"198.18.61.21", "198.18.61.22"} \
    and all(f["peer"]["port"] == 8080 for f in mine) and not left
print(("ok" if good else "not ok") +
      " - IPVS: 4 connections to %s:80 counted at the real servers %s, none at the VIP" % (vip, at))
if not good:
    print("# " + json.dumps(mine + left)[:800])
sys.exit(0 if good else 1)
PY
	[ $? -eq 0 ] || failures=$((failures + 1))
fi

# ---- conntrack unavailable, and off -----------------------------------------

if command -v capsh >/dev/null; then
	# The dumps need CAP_NET_ADMIN (ctnetlink); the lookup refused here
	# (it needs BPF rights instead: below).
	SHAWK_BPF_DENY=shawk_ct_lookup capsh --drop=cap_net_admin -- -c \
		"exec $SHAWK_BIN probe --mode polling --once --output json" \
		>"$tmp/noct.json" 2>"$tmp/noct.err"
	check "no CAP_NET_ADMIN: probe exits 0" test $? -eq 0
	n=$(grep -c "conntrack unavailable" "$tmp/noct.err")
	check "no CAP_NET_ADMIN: exactly one conntrack line ($n)" test "$n" -eq 1
	grep "conntrack unavailable" "$tmp/noct.err" | sed 's/^/# /'
	python3 "$tmp/check.py" "$tmp/noct.json" no-cap-net-admin "${common[@]}" resolved=no
	[ $? -eq 0 ] || failures=$((failures + 1))
	# The per-connection lookup (BPF) needs no CAP_NET_ADMIN: resolved.
	capsh --drop=cap_net_admin -- -c "exec $SHAWK_BIN probe --mode polling --once --output json" \
		>"$tmp/nona.json" 2>"$tmp/nona.err"
	check "no CAP_NET_ADMIN, lookup: probe exits 0" test $? -eq 0
	check "no CAP_NET_ADMIN, lookup: the lookup path ran, no conntrack warning" \
		bash -c "grep -q 'per-connection lookup (BPF kfunc)' $tmp/nona.err && ! grep -q 'conntrack unavailable' $tmp/nona.err"
	python3 "$tmp/check.py" "$tmp/nona.json" no-cap-net-admin-lookup "${common[@]}" resolved=yes \
		b1_8080="$((H_A1 + 1))" b2_8080="$((H_A2 - 2))" "cases=$held_cases"
	[ $? -eq 0 ] || failures=$((failures + 1))
else
	skip_check "conntrack unavailable" "no capsh to drop CAP_NET_ADMIN"
fi
"$SHAWK_BIN" probe --mode polling --once --output json --conntrack off >"$tmp/off.json" 2>"$tmp/off.err"
check "--conntrack off: exits 0, no conntrack line" bash -c "[ $? -eq 0 ] && ! grep -q conntrack $tmp/off.err"
python3 "$tmp/check.py" "$tmp/off.json" conntrack-off "${common[@]}" resolved=no
[ $? -eq 0 ] || failures=$((failures + 1))
"$SHAWK_BIN" probe --once --conntrack maybe >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
check "--conntrack maybe: exit 2, one line" bash -c "[ $rc -eq 2 ] && [ \$(wc -l <$tmp/bad.err) -eq 1 ]"

record_ran "conntrack stage: polling + streaming through iptables-nft DNAT"
finish
