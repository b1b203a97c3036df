# SPDX-License-Identifier: MIT
"""Fills the conntrack table of the current netns with N UDP entries
without NAT (for bench/services_scan.sh): unrelated entries a NAT-only
dump must skip.

  python3 ct_fill.py N SRC DST

Entries SRC:port -> DST:port with ports from 1024 up, one hour timeout.
Prints the number the kernel accepted.
"""
import socket
import struct
import sys

NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW = 1, 0
NLM_F_REQUEST, NLM_F_CREATE, NLM_F_EXCL = 0x1, 0x400, 0x200
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_TIMEOUT = 1, 2, 7
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
NLA_F_NESTED = 0x8000


def attr(kind, data):
    pad = (4 - len(data) % 4) % 4
    return struct.pack("=HH", 4 + len(data), kind) + data + b"\0" * pad


def nested(kind, body):
    return attr(kind | NLA_F_NESTED, body)


def tup(kind, src, dst, sport, dport):
    ip = nested(CTA_TUPLE_IP, attr(CTA_IP_V4_SRC, src) + attr(CTA_IP_V4_DST, dst))
    proto = nested(CTA_TUPLE_PROTO, attr(CTA_PROTO_NUM, bytes([17])) +
                   attr(CTA_PROTO_SRC_PORT, struct.pack(">H", sport)) +
                   attr(CTA_PROTO_DST_PORT, struct.pack(">H", dport)))
    return nested(kind, ip + proto)


def main():
    n = int(sys.argv[1])
    src, dst = socket.inet_aton(sys.argv[2]), socket.inet_aton(sys.argv[3])
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind((0, 0))
    batch, seq, sent = [], 0, 0
    for i in range(n):
        sport, dport = 1024 + i % 60000, 1024 + i // 60000
        body = struct.pack("=BBH", socket.AF_INET, 0, 0)
        body += tup(CTA_TUPLE_ORIG, src, dst, sport, dport)
        body += tup(CTA_TUPLE_REPLY, dst, src, dport, sport)
        body += attr(CTA_TIMEOUT, struct.pack(">I", 3600))
        seq += 1
        batch.append(struct.pack("=IHHII", 16 + len(body),
                                 (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW,
                                 NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, seq, 0) + body)
        if len(batch) == 64 or i == n - 1:
            # One message per send: nfnetlink handles one per datagram
            # for ctnetlink outside a batch.
            for m in batch:
                s.send(m)
                sent += 1
            batch = []
    s.setblocking(False)
    errors = 0
    try:
        while True:
            data = s.recv(65536)
            off = 0
            while off + 16 <= len(data):
                ln, kind = struct.unpack_from("=IH", data, off)
                if kind == 2:
                    (err,) = struct.unpack_from("=i", data, off + 16)
                    errors += err != 0
                off += (ln + 3) & ~3
    except BlockingIOError:
        pass
    print(sent - errors)


main()
