#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak test (issue 18), not part of `make test`: an agent runs for
# SOAK_MINUTES (default 30) in polling or streaming mode (SOAK_MODE) while
# short-lived connections churn on loopback, the CMDB is restarted every
# few minutes and a kubelet stand-in flaps between answering, failing and
# hanging. Every minute it samples the agent's RSS and open fds and the
# CMDB's row counts. At the end: nothing grew without bound (RSS and fds of
# the last third within 25% / 16 of the middle third), nothing was lost
# (streaming: the churn's connection count equals the CMDB's
# connections_total for it; polling: never above it)
# and the agent exits within 5 s of SIGTERM.
#
#   sudo SOAK_MINUTES=30 SOAK_MODE=polling tests/soak/soak.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
command -v openssl >/dev/null || skip "needs openssl"

minutes=${SOAK_MINUTES:-30}
mode=${SOAK_MODE:-polling}
cmdb_test_begin

standin_kubelet_certs token
echo '{"kind":"PodList","items":[{"metadata":{"name":"soak","namespace":"default","uid":"u-soak"},"status":{"podIP":"198.18.64.50"}}]}' >"$tmp/pods.json"
standin_kubelet_start

# Churn: a listener and a client making one short connection every 50 ms,
# counting them.
cat >"$tmp/churn.py" <<PY
import os, socket, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(512)
port = s.getsockname()[1]
def serve():
    while True:
        c, _ = s.accept(); c.recv(1); c.close()
threading.Thread(target=serve, daemon=True).start()
n = 0
while not os.path.exists("$tmp/stop"):
    c = socket.create_connection(("127.0.0.1", port)); c.send(b"x"); time.sleep(0.2); c.close()
    n += 1
    open("$tmp/count.tmp", "w").write(str(n)); os.rename("$tmp/count.tmp", "$tmp/count")
    time.sleep(0.05)
PY
pyrun soak-churn "$tmp/churn.py"
pids+=($!)

SHAWK_KUBELET_URL="https://127.0.0.1:$(cat "$tmp/kubelet.port")" SHAWK_KUBELET_TOKEN_FILE="$tmp/token" \
	SHAWK_KUBELET_CA_FILE="$tmp/pki/ca.crt" SHAWK_KUBELET_REFRESH=2s \
	"$SHAWK_BIN" probe --cmdb "$CMDB" --mode "$mode" --interval 500ms --flush-interval 5s \
	--include-loopback >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!

echo "# minute rss_kb fds flows seen_conns pending"
samples=()
for m in $(seq 1 "$minutes"); do
	case $((m % 5)) in
	1) echo ok >"$tmp/kubelet.ctl" ;;
	2) echo 500 >"$tmp/kubelet.ctl" ;;
	3) echo "slow 15" >"$tmp/kubelet.ctl" ;;
	4) scripts/pg-throwaway.sh ctl "$PGDIR" -m fast -w stop >/dev/null 2>&1
	   sleep 20
	   scripts/pg-throwaway.sh start "$PGDIR" >/dev/null ;;
	esac
	sleep $((m % 5 == 4 ? 40 : 60))
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$probe_pid/status")
	fds=$(ls "/proc/$probe_pid/fd" | wc -l)
	flows=$(psql_val "SELECT count(*) FROM flows" 2>/dev/null || echo -)
	seen=$(psql_val "SELECT count(*) FROM seen_conns" 2>/dev/null || echo -)
	echo "# $m $rss $fds $flows $seen"
	samples+=("$rss $fds")
done

touch "$tmp/stop"
sleep 12 # two flushes after the churn stops
made=$(cat "$tmp/count")
t0=$(date +%s%N)
kill -TERM "$probe_pid"
wait "$probe_pid"
took=$(( ($(date +%s%N) - t0) / 1000000 ))
probe_pid=
check "SIGTERM to exit ${took}ms (<= 5000)" test "$took" -le 5000
got=$(psql_val "SELECT coalesce(sum(connections_total), 0) FROM flows WHERE comm = 'soak-churn' AND direction = 'active'")
if [ "$mode" = streaming ]; then
	check "nothing lost or counted twice: $made connections made, $got recorded" test "$got" = "$made"
else
	# Polling sees what is open at each scan: a connection shorter than
	# the interval may fall between two; none may count twice.
	check "none counted twice: $made connections made, $got recorded" test "$got" -le "$made"
fi

third=$((minutes / 3))
if [ "$third" -ge 1 ]; then
	mid=(${samples[$third]}) last=(${samples[$((minutes - 1))]})
	check "RSS bounded (${mid[0]} kB at minute $((third + 1)), ${last[0]} kB at the end)" \
		test "${last[0]}" -le $(( mid[0] * 125 / 100 ))
	check "fds bounded (${mid[1]} -> ${last[1]})" test "${last[1]}" -le $(( mid[1] + 16 ))
fi
finish
