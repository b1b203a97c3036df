# SPDX-License-Identifier: MIT
# A node network namespace routing to pod namespaces the way Calico does:
# one veth per pod, the pod's address as a /32 (IPv6: /128) on its side,
# its default route through a link-local gateway the node answers by proxy
# ARP (IPv6: the node's fe80::1 on each veth), and a /32 route per pod on
# the node. No bridge, no dummy link. kube-proxy-style DNAT (iptables with
# the nft backend) is added by the caller in the node netns.
#
#   topo_init PREFIX          names netns PREFIX-node, PREFIX-<pod>
#   topo_pod NAME V4 [V6]     a pod netns with its veth and routes
#   topo_cleanup              deletes every netns made
# Sourced; needs root.

TOPO_NS=()

topo_init() { # PREFIX
	TOPO_PREFIX=$1
	TOPO_NODE=$1-node
	ip netns add "$TOPO_NODE" || return 1
	TOPO_NS+=("$TOPO_NODE")
	ip -n "$TOPO_NODE" link set lo up
	ip netns exec "$TOPO_NODE" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1
	# Proxy ARP answers for an address the node routes out of another
	# link: on a real node the uplink's default route covers the pods'
	# gateway 169.254.1.1; here a host route stands in for it.
	ip -n "$TOPO_NODE" route add 169.254.1.1/32 dev lo
	TOPO_NPODS=0
}

topo_pod() { # NAME V4 [V6]
	local name=$1 v4=$2 v6=${3:-} ns=$TOPO_PREFIX-$1
	local hv=${TOPO_PREFIX:0:6}h$TOPO_NPODS
	TOPO_NPODS=$((TOPO_NPODS + 1))
	ip netns add "$ns" || return 1
	TOPO_NS+=("$ns")
	ip -n "$ns" link set lo up
	ip link add "$hv" netns "$TOPO_NODE" type veth peer name eth0 netns "$ns" || return 1
	ip netns exec "$TOPO_NODE" sysctl -qw "net.ipv4.conf.$hv.proxy_arp=1" \
		"net.ipv6.conf.$hv.accept_dad=0"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.accept_dad=0
	ip -n "$TOPO_NODE" link set "$hv" up
	ip -n "$ns" link set eth0 up
	ip -n "$ns" addr add "$v4/32" dev eth0
	ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$ns" route add default via 169.254.1.1 dev eth0
	ip -n "$TOPO_NODE" route add "$v4/32" dev "$hv" scope link
	if [ -n "$v6" ]; then
		ip -n "$TOPO_NODE" addr add fe80::1/64 dev "$hv" nodad
		ip -n "$ns" addr add "$v6/128" dev eth0 nodad
		ip -n "$ns" -6 route add default via fe80::1 dev eth0
		ip -n "$TOPO_NODE" -6 route add "$v6/128" dev "$hv"
	fi
}

topo_cleanup() {
	local ns
	for ns in "${TOPO_NS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	TOPO_NS=()
}
