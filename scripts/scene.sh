#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A small three-tier app in network namespaces, for `make run` (and for
# trying shawk by hand): web -> api:8080 -> db:5432, each tier its own
# netns on a bridge in a fourth ("node") netns. Needs root.
#
#   scene.sh up PREFIX NET DIR   netns PREFIX-{node,web,api,db}, addresses
#                                NET.1 (web), NET.2 (api), NET.3 (db) /24;
#                                the tiers' processes (comm shawk-web,
#                                shawk-api, shawk-db) write DIR/*.pid and
#                                DIR/ready once every connection is open
#   scene.sh down PREFIX DIR     stops them and deletes the netns (safe to
#                                run twice, and on a scene half made)
#
# Defaults: PREFIX shawk-run, NET 198.18.65 (RFC 2544 benchmarking space,
# never routed), DIR build/scene.
set -euo pipefail

cmd=${1:-}
prefix=${2:-shawk-run}
net=${3:-198.18.65}
dir=${4:-build/scene}

# One program for the three tiers: a server holds the connections it
# accepts and answers every line; a client opens COUNT connections and
# sends a line on each every second (so the flows stay live).
tier_py='
import ctypes, os, socket, sys, time, select
name, ready, listen, peer, count = sys.argv[1:6]
ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)
socks, ls = [], None
if listen != "-":
    a, p = listen.rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a, int(p)))
    ls.listen(64)
out = []
if peer != "-":
    a, p = peer.rsplit(":", 1)
    for _ in range(int(count)):
        for _ in range(100):
            try:
                out.append(socket.create_connection((a, int(p)), timeout=1))
                break
            except OSError:
                time.sleep(0.1)
        else:
            sys.exit("cannot reach " + peer)
open(ready, "w").write(str(os.getpid()) + "\n")
last = 0
while True:
    rd = ([ls] if ls else []) + socks
    r, _, _ = select.select(rd, [], [], 1)
    for s in r:
        if s is ls:
            socks.append(ls.accept()[0])
            continue
        d = s.recv(4096)
        if not d:
            socks.remove(s)
            s.close()
        else:
            s.sendall(d)
    if out and time.time() - last >= 1:
        last = time.time()
        for s in out:
            s.sendall(b"ping\n")
            s.recv(4096)
'

down() {
	for t in web api db; do
		if [ -f "$dir/$t.pid" ]; then
			kill "$(cat "$dir/$t.pid")" 2>/dev/null || true
			rm -f "$dir/$t.pid"
		fi
	done
	for t in web api db node; do
		ip netns del "$prefix-$t" 2>/dev/null || true
	done
	rm -f "$dir/ready"
}

up() {
	[ "$(id -u)" -eq 0 ] || { echo "scene: needs root (network namespaces)" >&2; return 1; }
	mkdir -p "$dir"
	down
	ip netns add "$prefix-node"
	ip -n "$prefix-node" link add br0 type bridge
	ip -n "$prefix-node" link set br0 up
	local i=0 t
	for t in web api db; do
		i=$((i + 1))
		ip netns add "$prefix-$t"
		# veth names: at most 15 bytes, unique per scene.
		ip link add "sc$$i$i" type veth peer name "sc$$o$i"
		ip link set "sc$$i$i" netns "$prefix-$t"
		ip link set "sc$$o$i" netns "$prefix-node"
		ip -n "$prefix-node" link set "sc$$o$i" master br0 up
		ip -n "$prefix-$t" link set lo up
		ip -n "$prefix-$t" addr add "$net.$i/24" dev "sc$$i$i"
		ip -n "$prefix-$t" link set "sc$$i$i" up
	done
	run_tier db "$net.3:5432" - 0
	run_tier api "$net.2:8080" "$net.3:5432" 2
	run_tier web - "$net.2:8080" 3
	touch "$dir/ready"
}

run_tier() { # run_tier NAME LISTEN PEER COUNT
	local t=$1 i
	rm -f "$dir/$t.pid"
	ip netns exec "$prefix-$t" setsid python3 -c "$tier_py" "shawk-$t" \
		"$dir/$t.pid" "$2" "$3" "$4" </dev/null >/dev/null 2>&1 &
	for i in $(seq 1 100); do
		[ -s "$dir/$t.pid" ] && return 0
		sleep 0.1
	done
	echo "scene: tier $t did not start" >&2
	return 1
}

case "$cmd" in
up) up ;;
down) down ;;
*) echo "usage: $0 up|down [PREFIX [NET [DIR]]]" >&2; exit 2 ;;
esac
