# SPDX-License-Identifier: MIT
"""Test peer: a server or a client that holds its connections until killed.

  holder.py server READY_FILE tcp:ADDR:PORT [udp:ADDR:PORT ...]
  holder.py client READY_FILE tcp:ADDR:PORT:COUNT [udp:ADDR:PORT:COUNT ...]
  holder.py relay READY_FILE tcp:ADDR:PORT tcp:ADDR:PORT:COUNT
      one process that listens on the first and holds COUNT connections
      to the second (the middle tier of a chain)
  holder.py shared READY_FILE tcp:ADDR:PORT:COUNT
      a client whose sockets are each held by two fds (dup) and by a forked
      child as well: one socket, several holders
  holder.py backlog READY_FILE tcp:ADDR:PORT
      listens and never accepts: connections stay in the accept queue,
      established sockets that no file descriptor holds

Addresses may be IPv6 (written in brackets: tcp:[fd00::1]:80). Writes
READY_FILE once listening / once every connection is established.
"""
import os
import select
import socket
import sys
import time


def parse(spec):
    proto, rest = spec.split(":", 1)
    if rest.startswith("["):
        addr, rest = rest[1:].split("]:", 1)
    else:
        addr, rest = rest.split(":", 1)
    parts = rest.split(":")
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return proto, fam, addr, int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def ready(path):
    with open(path, "w") as f:
        f.write("ready\n")


def server(ready_file, specs):
    listeners, conns = [], []
    for spec in specs:
        proto, fam, addr, port, _ = parse(spec)
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(fam, kind)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((addr, port))
        if proto == "tcp":
            s.listen(128)
            listeners.append(s)
        else:
            conns.append(s)
    ready(ready_file)
    while True:
        r, _, _ = select.select(listeners + conns, [], [], 1.0)
        for s in r:
            if s in listeners:
                c, _ = s.accept()
                conns.append(c)
            elif s.type == socket.SOCK_DGRAM:
                data, peer = s.recvfrom(2048)
                s.sendto(data, peer)
            else:
                if not s.recv(4096):
                    conns.remove(s)
                    s.close()


def connect_all(specs, held):
    """Connects count sockets per spec (retrying while the peer starts);
    a UDP one sends a byte, so that the peer sees it."""
    for spec in specs:
        proto, fam, addr, port, count = parse(spec)
        for _ in range(count):
            kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(fam, kind)
            for attempt in range(50):
                try:
                    s.connect((addr, port))
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                sys.exit("cannot connect to %s" % spec)
            if proto == "udp":
                s.send(b"x")
            held.append(s)


def shared(ready_file, specs):
    held = []
    connect_all(specs, held)
    dups = [os.dup(s.fileno()) for s in held]
    if os.fork() == 0:
        while True:
            time.sleep(60)
    ready(ready_file)
    while True:
        time.sleep(60)


def backlog(ready_file, specs):
    held = []
    for spec in specs:
        _, fam, addr, port, _ = parse(spec)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        held.append(s)
    ready(ready_file)
    while True:
        time.sleep(60)


def relay(ready_file, specs):
    held = []
    connect_all(specs[1:], held)
    server(ready_file, specs[:1])


def client(ready_file, specs):
    held = []
    connect_all(specs, held)
    ready(ready_file)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    role, ready_file, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"server": server, "client": client, "relay": relay,
     "backlog": backlog, "shared": shared}[role](ready_file, specs)
