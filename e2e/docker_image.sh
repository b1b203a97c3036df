#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the container image the way it must be built here: no registry, so
# the debian:bookworm-slim base is made locally with debootstrap and
# `docker import`, then `docker build --network=host`. Checks the image runs,
# stays small, and that the agent inside sees the host's sockets.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
. tests/integration/lib/common.sh

[ "$(id -u)" -eq 0 ] || skip "needs root (dockerd)"
command -v docker >/dev/null || skip "needs docker.io"
command -v debootstrap >/dev/null || skip "needs debootstrap"

IMAGE=shawk:ci-$$
tmp=$(mktemp -d)
started_dockerd=
cleanup() {
	docker rmi -f "$IMAGE" >/dev/null 2>&1
	if [ -n "$started_dockerd" ]; then
		kill "$started_dockerd" 2>/dev/null
		wait "$started_dockerd" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
	dockerd >"$tmp/dockerd.log" 2>&1 &
	started_dockerd=$!
	wait_for docker info >/dev/null 2>&1 || { tail -5 "$tmp/dockerd.log"; skip "dockerd does not start on this machine"; }
fi

if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
	start=$(date +%s)
	if ! debootstrap --variant=minbase bookworm "$tmp/root" >"$tmp/debootstrap.log" 2>&1; then
		tail -5 "$tmp/debootstrap.log"
		not_ok "debootstrap a bookworm base"
		finish
	fi
	tar -C "$tmp/root" -c . | docker import - debian:bookworm-slim >/dev/null
	ok "local debian:bookworm-slim base from debootstrap ($(( $(date +%s) - start ))s)"
	rm -rf "$tmp/root"
fi

start=$(date +%s)
if docker build --network=host -t "$IMAGE" . >"$tmp/build.log" 2>&1; then
	ok "docker build ($(( $(date +%s) - start ))s)"
else
	tail -30 "$tmp/build.log"
	not_ok "docker build"
	finish
fi

out=$(docker run --rm "$IMAGE" --version 2>&1)
check "docker run IMAGE --version prints the version ($out)" grep -q '^shawk ' <<<"$out"
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
check "image is at most 80 MB ($((size / 1000000)) MB)" test "$size" -le 80000000
check "entrypoint is shawk (probe --help through the default entrypoint)" \
	bash -c "docker run --rm '$IMAGE' probe --help >/dev/null"
check "shawk look is callable as in 'kubectl exec -- shawk look'" \
	bash -c "docker run --rm --entrypoint shawk '$IMAGE' look --help | grep -q Usage"

# The agent as the DaemonSet runs it: host pid namespace, host /proc, no
# privileged mode, only the capabilities the manifests grant (this
# dockerd predates CAP_BPF/CAP_PERFMON, and --privileged would ask for
# CAP_SYS_RESOURCE, which this machine does not have).
docker run --rm --pid=host --read-only --cap-drop ALL \
	--cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add NET_ADMIN --cap-add DAC_READ_SEARCH \
	-v /proc:/host/proc:ro \
	"$IMAGE" probe --once --output json >"$tmp/flows.json" 2>"$tmp/probe.err"
rc=$?
check "probe --once in the container exits 0" test $rc -eq 0 || sed 's/^/# /' "$tmp/probe.err"
check "probe --once in the container prints a JSON array" \
	python3 -c "import json,sys; assert isinstance(json.load(open(sys.argv[1])), list)" "$tmp/flows.json"
finish
