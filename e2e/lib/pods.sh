# SPDX-License-Identifier: MIT
# Emulated Kubernetes pods on this machine (sourced after
# tests/integration/lib/common.sh). Real in everything but the control
# plane: a "node" network namespace holding a private bridge, one network
# namespace per pod on it (198.18.0.0/24, only inside namespaces made here),
# real processes moved into cgroup v2 directories named exactly as kubelet
# names them, and a kubelet-compatible HTTPS server on loopback (throwaway
# CA, bearer token) serving the matching PodList.
#
#   pods_setup            builds everything below; sets the variables
#   pod_exec POD COMM ARGS  runs tests/integration/lib/holder.py ARGS in the
#                         pod's netns and cgroup with comm COMM (background)
#   host_exec COMM ARGS   same in the node netns, outside any pod cgroup
#   kubelet_start / kubelet_stop
#   pods_cleanup          kills every process in the pods' cgroups, removes
#                         the cgroups, namespaces and the temp dir
#
# Pods (namespace/name  driver/runtime  QoS  netns  ip):
#   shop/cart-5d8f7c9b6-abcde  systemd/containerd  Burstable  own 198.18.0.42
#   shop/db-0                  systemd/CRI-O       BestEffort own 198.18.0.43
#   shop/front-7c6d5b4a3-q2w3e cgroupfs/containerd Guaranteed own 198.18.0.44
#   monitoring/node-exporter-x7k2p systemd/containerd Guaranteed hostNetwork
#                              (the node netns, 198.18.0.1)

PODS_NODE=shawk-node-$$
PODS_BR=shbr$$
PODS_NODE_NAME=node-e2e
PODS_TMP=
PODS_CGROOT=
PODS_CGDIRS=()     # created by us, parents first
PODS_NETNS=()
KUBELET_PID=

_rand_hex64() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
_uuid() { cat /proc/sys/kernel/random/uuid; }

# The cgroup2 mount, as the probe finds it.
_cgroup2_mount() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i+1) == "cgroup2") { print $5; exit } break } }' /proc/self/mountinfo
}

_mkcg() { # _mkcg REL: creates each missing level, remembering it
	local rel=$1 cur=$PODS_CGROOT part
	IFS=/ read -ra parts <<<"${rel#/}"
	for part in "${parts[@]}"; do
		cur=$cur/$part
		if [ ! -d "$cur" ]; then
			mkdir "$cur" || return 1
			PODS_CGDIRS+=("$cur")
		fi
	done
}

_pod_add() { # _pod_add KEY NS NAME CONTAINER DRIVER RUNTIME QOS NETNS IP
	local key=$1 ns=$2 name=$3 ctr=$4 driver=$5 rt=$6 qos=$7 netns=$8 ip=$9
	local uid cid u_ qosl cg
	uid=$(_uuid) cid=$(_rand_hex64) u_=${uid//-/_}
	qosl=$(echo "$qos" | tr 'A-Z' 'a-z')
	if [ "$driver" = systemd ]; then
		local pre=/kubepods.slice
		local slice=kubepods
		if [ "$qos" != Guaranteed ]; then
			pre=$pre/kubepods-$qosl.slice
			slice=kubepods-$qosl
		fi
		local scope
		case $rt in
		containerd) scope=cri-containerd-$cid.scope ;;
		cri-o) scope=crio-$cid.scope ;;
		esac
		cg=$pre/$slice-pod$u_.slice/$scope
	else
		if [ "$qos" = Guaranteed ]; then
			cg=/kubepods/pod$uid/$cid
		else
			cg=/kubepods/$qosl/pod$uid/$cid
		fi
	fi
	_mkcg "$cg" || return 1
	eval "POD_${key}_NS=\$ns POD_${key}_NAME=\$name POD_${key}_UID=\$uid \
POD_${key}_CID=\$cid POD_${key}_CTR=\$ctr POD_${key}_CG=\$cg \
POD_${key}_NETNS=\$netns POD_${key}_IP=\$ip POD_${key}_RT=\$rt POD_${key}_QOS=\$qos"
	echo "$key $ns $name $uid $cid $ctr $rt $qos $netns $ip" >>"$PODS_TMP/pods.txt"
}

