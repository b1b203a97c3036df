#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# serve: the map page of `shawk serve` on a large cluster, see
# bench/README.md. A throwaway CMDB holds 1000 workloads (one pod each,
# Deployments in 50 namespaces, laid out as 5 tiers of 4 per namespace)
# and 5000 edges between them (80 % to the next tier of the namespace,
# the rest anywhere). The whole map at workload level is fetched from a
# running `shawk serve` (query, fold, layout, HTML: what a browser waits
# for), median of 3. The same graph, rebuilt from the page's own edge
# table with the same labels and attributes, goes to `dot -Tsvg` (stopped
# after DOT_TIMEOUT seconds: it is the slow reference) and to
# `sfdp -Tsvg` (the engine the page uses at this size), in the same run.
# Target: page <= 2x `dot -Tsvg`.
#
# The addresses are CMDB rows only (198.19.0.0/16): no traffic is sent.
# Exit 0 when it ran (a missed target is reported, not failed), 1 when it
# could not.
set -u
cd "$(dirname "$0")/.." || exit 1
SHAWK_BIN=${SHAWK_BIN:-build/shawk}
DOT_TIMEOUT=${DOT_TIMEOUT:-120}
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "SKIP - serve bench needs PostgreSQL server binaries"; exit 0; }
command -v dot >/dev/null || { echo "SKIP - serve bench needs graphviz"; exit 0; }
command -v curl >/dev/null || { echo "SKIP - serve bench needs curl"; exit 0; }

