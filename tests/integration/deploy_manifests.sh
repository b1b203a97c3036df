#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Shipping files: every YAML parses; the DaemonSet (plain and Helm) has the
# security context, mounts and env the agent needs; chart and plain YAML
# agree; scripts are shellcheck-clean; make install(-systemd) lays out files.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh

python3 -c "import yaml" 2>/dev/null || skip "needs python3-yaml"
python3 tests/deploy/check_manifests.py || failures=$((failures + 1))

if command -v shellcheck >/dev/null; then
	for f in e2e/kind/run.sh scripts/*.sh .ci/run; do
		check "shellcheck $f" shellcheck -S warning "$f"
	done
else
	not_ok "shellcheck is installed (scripts/install-deps.sh)"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make -s install-systemd DESTDIR="$tmp" PREFIX=/usr/local >/dev/null 2>&1
check "make install puts shawk in PREFIX/bin" test -x "$tmp/usr/local/bin/shawk"
check "make install puts the man page in PREFIX/share/man/man1" \
	bash -c "grep -q '^.SH \"SHAWK LOOK\"' '$tmp/usr/local/share/man/man1/shawk.1'"
check "make install-systemd installs the unit" test -f "$tmp/etc/systemd/system/shawk.service"
check "make install-systemd installs the environment file 0600" \
	test "$(stat -c %a "$tmp/etc/default/shawk" 2>/dev/null)" = 600
check "the unit runs the installed binary" grep -q '^ExecStart=/usr/local/bin/shawk probe$' deploy/systemd/shawk.service
if command -v systemd-analyze >/dev/null; then
	# verify needs the binary at the unit's path; check syntax only.
	out=$(systemd-analyze verify deploy/systemd/shawk.service 2>&1 | grep -v -e 'Command .* is not executable' -e 'No such file' -e 'EnvironmentFile' || true)
	check "systemd-analyze verify has no complaint${out:+: $out}" test -z "$out"
fi
finish