_write_podlist() {
	python3 - "$PODS_TMP/pods.txt" "$PODS_NODE_NAME" >"$PODS_TMP/podlist.json" <<'PY'
import json, sys
node = sys.argv[2]
owners = {"cart": ("ReplicaSet", "cart-5d8f7c9b6", "5d8f7c9b6"),
          "front": ("ReplicaSet", "front-7c6d5b4a3", "7c6d5b4a3"),
          "db": ("StatefulSet", "db", None),
          "exporter": ("DaemonSet", "node-exporter", None)}
prefix = {"containerd": "containerd://", "cri-o": "cri-o://"}
items = []
for line in open(sys.argv[1]):
    key, ns, name, uid, cid, ctr, rt, qos, netns, ip = line.split()
    kind, oname, h = owners[key]
    labels = {"app": ctr}
    if h:
        labels["pod-template-hash"] = h
    host = netns == "node"
    items.append({
        "metadata": {"name": name, "namespace": ns, "uid": uid, "labels": labels,
                     "creationTimestamp": "2024-05-14T08:12:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": oname,
                                          "uid": "00000000-0000-4000-8000-000000000001",
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"nodeName": node, "hostNetwork": host,
                 "containers": [{"name": ctr, "image": "registry.local/%s:1.0" % ctr}]},
        "status": {"phase": "Running", "hostIP": "198.18.0.1", "podIP": ip,
                   "podIPs": [{"ip": ip}], "qosClass": qos,
                   "startTime": "2024-05-14T08:12:00Z",
                   "containerStatuses": [{"name": ctr, "ready": True, "restartCount": 0,
                                          "state": {"running": {"startedAt": "2024-05-14T08:12:03Z"}},
                                          "image": "registry.local/%s:1.0" % ctr, "imageID": "",
                                          "containerID": prefix[rt] + cid, "started": True}]},
    })
json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}, sys.stdout, indent=1)
PY
}

kubelet_start() {
	rm -f "$PODS_TMP/kubelet.port"
	python3 tests/integration/lib/kubelet_server.py serve --dir "$PODS_TMP/pki" \
		--token-file "$PODS_TMP/token" --pods "$PODS_TMP/podlist.json" \
		--port "${KUBELET_PORT:-0}" --port-file "$PODS_TMP/kubelet.port" \
		--control "$PODS_TMP/kubelet.control" 2>>"$PODS_TMP/kubelet.log" &
	KUBELET_PID=$!
	wait_for test -s "$PODS_TMP/kubelet.port" || return 1
	KUBELET_PORT=$(cat "$PODS_TMP/kubelet.port")
	export SHAWK_KUBELET_URL=https://127.0.0.1:$KUBELET_PORT
}

kubelet_stop() {
	[ -n "$KUBELET_PID" ] || return 0
	kill "$KUBELET_PID" 2>/dev/null
	wait "$KUBELET_PID" 2>/dev/null
	KUBELET_PID=
}

_netns_add() { # _netns_add NETNS IP INDEX: a pod-like netns on the bridge
	local ns=$1 ip=$2 i=$3
	ip netns add "$ns" || return 1
	PODS_NETNS+=("$ns")
	ip link add "shp$i-$$" netns "$PODS_NODE" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$PODS_NODE" link set "shp$i-$$" master "$PODS_BR" up
	ip -n "$ns" link set lo up
	ip -n "$ns" addr add "$ip/24" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add default via 198.18.0.1
}

# remote_setup: a pod of another node at 198.18.0.99 (netns
# shawk-pod-remote-$$). Its process runs in a cgroup of no pod of this
# node: this node's kubelet does not list it, so only its IP can name it.
remote_setup() {
	_netns_add "shawk-pod-remote-$$" 198.18.0.99 9 || return 1
	_mkcg /shawk-e2e-remote-$$
}

remote_exec() {
	local comm=$1; shift
	_run_in "shawk-pod-remote-$$" "$PODS_CGROOT/shawk-e2e-remote-$$" "$comm" "$@"
}

