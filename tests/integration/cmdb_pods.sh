#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `shawk look --pod/--namespace` against a CMDB filled by hand the way the
# agents fill it: a pod seen from its own node (process labelled by
# cgroup), a remote pod known only by IP from the pods table, a pod IP
# reused by a later pod, a hostNetwork pod sharing its node's address with
# plain host processes, and a pod name present in two namespaces.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
pg_test_begin
S="$SHAWK_BIN"

psql "$CMDB" -XAtq -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || not_ok "fixture rows"
INSERT INTO pods (uid, namespace, name, node_name, ips, labels, owner_kind, owner_name, containers, host_network, first_seen, last_seen) VALUES
 ('u-front', 'web', 'front-7f9c8-xk2lp', 'n1', '{198.18.0.10}', '{"app":"front"}', 'Deployment', 'front', '{front}', false, now() - interval '1 hour', now()),
 ('u-cart', 'shop', 'cart-5d8f7c9b6-abcde', 'n2', '{198.18.0.42}', '{"app":"cart"}', 'Deployment', 'cart', '{cart}', false, now() - interval '1 hour', now()),
 ('u-old', 'shop', 'cart-5d8f7c9b6-old00', 'n2', '{198.18.0.42}', '{}', 'Deployment', 'cart', '{cart}', false, now() - interval '4 hours', now() - interval '3 hours'),
 ('u-nexp', 'kube-system', 'node-exporter-q7r2s', 'n1', '{10.77.0.1}', '{}', 'DaemonSet', 'node-exporter', '{node-exporter}', true, now() - interval '1 hour', now()),
 ('u-dup-a', 'a', 'dup', 'n1', '{198.18.0.50}', '{}', NULL, NULL, '{}', false, now() - interval '1 hour', now()),
 ('u-dup-b', 'b', 'dup', 'n1', '{198.18.0.51}', '{}', NULL, NULL, '{}', false, now() - interval '1 hour', now());
-- front (n1, labelled by its cgroup) calls the cart pod on n2 (not probed).
INSERT INTO flows VALUES ('198.18.0.10', 'n1', 'active', 'tcp', 0, '198.18.0.42', 8200, 1, 7, 'front', 'front', 2, 9, now() - interval '5 minutes', now());
INSERT INTO active_nodes VALUES ('198.18.0.10', 7, 'front', 'n1', 7, NULL, '/kubepods.slice/x', 'c1', 'front', 'web', 'front-7f9c8-xk2lp', 'u-front', now() - interval '5 minutes', now());
-- Hours ago the same IP was another cart pod; a client called it then.
INSERT INTO flows VALUES ('198.18.0.11', 'n1', 'active', 'tcp', 0, '198.18.0.42', 8200, 1, 8, 'oldclient', NULL, 1, 1, now() - interval '3 hours 30 minutes', now() - interval '3 hours 20 minutes');
INSERT INTO active_nodes VALUES ('198.18.0.11', 8, 'oldclient', 'n1', 8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now() - interval '3 hours 30 minutes', now() - interval '3 hours 20 minutes');
-- The node address 10.77.0.1: a hostNetwork pod's exporter and a host
-- sshd, both called by front.
INSERT INTO flows VALUES ('198.18.0.10', 'n1', 'active', 'tcp', 0, '10.77.0.1', 9100, 1, 7, 'front', 'front', 1, 3, now() - interval '5 minutes', now());
INSERT INTO flows VALUES ('198.18.0.10', 'n1', 'active', 'tcp', 0, '10.77.0.1', 22, 1, 7, 'front', 'front', 1, 1, now() - interval '5 minutes', now());
INSERT INTO flows VALUES ('10.77.0.1', 'n1', 'passive', 'tcp', 9100, '198.18.0.10', 0, 1, 77, 'node_exporter', 'node-exporter', 1, 3, now() - interval '5 minutes', now());
INSERT INTO passive_nodes VALUES ('10.77.0.1', 9100, 'tcp', 77, 'node_exporter', 'n1', 77, NULL, '/kubepods.slice/y', 'c2', 'node-exporter', 'kube-system', 'node-exporter-q7r2s', 'u-nexp', now() - interval '5 minutes', now());
INSERT INTO flows VALUES ('10.77.0.1', 'n1', 'passive', 'tcp', 22, '198.18.0.10', 0, 1, 1, 'sshd', NULL, 1, 1, now() - interval '5 minutes', now());
INSERT INTO passive_nodes VALUES ('10.77.0.1', 22, 'tcp', 1, 'sshd', 'n1', 1, NULL, '/system.slice/ssh.service', NULL, NULL, NULL, NULL, NULL, now() - interval '5 minutes', now());
SQL

