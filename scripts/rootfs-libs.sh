#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copies the shared libraries BINARY needs (per ldd, including the dynamic
# loader) into ROOTFS at the same paths, plus CA certificates and the few
# /etc files glibc and libpq read, for a minimal runtime image.
set -euo pipefail
bin=$1 root=$2
mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/run"
chmod 1777 "$root/tmp"
ldd "$bin" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | sort -u |
while read -r lib; do
	real=$(readlink -f "$lib")
	# 0755: the kernel needs exec permission on the ELF interpreter.
	install -D -m 0755 "$real" "$root$lib"
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/nonexistent\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
