#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL for make run, tests and benchmarks: initdb into DIR,
# listening only on a unix socket in DIR (listen_addresses='', no TCP).
#
#   pg-throwaway.sh start DIR   initdb if needed, start; prints the CMDB URL
#   pg-throwaway.sh stop DIR    fast shutdown (DIR is kept)
#   pg-throwaway.sh destroy DIR stop, then remove DIR and the cluster
#                               (also the one under /var/tmp, below)
#   pg-throwaway.sh url DIR     prints the libpq URI
#   pg-throwaway.sh ctl DIR ARGS...  pg_ctl ARGS on that cluster (as its owner)
#
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# `postgres` user (DIR is chowned to it).
set -euo pipefail

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|destroy|url|ctl DIR" >&2; exit 2; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || { echo "pg-throwaway: initdb not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		# From /: the caller's directory may be out of postgres's reach.
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# As root the server runs as postgres, which must be able to reach DIR: a
# checkout under a private directory (root's 0700 home, a mktemp dir) is
# out of its reach. The cluster then lives in a postgres-owned directory
# under /var/tmp named after DIR (the same for every command on DIR), and
# DIR/cluster points at it.
home=$dir
if [ "$(id -u)" -eq 0 ] && id postgres >/dev/null 2>&1 &&
	! runuser -u postgres -- test -x "$(dirname "$dir")" 2>/dev/null; then
	home=/var/tmp/shawk-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
	if [ "$cmd" = start ]; then
		mkdir -p "$home"
		chmod 700 "$home"
		ln -sfn "$home" "$dir/cluster"
	fi
fi

url() { echo "postgresql:///postgres?host=$home&user=shawk"; }

case "$cmd" in
start)
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || { echo "pg-throwaway: no postgres user to run the server as" >&2; exit 1; }
		chown postgres: "$home"
	fi
	if [ ! -f "$home/data/PG_VERSION" ]; then
		rm -rf "$home/data"
		as_owner "$bindir/initdb" -D "$home/data" -U shawk --auth=trust \
			--encoding=UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 ||
			{ cat "$home/initdb.log" >&2; exit 1; }
	fi
	if ! as_owner "$bindir/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
		as_owner "$bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 30 \
			-o "-c listen_addresses='' -c unix_socket_directories='$home' -c fsync=off -c full_page_writes=off" \
			start >/dev/null ||
			{ tail -20 "$home/server.log" >&2; exit 1; }
	fi
	url
	;;
stop | destroy)
	if [ -f "$home/data/PG_VERSION" ]; then
		as_owner "$bindir/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ "$cmd" = destroy ]; then
		[ "$home" != "$dir" ] && rm -rf "$home"
		rm -rf "$dir"
	fi
	;;
url)
	url
	;;
ctl)
	shift 2
	as_owner "$bindir/pg_ctl" -D "$home/data" "$@"
	;;
*)
	echo "usage: $0 start|stop|destroy|url|ctl DIR" >&2
	exit 2
	;;
esac
