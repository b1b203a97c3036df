#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A kubelet-API-compatible HTTPS server for tests: GET /pods answers a
PodList file to requests bearing the right token; with --services it also
stands in for the API server: GET /api/v1/services answers that
ServiceList file (another 404 without it).

  kubelet_server.py certs DIR
      makes DIR/ca.crt, DIR/ca.key, DIR/server.crt, DIR/server.key with
      openssl (a throwaway CA; the server cert is for 127.0.0.1, ::1 and
      localhost).
  kubelet_server.py serve --dir DIR --token-file F --pods FILE
                          [--services FILE] [--port-file P]
                          [--control FILE] [--port N]
      serves on 127.0.0.1 (port 0: any; the chosen port is written to
      --port-file once listening). The --control file, read per request,
      switches behaviour at run time: "ok" (default), "401", "403", "500",
      "garbage" (HTML), "truncated" (half the PodList), "slow SECONDS"
      (answers after a delay), "close" (drops the connection).
The pods and services files are re-read per request, so tests can change
the lists. The control modes apply to both paths; "services-403" answers
403 to the Services list only (an agent whose RBAC lacks `list services`).
"""
import argparse
import http.server
import os
import socket
import ssl
import subprocess
import sys
import time


def make_certs(d):
    os.makedirs(d, exist_ok=True)
    run = lambda *a: subprocess.run(a, check=True, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=shawk-test-kubelet-ca", "-keyout", f"{d}/ca.key",
        "-out", f"{d}/ca.crt", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj",
        "/CN=127.0.0.1", "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.crt",
        "-CAkey", f"{d}/ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", f"{d}/ext.cnf", "-out", f"{d}/server.crt")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("kubelet-test: " + (fmt % args) + "\n")

    def control(self):
        try:
            with open(self.server.opts.control) as f:
                return f.read().split()
        except (OSError, TypeError):
            return ["ok"]

    def answer(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.requests += 1
        ctl = self.control() or ["ok"]
        mode = ctl[0]
        with open(self.server.opts.token_file) as f:
            token = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + token or mode == "401":
            return self.answer(401, b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}')
        if mode == "403":
            return self.answer(403, b'Forbidden (user=system:serviceaccount:shawk:shawk, verb=get, resource=nodes, subresource=proxy)', "text/plain")
        path = self.path.split("?")[0]
        services = self.server.opts.services
        if path == "/api/v1/services" and services and mode == "services-403":
            return self.answer(403, b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"services is forbidden: User \\"system:serviceaccount:shawk:shawk\\" cannot list resource \\"services\\" in API group \\"\\" at the cluster scope","reason":"Forbidden","code":403}')
        if path != "/pods" and not (path == "/api/v1/services" and services):
            return self.answer(404, b"404 page not found\n", "text/plain")
        if mode == "500":
            return self.answer(500, b"internal error\n", "text/plain")
        if mode == "close":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if mode == "slow":
            time.sleep(float(ctl[1]) if len(ctl) > 1 else 30)
        if mode == "garbage":
            return self.answer(200, b"<html><body>502 Bad Gateway</body></html>\n", "text/html")
        with open(services if path == "/api/v1/services" else self.server.opts.pods, "rb") as f:
            body = f.read()
        if mode == "truncated":
            body = body[: len(body) // 2]
        self.answer(200, body)


def serve(opts):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", opts.port), Handler)
    srv.daemon_threads = True
    srv.opts = opts
    srv.requests = 0
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{opts.dir}/server.crt", f"{opts.dir}/server.key")
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    if opts.port_file:
        tmp = opts.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(srv.server_address[1]))
        os.rename(tmp, opts.port_file)
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("certs")
    c.add_argument("dir")
    s = sub.add_parser("serve")
    s.add_argument("--dir", required=True)
    s.add_argument("--token-file", required=True)
    s.add_argument("--pods", required=True)
    s.add_argument("--services")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--control")
    opts = ap.parse_args()
    if opts.cmd == "certs":
        make_certs(opts.dir)
    else:
        serve(opts)


if __name__ == "__main__":
    main()
