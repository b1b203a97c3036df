#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `shawk serve` in a real browser. A three-tier app (front -> api -> db,
# each in its own network namespace) is recorded by the probe daemon into
# a throwaway PostgreSQL; the pods table gets the records an agent writes
# for those pods (kubelet emulated by SQL: workloads front/Deployment,
# db/StatefulSet, and an api pod without controller whose name is an HTML
# payload). `shawk serve` runs as a login role holding only shawk_reader.
# Headless Chromium loads the map, keeps a screenshot under the build's
# test-logs, and the DOM is checked: every node and edge, a click-through
# link, hostile names as text with no script run. Then bad input (404,
# 400, 405, oversized and stalled requests) and the CMDB going down (503).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/integration/lib/common.sh
. tests/integration/lib/pg.sh
. tests/integration/lib/bridge.sh
require_root
pg_require
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || skip "needs chromium (apt-get install chromium)"
command -v curl >/dev/null || skip "needs curl"

SW=shawk-ui-sw-$$ FR=shawk-ui-fr-$$ AP=shawk-ui-ap-$$ DB=shawk-ui-db-$$
NET=198.18.16
PORT=$((20000 + $$ % 20000))
B=http://127.0.0.1:$PORT
tmp=$(mktemp -d)
artifacts=${OBJDIR:-build/rel}/test-logs
mkdir -p "$artifacts"
probe_pid="" serve_pid=""
cleanup() {
	[ -n "$probe_pid" ] && kill "$probe_pid" 2>/dev/null
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
	pkill -f "$tmp/" 2>/dev/null
	wait 2>/dev/null
	for ns in "$FR" "$AP" "$DB" "$SW"; do ip netns del "$ns" 2>/dev/null; done
	pg_stop
	rm -rf "$tmp"
}
trap cleanup EXIT

pg_test_start

bridge_hosts "$SW" su "$FR:$NET.2" "$AP:$NET.1" "$DB:$NET.3" || skip "cannot create network namespaces"
inns "$DB" ui-db server "$tmp/db" tcp:$NET.3:5432
wait_for test -f "$tmp/db" || { not_ok "db started"; finish; }
inns "$AP" ui-api relay "$tmp/ap" tcp:$NET.1:8080 tcp:$NET.3:5432:2
wait_for test -f "$tmp/ap" || { not_ok "api started"; finish; }
inns "$FR" ui-front client "$tmp/fr" tcp:$NET.1:8080:3
wait_for test -f "$tmp/fr" || { not_ok "front connected"; finish; }

"$SHAWK_BIN" probe --cmdb "$CMDB" --interval 200ms --flush-interval 1s >"$tmp/probe.out" 2>"$tmp/probe.err" &
probe_pid=$!
three() { [ "$(psql_val "SELECT count(DISTINCT comm) FROM flows WHERE comm IN ('ui-db','ui-api','ui-front')")" = 3 ]; }
wait_for three
check "probe recorded the three tiers" three
kill "$probe_pid"; wait "$probe_pid" 2>/dev/null; probe_pid=

# What an agent records for these pods (its kubelet emulated here).
EVIL='<img src=x onerror=document.body.append(String.fromCharCode(80,87,78))>'
EVIL2='<script>document.title=String.fromCharCode(80,87,78)</script>'
psql "$CMDB" -XAtq -v ON_ERROR_STOP=1 -v evil="$EVIL" -v evil2="$EVIL2" <<SQL || not_ok "pods recorded"
INSERT INTO pods (uid, namespace, name, ips, owner_kind, owner_name, first_seen, last_seen) VALUES
 ('u-front', 'shop', 'front-6d4f9-x2x', '{$NET.2}', 'Deployment', 'front', now() - interval '1 hour', now()),
 ('u-api', 'shop', :'evil', '{$NET.1}', NULL, NULL, now() - interval '1 hour', now()),
 ('u-db', 'shop', :'evil2', '{$NET.3}', 'StatefulSet', 'db', now() - interval '1 hour', now());
CREATE ROLE shawk_ui LOGIN IN ROLE shawk_reader;
SQL
READER=${CMDB/user=shawk/user=shawk_ui}
check "the reader role cannot write" bash -c "! psql '$READER' -XAtqc 'DELETE FROM flows' 2>/dev/null"

"$SHAWK_BIN" serve --cmdb "$READER" --listen 127.0.0.1:$PORT >"$tmp/serve.out" 2>"$tmp/serve.err" &
serve_pid=$!
wait_for curl -sf -o /dev/null "$B/healthz" || { not_ok "serve answers"; cat "$tmp/serve.err"; finish; }

browse() { # browse URL OUT : the DOM after load (and a screenshot with SHOT=path)
	local extra=()
	[ -n "${SHOT:-}" ] && extra=(--screenshot="$SHOT" "--window-size=1400,900")
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu \
		--disable-background-networking --disable-component-update \
		--disable-sync --no-first-run --user-data-dir="$tmp/chrome-$RANDOM" \
		"${extra[@]}" --dump-dom "$1" >"$2" 2>>"$tmp/chromium.err"
}
browse "$B/" "$tmp/map.html"
check "chromium loads the map" grep -q '<svg' "$tmp/map.html"
(cd "$tmp" && SHOT="$PWD/shot.png" browse "$B/?level=pod" "$tmp/pods.html")
SHOT="$artifacts/serve_browser.png" browse "$B/" /dev/null
check "screenshot kept as an artifact ($artifacts/serve_browser.png)" test -s "$artifacts/serve_browser.png"
browse "$B/workload/shop/Deployment/front" "$tmp/front.html"

python3 - "$tmp" "$EVIL" "$EVIL2" "$NET" <<'PY'
import html.parser, sys
tmp, evil, evil2, net = sys.argv[1:5]

