# SPDX-License-Identifier: Apache-2.0
"""RESP door: 10,000 idle connections on one loop thread, all still served,
and maxclients answered with Redis's error past the limit."""
import os
import resource
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_server import Conn, Server  # noqa: E402

N = 10000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < N + 200:
    print(f"skip: open files hard limit {hard} < {N + 200}")
    sys.exit(0)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

failures = 0


def check(name, got, want):
    global failures
    if got != want:
        failures += 1
        print(f"FAIL {name}: got {got!r} want {want!r}")
    else:
        print(f"ok   {name}")


with Server("--maxclients", str(N)) as srv:
    socks = []
    for i in range(N):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        socks.append(s)
    # every 500th idle connection still answers
    for s in socks[::500]:
        s.sendall(b"PING\r\n")
    pongs = 0
    for s in socks[::500]:
        if s.recv(64) == b"+PONG\r\n":
            pongs += 1
    check("idle connections answer", pongs, len(socks[::500]))
    socks[-1].sendall(b"INFO clients\r\n")
    data = b""
    while b"maxclients" not in data:
        data += socks[-1].recv(65536)
    line = [l for l in data.split(b"\r\n") if l.startswith(b"connected_clients:")][0]
    check("connected_clients", int(line.split(b":")[1]), N)
    extra = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    extra.settimeout(5)
    check("maxclients reached", extra.recv(128), b"-ERR max number of clients reached\r\n")
    extra.close()
    for s in socks:
        s.close()

sys.exit(1 if failures else 0)
