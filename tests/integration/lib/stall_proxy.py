#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP front for a PostgreSQL unix socket that can stop answering without
closing, for deadline tests.

  stall_proxy.py proxy --to UNIX_SOCKET --port-file P --control FILE
      listens on 127.0.0.1 (any port, written to P) and forwards each
      connection to UNIX_SOCKET. The control file, read continuously:
      "ok" forwards both ways; "swallow" keeps reading both sides but
      forwards nothing to the client (the server's replies vanish, the
      socket stays open).
  stall_proxy.py blackhole --port-file P
      listens on 127.0.0.1 with a full accept queue and never accepts: the
      kernel drops further SYNs, so a connect hangs as with an unreachable
      host.
"""
import argparse
import os
import select
import socket
import sys
import threading
import time


def mode(path):
    try:
        with open(path) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


def pump(cli, srv, control):
    socks = [cli, srv]
    try:
        while True:
            r, _, _ = select.select(socks, [], [], 0.2)
            for s in r:
                data = s.recv(65536)
                if not data:
                    return
                if s is cli:
                    srv.sendall(data)
                elif mode(control) != "swallow":
                    cli.sendall(data)
    except OSError:
        pass
    finally:
        cli.close()
        srv.close()


def write_port(path, port):
    with open(path + ".tmp", "w") as f:
        f.write(str(port))
    os.rename(path + ".tmp", path)


def proxy(opts):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)
    write_port(opts.port_file, ls.getsockname()[1])
    while True:
        cli, _ = ls.accept()
        srv = socket.socket(socket.AF_UNIX)
        try:
            srv.connect(opts.to)
        except OSError:
            cli.close()
            continue
        threading.Thread(target=pump, args=(cli, srv, opts.control),
                         daemon=True).start()


def blackhole(opts):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    # Fill the accept queue (backlog 0 holds one): later SYNs are dropped.
    fill = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    time.sleep(0.3)
    write_port(opts.port_file, port)
    while True:
        time.sleep(3600)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("proxy")
    p.add_argument("--to", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--control", required=True)
    b = sub.add_parser("blackhole")
    b.add_argument("--port-file", required=True)
    opts = ap.parse_args()
    (proxy if opts.cmd == "proxy" else blackhole)(opts)


if __name__ == "__main__":
    sys.exit(main())