class Dom(html.parser.HTMLParser):
    def __init__(self, path):
        super().__init__()
        self.tags, self.texts, self.links, self.edges = [], [], [], 0
        self.title = ""
        self._stack = []
        self.feed(open(path).read())
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self._stack.append(tag)
        if tag == "a":
            self.links.append(a.get("href") or a.get("xlink:href"))
        if tag == "g" and a.get("class") == "edge":
            self.edges += 1
    def handle_endtag(self, tag):
        if self._stack:
            self._stack.pop()
    def handle_data(self, d):
        if self._stack and self._stack[-1] == "title" and "svg" not in self._stack:
            self.title += d
        self.texts.append(d)
    def text(self):
        return "\n".join(self.texts)

def check(name, cond):
    print(("ok - " if cond else "not ok - ") + name)

m = Dom(tmp + "/map.html")
t = m.text()
check("map: workload nodes drawn", all(s in t for s in ["shop/front", "Deployment", "shop/db", "StatefulSet"]))
check("map: the api pod (no controller) drawn by its name, as text", "shop/" + evil in t)
check("map: two edges drawn", m.edges == 2)
check("map: edge labels carry port and connections", "tcp:8080 (3)" in t and "tcp:5432 (2)" in t)
check("map: edges listed with counts", t.count("tcp:8080") >= 2 and t.count("tcp:5432") >= 2)
check("map: links to the workload pages", "/workload/shop/Deployment/front" in m.links and "/workload/shop/StatefulSet/db" in m.links)
check("map: the hostile pod links to its page, escaped",
      "/pod/shop/%3Cimg%20src%3Dx%20onerror%3Ddocument.body.append%28String.fromCharCode%2880%2C87%2C78%29%29%3E" in m.links)
check("map: no element from the data (no img, no script)", "img" not in m.tags and "script" not in m.tags)
check("map: no script ran", "PWN" not in t and "PWN" not in m.title)

p = Dom(tmp + "/pods.html")
t = p.text()
check("pods: every pod drawn", all(s in t for s in ["shop/front-6d4f9-x2x", "shop/" + evil, "shop/" + evil2]))
check("pods: a <script> name stays text", "script" not in p.tags and "PWN" not in p.title and "PWN" not in t)
check("pods: two edges", p.edges == 2)

f = Dom(tmp + "/front.html")
t = f.text()
check("click-through: the front page names its workload", "Workload shop/front (Deployment)" in t)
check("click-through: front's callee is the api pod", "Callees" in t and ("shop/" + evil + " (pod)") in t)
check("click-through: front has no caller", "Callers" not in t)
PY

# Depth and the API.
curl -s "$B/workload/shop/Deployment/front?depth=2" >"$tmp/front2.html"
check "depth 2 from front reaches db" grep -q 'shop/db (StatefulSet)' "$tmp/front2.html"
curl -s "$B/workload/shop/Deployment/front" >"$tmp/front1.html"
check "depth 1 from front stops at api" bash -c "! grep -q 'StatefulSet' '$tmp/front1.html'"
curl -s "$B/host/$NET.2" >"$tmp/host.html"
check "host page: 404 for a pod's address outside pods" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' '$B/host/$NET.2')\" = 404 ]"
curl -s "$B/api/look?host=$NET.1&depth=2" >"$tmp/api.json"
"$SHAWK_BIN" look --cmdb "$READER" --host $NET.1 --depth 2 --format json >"$tmp/look.json"
check "/api/look returns look --format json" cmp -s "$tmp/api.json" "$tmp/look.json"
check "look --format svg draws the chain" bash -c "'$SHAWK_BIN' look --cmdb '$READER' --host $NET.1 --format svg | grep -q 'ui&#45;api'"

# Bad input.
code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
check "unknown path: 404" test "$(code "$B/nope")" = 404
check "bad depth: 400 with a reason" bash -c "[ \"\$(curl -s -o '$tmp/b' -w '%{http_code}' '$B/workload/shop/Deployment/front?depth=11')\" = 400 ] && grep -q 'invalid depth: expected 1 to 10' '$tmp/b'"
check "bad since: 400" test "$(code "$B/?since=yesterday")" = 400
check "unknown parameter: 400" test "$(code "$B/?q=1")" = 400
check "bad address: 400" test "$(code "$B/host/not-an-address")" = 400
check "POST: 405" test "$(code -X POST "$B/")" = 405
check "oversized request: refused" bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H \"X-Pad: \$(head -c 20000 /dev/zero | tr '\\0' a)\" '$B/')\" = 431 ]"
python3 - "$PORT" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HT")   # and nothing more
t0 = time.monotonic()
s.settimeout(30)
try:
    data = s.recv(100)
except Exception:
    data = b"timeout"
dt = time.monotonic() - t0
print(("ok - " if data == b"" and dt < 20 else "not ok - ") + "a stalled request is cut off (%.1f s)" % dt)
PY
check "serve still answers" test "$(code "$B/healthz")" = 200

# The CMDB goes away: 503, the page says so; back: 200 again.
scripts/pg-throwaway.sh ctl "$PGDIR" -m fast -w stop >/dev/null 2>&1
check "CMDB down: 503" test "$(code "$B/")" = 503
check "CMDB down: the page says so" grep -q 'the CMDB is un' "$tmp/body"
check "CMDB down: /api/look 503" test "$(code "$B/api/look?host=$NET.1")" = 503
scripts/pg-throwaway.sh start "$PGDIR" >/dev/null || not_ok "CMDB restarted"
check "CMDB back: 200 again" test "$(code "$B/")" = 200
kill "$serve_pid"; wait "$serve_pid"; rc=$?; serve_pid=
check "serve exits 0 on SIGTERM" test $rc -eq 0
finish