pods_setup() {
	PODS_TMP=$(mktemp -d /tmp/shawk-pods.XXXXXX)
	PODS_CGROOT=$(_cgroup2_mount)
	[ -n "$PODS_CGROOT" ] || skip "no cgroup2 hierarchy mounted"
	command -v openssl >/dev/null || skip "needs openssl"
	: >"$PODS_TMP/pods.txt"

	ip netns add "$PODS_NODE" || return 1
	PODS_NETNS+=("$PODS_NODE")
	ip -n "$PODS_NODE" link set lo up
	ip -n "$PODS_NODE" link add "$PODS_BR" type bridge
	ip -n "$PODS_NODE" addr add 198.18.0.1/24 dev "$PODS_BR"
	ip -n "$PODS_NODE" link set "$PODS_BR" up
	local key ip i=0
	for key in cart db front; do
		case $key in
		cart) ip=198.18.0.42 ;;
		db) ip=198.18.0.43 ;;
		front) ip=198.18.0.44 ;;
		esac
		_netns_add "shawk-pod-$key-$$" "$ip" "$i" || return 1
		i=$((i + 1))
	done
	_pod_add cart shop cart-5d8f7c9b6-abcde cart systemd containerd Burstable shawk-pod-cart-$$ 198.18.0.42 || return 1
	_pod_add db shop db-0 postgres systemd cri-o BestEffort shawk-pod-db-$$ 198.18.0.43 || return 1
	_pod_add front shop front-7c6d5b4a3-q2w3e front cgroupfs containerd Guaranteed shawk-pod-front-$$ 198.18.0.44 || return 1
	_pod_add exporter monitoring node-exporter-x7k2p node-exporter systemd containerd Guaranteed node 198.18.0.1 || return 1
	_mkcg /shawk-e2e-host-$$ || return 1
	_write_podlist

	python3 tests/integration/lib/kubelet_server.py certs "$PODS_TMP/pki" || return 1
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PODS_TMP/token"
	echo ok >"$PODS_TMP/kubelet.control"
	export SHAWK_KUBELET_TOKEN_FILE=$PODS_TMP/token
	export SHAWK_KUBELET_CA_FILE=$PODS_TMP/pki/ca.crt
	export SHAWK_NODE_NAME=$PODS_NODE_NAME
	kubelet_start
}

_netns_of() { # key -> netns name
	local v=POD_$1_NETNS
	[ "${!v}" = node ] && echo "$PODS_NODE" || echo "${!v}"
}

# pod_exec KEY COMM holder-args... (background; the process is in the pod's
# cgroup before it opens any socket)
pod_exec() {
	local key=$1 comm=$2; shift 2
	local cgv=POD_${key}_CG
	_run_in "$(_netns_of "$key")" "$PODS_CGROOT${!cgv}" "$comm" "$@"
}

host_exec() {
	local comm=$1; shift
	_run_in "$PODS_NODE" "$PODS_CGROOT/shawk-e2e-host-$$" "$comm" "$@"
}

_run_in() {
	local ns=$1 cg=$2 comm=$3; shift 3
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec ip netns exec "$@"' \
		_ "$cg" "$ns" python3 - "$comm" tests/integration/lib/holder.py "$@" <<'PY' &
import ctypes, runpy, sys
ctypes.CDLL(None).prctl(15, sys.argv[1].encode(), 0, 0, 0)
script = sys.argv[2]
sys.argv = sys.argv[2:]
runpy.run_path(script, run_name="__main__")
PY
	disown $!
}

pods_cleanup() {
	kubelet_stop
	local d i
	# Kill every process in our cgroups (they are ours alone), deepest first.
	for ((i = ${#PODS_CGDIRS[@]} - 1; i >= 0; i--)); do
		d=${PODS_CGDIRS[i]}
		[ -d "$d" ] || continue
		if [ -e "$d/cgroup.kill" ]; then
			echo 1 >"$d/cgroup.kill" 2>/dev/null
		else
			xargs -r kill -9 <"$d/cgroup.procs" 2>/dev/null
		fi
	done
	for ((i = ${#PODS_CGDIRS[@]} - 1; i >= 0; i--)); do
		d=${PODS_CGDIRS[i]}
		local n
		for n in $(seq 1 50); do
			rmdir "$d" 2>/dev/null && break
			[ -d "$d" ] || break
			sleep 0.1
		done
	done
	for d in "${PODS_NETNS[@]}"; do ip netns del "$d" 2>/dev/null; done
	[ -n "$PODS_TMP" ] && rm -rf "$PODS_TMP"
}
