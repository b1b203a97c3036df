# SPDX-License-Identifier: MIT
"""Renders a Helm chart's templates with the subset of Go templates and Sprig
functions the shawk chart uses, so tests can check the chart without helm
(helm is not packaged by Debian). Unsupported syntax raises an error rather
than rendering something wrong.

Supported: {{- -}} trimming, comments, define/include/template, if/else if/
else, with, range (lists and maps), pipelines, and the functions listed in
FUNCS.
"""
import copy
import os
import re
import sys

import yaml

ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.S)


class TemplateError(Exception):
    pass


def truthy(v):
    return not (v is None or v is False or v == 0 or v == "" or v == [] or v == {})


def fmt(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return yaml.safe_dump(v, default_flow_style=True).strip()
    return str(v)


def to_yaml(v):
    if v in ({}, []):
        return "{}" if v == {} else "[]"
    return yaml.safe_dump(v, default_flow_style=False, sort_keys=False).rstrip("\n")


def indent(n, s):
    pad = " " * int(n)
    return "\n".join(pad + line if line else line for line in fmt(s).split("\n"))


def go_printf(f, *args):
    f = f.replace("%v", "%s").replace("%d", "%s")
    return f % tuple(fmt(a) for a in args)


def required(msg, v):
    if not truthy(v):
        raise TemplateError("required: " + msg)
    return v


FUNCS = {
    "nindent": lambda n, s: "\n" + indent(n, s),
    "indent": indent,
    "trunc": lambda n, s: fmt(s)[: int(n)],
    "trimSuffix": lambda suf, s: fmt(s)[: -len(suf)] if fmt(s).endswith(suf) else fmt(s),
    "quote": lambda *a: " ".join('"%s"' % fmt(x).replace('"', '\\"') for x in a),
    "default": lambda d, v=None: v if truthy(v) else d,
    "toYaml": to_yaml,
    "printf": go_printf,
    "required": required,
    "contains": lambda sub, s: fmt(sub) in fmt(s),
    "not": lambda v: not truthy(v),
    "and": lambda *a: all(truthy(x) for x in a),
    "or": lambda *a: next((x for x in a if truthy(x)), a[-1]),
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "upper": lambda s: fmt(s).upper(),
    "lower": lambda s: fmt(s).lower(),
}


def tokenize(expr):
    toks, i = [], 0
    while i < len(expr):
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "()|":
            toks.append(c)
            i += 1
        elif c == '"':
            j = i + 1
            while expr[j] != '"':
                j += 2 if expr[j] == "\\" else 1
            toks.append(("str", bytes(expr[i + 1 : j], "utf-8").decode("unicode_escape")))
            i = j + 1
        else:
            m = re.match(r"[^\s()|]+", expr[i:])
            toks.append(m.group(0))
            i += len(m.group(0))
    return toks


class Renderer:
    def __init__(self, chart_dir, values):
        self.chart = yaml.safe_load(open(os.path.join(chart_dir, "Chart.yaml")))
        self.defines = {}
        self.templates = {}
        tdir = os.path.join(chart_dir, "templates")
        for name in sorted(os.listdir(tdir)):
            text = open(os.path.join(tdir, name)).read()
            tree = self.parse(text, name)
            self.templates[name] = tree
        self.root = {
            "Values": values,
            "Chart": {
                "Name": self.chart["name"],
                "Version": self.chart["version"],
                "AppVersion": self.chart.get("appVersion", ""),
            },
            "Release": {"Name": "shawk", "Namespace": "shawk", "Service": "Helm"},
        }

    # --- parsing into nested blocks -------------------------------------
    def parse(self, text, name):
        parts, pos = [], 0
        for m in ACTION.finditer(text):
            parts.append(("text", text[pos : m.start()]))
            parts.append(("action", m.group(2), m.group(1) == "-", m.group(3) == "-"))
            pos = m.end()
        parts.append(("text", text[pos:]))
        # Whitespace trimming.
        for i, p in enumerate(parts):
            if p[0] != "action":
                continue
            if p[2] and i > 0:
                parts[i - 1] = ("text", parts[i - 1][1].rstrip())
            if p[3] and i + 1 < len(parts):
                parts[i + 1] = ("text", parts[i + 1][1].lstrip())
        root = {"kind": "root", "body": []}
        stack = [root]
        for p in parts:
            cur = stack[-1]
            body = cur["else_body"] if cur.get("in_else") else cur["body"]
            if p[0] == "text":
                if p[1]:
                    body.append(("text", p[1]))
                continue
            expr = p[1]
            if expr.startswith("/*"):
                continue
            word = expr.split(None, 1)[0]
            rest = expr[len(word) :].strip()
            if word in ("if", "with", "range", "define"):
                node = {"kind": word, "expr": rest, "body": [], "else_body": []}
                body.append(("block", node))
                stack.append(node)
            elif word == "else":
                if rest.startswith("if "):
                    node = {"kind": "if", "expr": rest[3:].strip(), "body": [], "else_body": [], "chained": True}
                    cur["else_body"].append(("block", node))
                    cur["in_else"] = True
                    stack.append(node)
                else:
                    cur["in_else"] = True
            elif word == "end":
                node = stack.pop()
                while node.get("chained"):
                    node = stack.pop()
                if node["kind"] == "define":
                    self.defines[tokenize(node["expr"])[0][1]] = node
            else:
                body.append(("expr", expr))
        if len(stack) != 1:
            raise TemplateError("%s: unterminated block" % name)
        return root

    # --- evaluation ------------------------------------------------------
    def value(self, tok, dot):
        if isinstance(tok, tuple):  # ("str", text) or ("lit", value)
            return tok[1]
        if tok == ".":
            return dot
        if tok.startswith("$"):
            base = self.root
            path = tok[1:].lstrip(".")
        elif tok.startswith("."):
            base, path = dot, tok[1:]
        elif re.fullmatch(r"-?\d+", tok):
            return int(tok)
        elif tok in ("true", "false"):
            return tok == "true"
        elif tok == "nil":
            return None
        else:
            raise TemplateError("unknown token %r" % tok)
        v = base
        for part in [x for x in path.split(".") if x]:
            v = v.get(part) if isinstance(v, dict) else None
        return v

    def call(self, toks, dot, piped=None, has_piped=False):
        args = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t == "(":
                depth, j = 1, i + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(toks[j], 0) if isinstance(toks[j], str) else 0
                    j += 1
                args.append(("lit", self.pipeline(toks[i + 1 : j - 1], dot)))
                i = j
            else:
                args.append(t)
                i += 1
        head = args[0]
        if isinstance(head, str) and head in ("include", "template"):
            name = self.resolve(args[1], dot)
            ctx = self.resolve(args[2], dot) if len(args) > 2 else None
            out = self.render_body(self.defines[name]["body"], ctx)
            return out
        if isinstance(head, str) and head in FUNCS:
            vals = [self.resolve(a, dot) for a in args[1:]]
            if has_piped:
                vals.append(piped)
            return FUNCS[head](*vals)
        if len(args) != 1 or has_piped:
            raise TemplateError("cannot call %r" % (head,))
        return self.resolve(head, dot)

    def resolve(self, a, dot):
        if isinstance(a, tuple) and a[0] == "lit":
            return a[1]
        return self.value(a, dot)

    def pipeline(self, toks, dot):
        cmds, cur = [], []
        depth = 0
        for t in toks:
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
            if t == "|" and depth == 0:
                cmds.append(cur)
                cur = []
            else:
                cur.append(t)
        cmds.append(cur)
        v = self.call(cmds[0], dot)
        for c in cmds[1:]:
            v = self.call(c, dot, v, True)
        return v

    def eval(self, expr, dot):
        return self.pipeline(tokenize(expr), dot)

    def render_body(self, body, dot):
        out = []
        for kind, item in body:
            if kind == "text":
                out.append(item)
            elif kind == "expr":
                out.append(fmt(self.eval(item, dot)))
            else:
                out.append(self.render_block(item, dot))
        return "".join(out)

    def render_block(self, node, dot):
        k = node["kind"]
        if k == "define":
            return ""
        v = self.eval(node["expr"], dot)
        if k == "if":
            return self.render_body(node["body"] if truthy(v) else node["else_body"], dot)
        if k == "with":
            return self.render_body(node["body"], v) if truthy(v) else self.render_body(node["else_body"], dot)
        if k == "range":
            items = v.values() if isinstance(v, dict) else (v or [])
            return "".join(self.render_body(node["body"], x) for x in items) or (
                self.render_body(node["else_body"], dot) if not items else "")
        raise TemplateError("unknown block " + k)

    def render(self):
        out = {}
        for name, tree in self.templates.items():
            if name.startswith("_") or name.endswith(".txt"):
                continue
            out[name] = self.render_body(tree["body"], self.root)
        return out

    def render_notes(self):
        tree = self.templates.get("NOTES.txt")
        return self.render_body(tree["body"], self.root) if tree else ""


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def set_path(d, dotted, value):
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = yaml.safe_load(value)


def render_chart(chart_dir, overrides=None):
    """Returns (list of parsed YAML objects, NOTES text)."""
    values = yaml.safe_load(open(os.path.join(chart_dir, "values.yaml")))
    over = {}
    for k, v in (overrides or {}).items():
        set_path(over, k, v)
    r = Renderer(chart_dir, deep_merge(values, over))
    docs = []
    for name, text in r.render().items():
        for doc in yaml.safe_load_all(text):
            if doc:
                docs.append(doc)
    return docs, r.render_notes()


if __name__ == "__main__":
    sets = dict(a.split("=", 1) for a in sys.argv[2:])
    docs, _ = render_chart(sys.argv[1], sets)
    print(yaml.safe_dump_all(docs, sort_keys=False))