tmp=$(mktemp -d)
[ "$(id -u)" -eq 0 ] && chmod 755 "$tmp"
serve_pid=""
cleanup() {
	[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid"
	scripts/pg-throwaway.sh stop "$tmp/pg"
	rm -rf "$tmp"
}
trap cleanup EXIT
URL=$(scripts/pg-throwaway.sh start "$tmp/pg") || exit 1
"$SHAWK_BIN" create-scheme --cmdb "$URL" >/dev/null || exit 1

echo "== serve bench ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
psql "$URL" -XAtq -v ON_ERROR_STOP=1 <<'SQL' || exit 1
SELECT 1 FROM (SELECT setseed(0.16)) x WHERE false;
CREATE TEMP TABLE w AS
SELECT i, i / 20 AS ns, (i % 20) / 4 AS tier,
       ('198.19.' || (i / 250) || '.' || (i % 250 + 1))::inet AS ip
FROM generate_series(0, 999) i;
INSERT INTO pods (uid, namespace, name, ips, owner_kind, owner_name, first_seen, last_seen)
SELECT 'u' || i, 'ns' || ns, 'wl-' || i || '-7d9c-x', ARRAY[ip], 'Deployment', 'wl-' || i,
       now() - interval '1 hour', now() FROM w;
CREATE TEMP TABLE e (c int, s int, PRIMARY KEY (c, s));
DO $$
DECLARE n int := 0; a int; b int;
BEGIN
	WHILE n < 5000 LOOP
		a := floor(random() * 1000);
		IF (a % 20) / 4 < 4 AND random() < 0.8 THEN
			b := (a / 20) * 20 + ((a % 20) / 4 + 1) * 4 + floor(random() * 4);
		ELSE
			b := floor(random() * 1000);
		END IF;
		IF a <> b THEN
			INSERT INTO e VALUES (a, b) ON CONFLICT DO NOTHING;
			IF FOUND THEN n := n + 1; END IF;
		END IF;
	END LOOP;
END $$;
INSERT INTO flows (laddr, node_name, direction, proto, lport, raddr, rport, netns, pgid, comm,
                   connections, connections_total, first_seen, last_seen)
SELECT wc.ip, 'n1', 'active', 'tcp', 0, ws.ip, 8000 + e.s % 100, 1, 100 + e.c, 'app',
       1, 1 + floor(random() * 999), now() - interval '10 min', now()
FROM e JOIN w wc ON wc.i = e.c JOIN w ws ON ws.i = e.s;
INSERT INTO passive_nodes (addr, port, proto, pgid, comm, node_name, first_seen, last_seen)
SELECT DISTINCT ws.ip, 8000 + e.s % 100, 'tcp', 100 + e.s, 'app', 'n1', now() - interval '10 min', now()
FROM e JOIN w ws ON ws.i = e.s;
ANALYZE;
SQL

PORT=$((20000 + $$ % 20000))
"$SHAWK_BIN" serve --cmdb "$URL" --listen 127.0.0.1:$PORT 2>"$tmp/serve.err" &
serve_pid=$!
for _ in $(seq 1 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done

page() { # page OUT : seconds to fetch the map
	curl -s -o "$1" -w '%{time_total}' --max-time 900 "http://127.0.0.1:$PORT/"
}
t1=$(page "$tmp/page.html") t2=$(page "$tmp/page.html") t3=$(page "$tmp/page.html")
tpage=$(printf '%s\n' "$t1" "$t2" "$t3" | sort -n | sed -n 2p)
summary=$(grep -o '<p class="summary">[^<]*' "$tmp/page.html" | sed 's/.*>//')
echo "map page, whole cluster at workload level ($summary): median ${tpage} s (runs $t1 $t2 $t3)"

# The same graph as DOT, from the page's own edge table: nodes, labels
# and attributes as serve builds them.
python3 - "$tmp/page.html" "$tmp/same.dot" <<'PY' || exit 1
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = []; self.row = None; self.cell = None; self.table = False
    def handle_starttag(self, t, a):
        if t == "table" and dict(a).get("class") == "edges": self.table = True
        if self.table and t == "tr": self.row = []
        if self.table and t == "td": self.cell = ""
    def handle_endtag(self, t):
        if t == "table": self.table = False
        if self.table and t == "td" and self.row is not None: self.row.append(self.cell); self.cell = None
        if self.table and t == "tr" and self.row: self.rows.append(self.row); self.row = None
    def handle_data(self, d):
        if self.cell is not None: self.cell += d
p = P(); p.feed(open(sys.argv[1]).read())
ids, out = {}, ['digraph shawk {', '\trankdir=LR;',
                '\tnode [shape=box, fontname="Courier,monospace", fontsize=10];',
                '\tedge [fontname="Courier,monospace", fontsize=9];']
def node(text):                      # "ns3/wl-61 (Deployment)"
    if text not in ids:
        ids[text] = len(ids)
        name, kind = text.rsplit(" (", 1)
        ns, wl = name.split("/", 1)
        out.append('\tn%d [label="%s\\n%s", href="/workload/%s/%s/%s", tooltip="%s\\n%s"];'
                   % (ids[text], name, kind[:-1], ns, kind[:-1], wl, name, kind[:-1]))
    return ids[text]
for c, s, proto, conns, _ in p.rows:
    a, b = node(c), node(s)
    out.append('\tn%d -> n%d [label="%s (%s)"];' % (a, b, proto, conns))
out.append("}")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("same graph as DOT: %d nodes, %d edges" % (len(ids), len(p.rows)))
PY

tsfdp=$( { /usr/bin/time -f %e sfdp -Tsvg "$tmp/same.dot" >/dev/null; } 2>&1 | tail -1)
echo "sfdp -Tsvg on the same graph: ${tsfdp} s"
out=$( { /usr/bin/time -f %e timeout "$DOT_TIMEOUT" dot -Tsvg "$tmp/same.dot" >/dev/null; } 2>&1)
tdot=$(tail -1 <<<"$out")
if ! grep -q 'non-zero status 124' <<<"$out"; then
	echo "dot -Tsvg on the same graph: ${tdot} s"
	ratio=$(echo "$tpage $tdot" | awk '{ printf "%.3f", $1 / $2 }')
	verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 2 ? "PASS" : "MISS") }')
	echo "map page / dot -Tsvg: ${ratio} (target <= 2): $verdict"
else
	echo "dot -Tsvg on the same graph: stopped after ${DOT_TIMEOUT} s"
	ratio=$(echo "$tpage $DOT_TIMEOUT" | awk '{ printf "%.3f", $1 / $2 }')
	echo "map page / dot -Tsvg: < ${ratio} (dot did not finish; target <= 2): PASS"
fi
echo "map page / sfdp -Tsvg: $(echo "$tpage $tsfdp" | awk '{ printf "%.2f", $1 / $2 }')"
