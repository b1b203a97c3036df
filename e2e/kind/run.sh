#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End-to-end test on a real Kubernetes cluster made with kind. Needs docker,
# kind, kubectl and helm, and a registry for kind's node image, so it runs
# on a hosted CI runner (.github/workflows/kind-e2e.yml), not on machines
# without registry access.
#
# Creates a cluster, builds the image and loads it into the nodes, installs
# the chart with the bundled PostgreSQL, deploys a client -> server ->
# database app, then asserts that `shawk look --pod <server pod>` shows both
# neighbours. KEEP=1 leaves the cluster up.
set -euo pipefail
cd "$(dirname "$0")/../.."

CLUSTER=${CLUSTER:-shawk-e2e}
IMAGE_TAG=${IMAGE_TAG:-e2e}
KEEP=${KEEP:-0}
WAIT_SECS=${WAIT_SECS:-240}

for tool in docker kind kubectl helm; do
	command -v "$tool" >/dev/null || { echo "e2e/kind: needs $tool" >&2; exit 2; }
done

cleanup() {
	if [ "$KEEP" != 1 ]; then
		kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

kind create cluster --name "$CLUSTER" --config e2e/kind/cluster.yaml --wait 180s
docker build --network=host -t "shawk:$IMAGE_TAG" .
kind load docker-image "shawk:$IMAGE_TAG" --name "$CLUSTER"

# kind's kubelets serve self-signed certificates: kubelet.insecure=true.
helm install shawk ./helm/shawk --namespace shawk --create-namespace \
	--set image.repository=shawk --set image.tag="$IMAGE_TAG" \
	--set postgres.enabled=true --set kubelet.insecure=true \
	--set probe.flushInterval=5s --wait --timeout 5m

kubectl apply -f e2e/kind/app.yaml
for d in database server client; do
	kubectl -n shawk-e2e rollout status "deploy/$d" --timeout 180s
done

server_pod=$(kubectl -n shawk-e2e get pod -l app=server -o jsonpath='{.items[0].metadata.name}')
deadline=$(( $(date +%s) + WAIT_SECS ))
while :; do
	out=$(kubectl -n shawk exec ds/shawk -c probe -- \
		shawk look --pod "shawk-e2e/$server_pod" --depth 1 2>&1 || true)
	if grep -q '<--.*shawk-e2e/client-' <<<"$out" &&
		grep -q -- '-->.*shawk-e2e/database-' <<<"$out"; then
		echo "$out"
		echo "ok - look --pod shows the client and the database around the server"
		exit 0
	fi
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "$out"
		echo "not ok - look --pod did not show both neighbours within ${WAIT_SECS}s"
		kubectl -n shawk logs ds/shawk -c probe --tail 50 || true
		exit 1
	fi
	sleep 10
done
