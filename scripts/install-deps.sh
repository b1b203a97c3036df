#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian packages shawk needs to build and test. Idempotent:
# does nothing (and needs no network) when everything is present.
set -euo pipefail

pkgs=(
	gcc make pkg-config clang llvm bpftool
	libbpf-dev libelf-dev zlib1g-dev libpq-dev libcurl4-openssl-dev
	libcjson-dev libcmocka-dev libmicrohttpd-dev libgraphviz-dev libmnl-dev
	conntrack ipvsadm
	iproute2 procps postgresql graphviz python3 python3-yaml openssl
	shellcheck docker.io debootstrap chromium prometheus
)

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: ${missing[*]} (run as root, or: apt-get install ${missing[*]})" >&2
	exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
