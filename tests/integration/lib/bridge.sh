# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Test hosts on one bridge (sourced after common.sh): each host its own
# network namespace, joined by a veth to a bridge in namespace SW.

# bridge_hosts SW TAG NS:ADDR... : veths "<TAG>i<n>-$$" / "<TAG>o<n>-$$",
# ADDR/24 in each NS. Returns 1 when SW cannot be created.
bridge_hosts() {
	local sw=$1 tag=$2 i=0 pair ns addr
	shift 2
	ip netns add "$sw" || return 1
	ip -n "$sw" link add br0 type bridge
	ip -n "$sw" link set br0 up
	for pair in "$@"; do
		ns=${pair%%:*} addr=${pair#*:}
		i=$((i + 1))
		ip netns add "$ns"
		ip link add "${tag}i$i-$$" type veth peer name "${tag}o$i-$$"
		ip link set "${tag}i$i-$$" netns "$ns"
		ip link set "${tag}o$i-$$" netns "$sw"
		ip -n "$sw" link set "${tag}o$i-$$" master br0 up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$addr/24" dev "${tag}i$i-$$"
		ip -n "$ns" link set "${tag}i$i-$$" up
	done
}

H=tests/integration/lib/holder.py
inns() { # inns NS COMM ARGS... : a holder in a netns, in the background
	local ns=$1 comm=$2
	shift 2
	ip netns exec "$ns" bash -c ". tests/integration/lib/common.sh; pyrun $comm $H $*; wait" &
}
