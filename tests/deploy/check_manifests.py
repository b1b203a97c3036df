# SPDX-License-Identifier: MIT
"""Checks deploy/k8s and helm/shawk: every YAML parses, the DaemonSet has the
security context, mounts and env the agent needs, and the chart (rendered
with helmlite) agrees with the plain manifests on the fields that matter.
Prints "ok - NAME" / "not ok - NAME" lines."""
import glob
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(__file__))
import helmlite  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
failures = 0


def check(name, cond, detail=""):
    global failures
    print(("ok - " if cond else "not ok - ") + name + ("" if cond or not detail else " (%s)" % detail))
    if not cond:
        failures += 1


def load(pattern):
    docs = []
    for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
        try:
            for d in yaml.safe_load_all(open(path)):
                if d:
                    docs.append(d)
            check("parses: " + os.path.relpath(path, ROOT), True)
        except yaml.YAMLError as e:
            check("parses: " + os.path.relpath(path, ROOT), False, str(e).splitlines()[0])
    return docs


def find(docs, kind, name_re=".*"):
    return [d for d in docs if d.get("kind") == kind and re.fullmatch(name_re, d["metadata"]["name"])]


NEEDED_CAPS = {"BPF", "PERFMON", "NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "SYS_RESOURCE"}
NEEDED_MOUNTS = {
    "/host/proc": ("/proc", True),
    "/sys/fs/cgroup": ("/sys/fs/cgroup", None),
    "/sys/fs/bpf": ("/sys/fs/bpf", None),
    "/sys/kernel/tracing": ("/sys/kernel/tracing", None),
    "/sys/kernel/btf": ("/sys/kernel/btf", None),
}


def probe_container(ds):
    cs = [c for c in ds["spec"]["template"]["spec"]["containers"] if c["name"] == "probe"]
    return cs[0] if cs else None


def check_daemonset(label, ds, privileged=False, metrics=True):
    spec = ds["spec"]["template"]["spec"]
    c = probe_container(ds)
    check(label + ": has the probe container", c is not None)
    if c is None:
        return
    check(label + ": hostPID", spec.get("hostPID") is True)
    check(label + ": tolerates every taint", {"operator": "Exists"} in (spec.get("tolerations") or []))
    sc = c.get("securityContext", {})
    if privileged:
        check(label + ": privileged opt-in", sc.get("privileged") is True)
    else:
        check(label + ": not privileged", sc.get("privileged") is False)
        caps = sc.get("capabilities", {})
        add = set(caps.get("add", []))
        check(label + ": capabilities added", NEEDED_CAPS <= add, "missing %s" % (NEEDED_CAPS - add))
        check(label + ": no capability beyond the documented ones", add <= NEEDED_CAPS | {"DAC_READ_SEARCH"}, str(add))
        check(label + ": drops ALL", "ALL" in caps.get("drop", []))
        check(label + ": read-only root filesystem", sc.get("readOnlyRootFilesystem") is True)
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for path, (host, ro) in NEEDED_MOUNTS.items():
        m = mounts.get(path)
        v = vols.get(m["name"]) if m else None
        good = m is not None and v is not None and v.get("hostPath", {}).get("path") == host
        if ro:
            good = good and m.get("readOnly") is True
        check(label + ": mounts host %s at %s%s" % (host, path, " read-only" if ro else ""), good)
    env = {e["name"]: e for e in c.get("env", [])}
    check(label + ": SHAWK_HOST_PROC=/host/proc", env.get("SHAWK_HOST_PROC", {}).get("value") == "/host/proc")
    check(label + ": NODE_NAME from the downward API",
          env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName")
    check(label + ": NODE_IP from the downward API",
          env.get("NODE_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.hostIP")
    check(label + ": SHAWK_CMDB_URL from a Secret", "secretKeyRef" in env.get("SHAWK_CMDB_URL", {}).get("valueFrom", {}))
    res = c.get("resources", {})
    check(label + ": resource requests and limits", bool(res.get("requests")) and bool(res.get("limits")))
    check(label + ": SHAWK_HEARTBEAT_FILE kept for `shawk health`",
          env.get("SHAWK_HEARTBEAT_FILE", {}).get("value") == "/run/shawk/heartbeat")
    if metrics:
        # The endpoints on the pod's address: the kubelet's probes and
        # Prometheus reach it there (the agent has no host network).
        port = {p.get("name"): p for p in c.get("ports", [])}.get("metrics", {})
        listen = env.get("SHAWK_METRICS_LISTEN", {}).get("value", "")
        check(label + ": serves /metrics and /healthz on the pod's address",
              port.get("containerPort") and listen == "0.0.0.0:%d" % port["containerPort"], listen)
        check(label + ": a bound on connection series", int(env.get("SHAWK_METRICS_MAX_SERIES", {}).get("value") or 0) > 0)
        for probe in ("livenessProbe", "readinessProbe"):
            hg = c.get(probe, {}).get("httpGet", {})
            check(label + ": %s is httpGet /healthz on the metrics port" % probe,
                  hg.get("path") == "/healthz" and hg.get("port") == "metrics", str(c.get(probe)))
        ann = ds["spec"]["template"]["metadata"].get("annotations") or {}
        check(label + ": pods annotated for Prometheus",
              ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port.get("containerPort")))
    else:
        live = c.get("livenessProbe", {}).get("exec", {}).get("command", [])
        check(label + ": liveness probe runs shawk health", live[:2] == ["shawk", "health"])
        check(label + ": no endpoint, no readiness probe", "SHAWK_METRICS_LISTEN" not in env and "readinessProbe" not in c)
    check(label + ": image entrypoint args", c.get("args") == ["probe"])


def essentials(ds):
    """The fields that must agree between the chart and the plain YAML."""
    spec = ds["spec"]["template"]["spec"]
    c = probe_container(ds)
    vols = {v["name"]: v.get("hostPath", {}).get("path") or "emptyDir" for v in spec["volumes"]}
    env = {}
    for e in c["env"]:
        env[e["name"]] = e.get("value") if "value" in e else sorted(e["valueFrom"].keys())
    return {
        "hostPID": spec.get("hostPID"),
        "tolerations": spec.get("tolerations"),
        "securityContext": c.get("securityContext"),
        "mounts": sorted((m["mountPath"], vols[m["name"]], bool(m.get("readOnly")), m.get("mountPropagation"))
                         for m in c["volumeMounts"]),
        "env": env,
        "args": c.get("args"),
        "liveness": c.get("livenessProbe"),
        "readiness": c.get("readinessProbe"),
        "ports": c.get("ports"),
        "annotations": ds["spec"]["template"]["metadata"].get("annotations"),
        "resources": c.get("resources"),
        "init": [i["args"] for i in spec.get("initContainers", [])],
    }


plain = load("deploy/k8s/*.yaml")
for kind in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "DaemonSet",
             "StatefulSet", "Service"):
    check("deploy/k8s has a %s" % kind, len(find(plain, kind)) >= 1)
roles = find(plain, "ClusterRole")
rules = roles[0]["rules"] if roles else []
check("ClusterRole allows get nodes/proxy (kubelet /pods)",
      any("nodes/proxy" in r["resources"] and "get" in r["verbs"] for r in rules))
check("ClusterRole allows list services (Service names), nothing more on them",
      any(r["resources"] == ["services"] and r["verbs"] == ["list"] for r in rules))
check("ClusterRole grants nothing but get, and list on services",
      all(r["verbs"] == ["get"] or (r["resources"] == ["services"] and r["verbs"] == ["list"])
          for r in rules))
ds_plain = find(plain, "DaemonSet")[0]
check_daemonset("deploy/k8s DaemonSet", ds_plain)

chart = os.path.join(ROOT, "helm", "shawk")
docs, notes = helmlite.render_chart(chart, {"cmdb.url": "postgresql://u@db/shawk"})
ds_chart = find(docs, "DaemonSet")[0]
check_daemonset("helm DaemonSet", ds_chart)
ep, ec = essentials(ds_plain), essentials(ds_chart)
for k in ep:
    check("helm and deploy/k8s agree on " + k, ep[k] == ec[k], "plain=%r chart=%r" % (ep[k], ec[k]))
croles = find(docs, "ClusterRole")
check("helm and deploy/k8s grant the same ClusterRole rules",
      croles and croles[0]["rules"] == rules, "plain=%r chart=%r" % (rules, croles and croles[0]["rules"]))
check("NOTES.txt shows the kubectl exec look command", "kubectl -n shawk exec ds/shawk" in notes and "shawk look --pod" in notes)
check("helm without postgres creates no StatefulSet", not find(docs, "StatefulSet"))
sec = find(docs, "Secret")
check("helm Secret carries cmdb.url", sec and sec[0]["stringData"]["url"] == "postgresql://u@db/shawk")

docs, _ = helmlite.render_chart(chart, {"postgres.enabled": "true"})
check("helm with postgres.enabled has a StatefulSet + Service",
      bool(find(docs, "StatefulSet")) and bool(find(docs, "Service")))
sec = find(docs, "Secret")
check("helm bundled postgres URL points at its Service",
      sec and "@shawk-postgres.shawk.svc:5432/shawk" in sec[0]["stringData"]["url"])

docs, _ = helmlite.render_chart(chart, {"cmdb.existingSecret": "mine", "cmdb.existingSecretKey": "dsn"})
ds = find(docs, "DaemonSet")[0]
env = {e["name"]: e for e in probe_container(ds)["env"]}
check("helm existingSecret is used and no Secret is created",
      env["SHAWK_CMDB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "mine", "key": "dsn"} and not find(docs, "Secret"))

docs, _ = helmlite.render_chart(chart, {"cmdb.url": "x", "privileged": "true", "kubelet.insecure": "true",
                                        "priorityClassName": "system-node-critical",
                                        "nodeSelector": "{kubernetes.io/os: linux}"})
ds = find(docs, "DaemonSet")[0]
check_daemonset("helm privileged DaemonSet", ds, privileged=True)
spec = ds["spec"]["template"]["spec"]
check("helm priorityClassName and nodeSelector pass through",
      spec.get("priorityClassName") == "system-node-critical" and spec.get("nodeSelector") == {"kubernetes.io/os": "linux"})
env = {e["name"]: e.get("value") for e in probe_container(ds)["env"]}
check("helm kubelet.insecure sets SHAWK_KUBELET_INSECURE", env.get("SHAWK_KUBELET_INSECURE") == "true")

# Endpoints off: back to the heartbeat file; other port and bound pass through.
docs, _ = helmlite.render_chart(chart, {"cmdb.url": "x", "metrics.enabled": "false"})
check_daemonset("helm DaemonSet without metrics", find(docs, "DaemonSet")[0], metrics=False)
docs, _ = helmlite.render_chart(chart, {"cmdb.url": "x", "metrics.port": "9100", "metrics.maxSeries": "500",
                                        "metrics.scrapeAnnotations": "false"})
ds = find(docs, "DaemonSet")[0]
c = probe_container(ds)
env = {e["name"]: e.get("value") for e in c["env"]}
check("helm metrics.port and metrics.maxSeries pass through",
      env.get("SHAWK_METRICS_LISTEN") == "0.0.0.0:9100" and env.get("SHAWK_METRICS_MAX_SERIES") == "500"
      and c["ports"][0]["containerPort"] == 9100)
check("helm metrics.scrapeAnnotations=false leaves the pods unannotated",
      not ds["spec"]["template"]["metadata"].get("annotations"))

try:
    helmlite.render_chart(chart, {})
    check("helm refuses to render without a CMDB", False)
except helmlite.TemplateError as e:
    check("helm refuses to render without a CMDB", "cmdb.url" in str(e))

# The optional web view (shawk serve): a Deployment + ClusterIP Service,
# read-only credentials, httpGet probes, nothing privileged.
def check_ui(label, docs, secret):
    deps = find(docs, "Deployment", r".*-ui")
    svcs = find(docs, "Service", r".*-ui")
    check(label + ": a ui Deployment and Service", len(deps) == 1 and len(svcs) == 1)
    if not deps or not svcs:
        return None
    d, svc = deps[0], svcs[0]
    check(label + ": Service is ClusterIP on 8080 named shawk-ui",
          svc["spec"].get("type") == "ClusterIP" and svc["metadata"]["name"] == "shawk-ui"
          and svc["spec"]["ports"][0]["port"] == 8080)
    sel = svc["spec"]["selector"]
    tl = d["spec"]["template"]["metadata"]["labels"]
    check(label + ": Service selects the ui pods only",
          all(tl.get(k) == v for k, v in sel.items()) and sel.get("app.kubernetes.io/component") == "ui")
    spec = d["spec"]["template"]["spec"]
    c = spec["containers"][0]
    check(label + ": runs shawk serve", c.get("args") == ["serve"])
    env = {e["name"]: e for e in c.get("env", [])}
    check(label + ": listens on all addresses of the pod",
          env.get("SHAWK_SERVE_LISTEN", {}).get("value") == "0.0.0.0:8080")
    ref = env.get("SHAWK_CMDB_URL", {}).get("valueFrom", {}).get("secretKeyRef", {})
    check(label + ": reads the reader credentials, not the agents'", ref.get("name") == secret, str(ref))
    for probe in ("livenessProbe", "readinessProbe"):
        hg = c.get(probe, {}).get("httpGet", {})
        check(label + ": %s is httpGet /healthz" % probe, hg.get("path") == "/healthz" and hg.get("port") == "http")
    sc = c.get("securityContext", {})
    check(label + ": unprivileged, read-only, drops ALL",
          sc.get("allowPrivilegeEscalation") is False and sc.get("readOnlyRootFilesystem") is True
          and sc.get("capabilities", {}).get("drop") == ["ALL"] and "add" not in sc.get("capabilities", {}))
    check(label + ": not root", spec.get("securityContext", {}).get("runAsNonRoot") is True)
    check(label + ": no hostPID, no host network", not spec.get("hostPID") and not spec.get("hostNetwork"))
    check(label + ": resource requests and limits", bool(c.get("resources", {}).get("requests"))
          and bool(c.get("resources", {}).get("limits")))
    return {"args": c.get("args"), "env": sorted(env), "securityContext": sc,
            "probes": [c.get("livenessProbe"), c.get("readinessProbe")], "ports": c.get("ports"),
            "podSecurityContext": spec.get("securityContext"),
            "service": (svc["spec"].get("type"), svc["spec"]["ports"])}


ui_plain = check_ui("deploy/k8s ui", plain, "shawk-ui-cmdb")
docs, notes = helmlite.render_chart(chart, {"cmdb.url": "x", "ui.enabled": "true",
                                            "ui.cmdb.url": "postgresql://alice@db/shawk"})
ui_chart = check_ui("helm ui", docs, "shawk-ui-cmdb")
check("helm ui and deploy/k8s ui agree", ui_plain is not None and ui_plain == ui_chart,
      "plain=%r chart=%r" % (ui_plain, ui_chart))
sec = [d for d in find(docs, "Secret") if d["metadata"]["name"] == "shawk-ui-cmdb"]
check("helm ui Secret carries ui.cmdb.url", sec and sec[0]["stringData"]["url"] == "postgresql://alice@db/shawk")
check("NOTES.txt shows the port-forward to the ui", "kubectl -n shawk port-forward svc/shawk-ui 8080" in notes
      and "http://127.0.0.1:8080/" in notes)
docs, notes = helmlite.render_chart(chart, {"cmdb.url": "x"})
check("helm without ui.enabled has no ui", not find(docs, "Deployment") and "svc/shawk-ui" not in notes)
docs, _ = helmlite.render_chart(chart, {"postgres.enabled": "true", "ui.enabled": "true"})
check_ui("helm ui with bundled postgres", docs, "shawk-ui-cmdb")
sec = [d for d in find(docs, "Secret") if d["metadata"]["name"] == "shawk-ui-cmdb"]
check("helm bundled postgres: ui logs in as shawk_ui",
      sec and sec[0]["stringData"]["url"].startswith("postgresql://shawk_ui:"))
cms = find(docs, "ConfigMap", r".*-postgres-init")
check("helm bundled postgres creates shawk_ui IN ROLE shawk_reader at first start",
      cms and "IN ROLE shawk_reader" in list(cms[0]["data"].values())[0])
try:
    helmlite.render_chart(chart, {"cmdb.url": "x", "ui.enabled": "true"})
    check("helm ui refuses to render without reader credentials", False)
except helmlite.TemplateError as e:
    check("helm ui refuses to render without reader credentials", "ui.cmdb.url" in str(e))

# values.yaml is documented line by line: every key has a comment above it
# (nested keys under a documented map, such as resources.requests, inherit).
lines = open(os.path.join(chart, "values.yaml")).read().splitlines()
undocumented = []
for i, line in enumerate(lines):
    m = re.match(r"^( *)([A-Za-z][\w]*):", line)
    if not m or len(m.group(1)) > 2:
        continue
    prev = lines[i - 1].strip() if i else ""
    if not prev.startswith("#"):
        undocumented.append(m.group(2))
check("values.yaml documents every key", not undocumented, ", ".join(undocumented))

sys.exit(1 if failures else 0)