# Edge ages move with the clock: "[tcp 2 conns, AGO]".
lk() { "$S" look --cmdb "$CMDB" "$@" 2>&1 | sed -E 's/([0-9]+[smhd] ago|just now)/AGO/'; }
out=$(lk --pod web/front-7f9c8-xk2lp)
want="198.18.0.10:many (web/front-7f9c8-xk2lp front 'front', pgid=7)
├--> 10.77.0.1:22 ('sshd', pgid=1)  [tcp 1 conn, AGO]
├--> 10.77.0.1:9100 (kube-system/node-exporter-q7r2s node-exporter 'node_exporter', pgid=77)  [tcp 1 conn, AGO]
└--> 198.18.0.42:8200 (shop/cart-5d8f7c9b6-abcde not seen by an agent)  [tcp 2 conns, AGO]"
check "look --pod: local pod by cgroup, remote pod by IP" test "$out" = "$want"
[ "$out" = "$want" ] || printf '%s\n' "$out" >&2

out=$(lk --pod cart-5d8f7c9b6-abcde)
want="198.18.0.42:8200 (shop/cart-5d8f7c9b6-abcde not seen by an agent)
└<-- 198.18.0.10:many (web/front-7f9c8-xk2lp front 'front', pgid=7)  [tcp 2 conns, AGO]"
check "look --pod without NS: the remote pod, only its own lifetime's callers" test "$out" = "$want"
[ "$out" = "$want" ] || printf '%s\n' "$out" >&2

out=$(lk --pod shop/cart-5d8f7c9b6-old00 --since 5h)
want="198.18.0.42:8200 (shop/cart-5d8f7c9b6-old00 not seen by an agent)
└<-- 198.18.0.11:many ('oldclient', pgid=8)  [tcp 1 conn, last seen AGO, stale]"
check "a reused pod IP names the pod of the flow's time" test "$out" = "$want"
[ "$out" = "$want" ] || printf '%s\n' "$out" >&2

out=$(lk --pod kube-system/node-exporter-q7r2s)
want="10.77.0.1:9100 (kube-system/node-exporter-q7r2s node-exporter 'node_exporter', pgid=77)
└<-- 198.18.0.10:many (web/front-7f9c8-xk2lp front 'front', pgid=7)  [tcp 1 conn, AGO]"
check "hostNetwork pod: only its own process, found by cgroup" test "$out" = "$want"
[ "$out" = "$want" ] || printf '%s\n' "$out" >&2

out=$("$S" look --cmdb "$CMDB" --ipv4 10.77.0.1 2>&1)
check "a host process at the node address is never labelled with the hostNetwork pod" \
	bash -c "grep -qxF \"10.77.0.1:22 ('sshd', pgid=1)\" <<<\"\$1\"" _ "$out"

out=$("$S" look --cmdb "$CMDB" --namespace kube-system --format json 2>&1)
check "look --namespace --format json carries the pod" \
	bash -c "python3 -c 'import json,sys; g=json.load(sys.stdin); s=json.dumps(g); assert \"node-exporter-q7r2s\" in s and \"kube-system\" in s' <<<\"\$1\"" _ "$out"
out=$("$S" look --cmdb "$CMDB" --pod web/front-7f9c8-xk2lp --format dot 2>&1)
check "look --pod --format dot carries both pods" \
	bash -c "grep -q 'web/front-7f9c8-xk2lp' <<<\"\$1\" && grep -q 'shop/cart-5d8f7c9b6-abcde' <<<\"\$1\"" _ "$out"

"$S" look --cmdb "$CMDB" --pod dup >"$tmp/out" 2>"$tmp/err"
rc=$?
check "ambiguous pod name: exit 1 listing the namespaces" \
	bash -c "[ $rc -eq 1 ] && grep -q 'several namespaces (a, b)' '$tmp/err'"
"$S" look --cmdb "$CMDB" --pod nosuch/pod >/dev/null 2>"$tmp/err"
rc=$?
check "unknown pod: exit 1, no such pod" bash -c "[ $rc -eq 1 ] && grep -q 'no such pod' '$tmp/err'"
finish
