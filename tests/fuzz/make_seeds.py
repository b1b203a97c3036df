#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Writes the seed corpora of the fuzz targets that have no recorded
fixtures (tests/fuzz/corpus/{iterrec,duration,addr,utf8,encoders}). The
parsers with fixtures (sockdiag, procfs, cgroup, mountinfo, kubelet) are
seeded from tests/fixtures by scripts/fuzz.sh. Run from the repository
root; the output is committed."""
import os
import socket
import struct

def put(d, name, data):
    os.makedirs(f"tests/fuzz/corpus/{d}", exist_ok=True)
    with open(f"tests/fuzz/corpus/{d}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# bpf/iter_record.h: struct shawk_iter_sock (72 bytes), _fdsock (+tgid,
# flags), _owner (16 bytes).
def sock(family, laddr, raddr, lport, rport, proto=6, state=1, cookie=7,
         inode=1001, netns=4026531840):
    fam = socket.AF_INET if family == 4 else socket.AF_INET6
    la = socket.inet_pton(fam, laddr).ljust(16, b"\0")
    ra = socket.inet_pton(fam, raddr).ljust(16, b"\0")
    return struct.pack("<QQQII16s16sHHBBBB", cookie, inode, 0, netns, 0,
                       la, ra, lport, rport, 0x53, proto, int(fam), state)

s4 = sock(4, "198.18.64.1", "198.18.64.2", 80, 40000)
s6 = sock(6, "2001:db8:64::1", "::ffff:198.18.64.2", 443, 40001)
su = sock(4, "198.18.64.1", "0.0.0.0", 53, 0, proto=17, state=7)
put("iterrec", "socks", s4 + s6 + su)
put("iterrec", "fdsocks", s4 + struct.pack("<II", 1234, 1) + s6 + struct.pack("<II", 99, 0))
put("iterrec", "owners", struct.pack("<QIB3x", 1001, 1234, 0x4f) * 3)
put("iterrec", "partial", s4 + s6[:20])

for i, d in enumerate(["500ms", "1s", "10m", "2h", "1d", "1h30m", "1d2h3m4s5ms",
                       "2147483647ms", "25d", "9223372036854775799ms",
                       "2026-11-22T10:00:00Z", "2026-11-22T10:00:00.123+02:00",
                       "2024-02-29t23:59:60-23:59", "0000-01-01T00:00:00Z"]):
    put("duration", f"seed{i:02d}", d)

for i, a in enumerate(["198.18.64.1", "0.0.0.0", "127.0.0.1", "2001:db8:64::1",
                       "::", "::1", "::ffff:198.18.64.2", "fe80::1%eth0",
                       "1.2.3", "2001:db8:64:0:0:0:0:1"]):
    put("addr", f"seed{i:02d}", a)

for i, u in enumerate([b"plain", "naïve – ünïcode".encode(), b"\xff\xfe bad",
                       b"\xc0\x80 overlong", b"\xed\xa0\x80 surrogate",
                       b"\xf4\x90\x80\x80 too big", "𝄞 four".encode(),
                       b"cut \xe2\x82"]):
    put("utf8", f"seed{i:02d}", u)

put("encoders", "strings", b"nginx\0curl\0a\"b\\c\0{},NULL\0\xff\xfe\0" +
    "pod-ünï".encode() + b"\0")
put("encoders", "one", b"0123456789abcdefXYZ")
put("encoders", "empty", b"")
