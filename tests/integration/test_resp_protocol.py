# SPDX-License-Identifier: Apache-2.0
"""RESP door, protocol level, over raw sockets against the real server:
malformed requests (Redis's own cases), inline commands, pipelining order,
RESP3 after HELLO 3 (maps, push messages), AUTH and maxclients."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_server import Conn, Server  # noqa: E402

failures = 0


def check(name, got, want):
    global failures
    if got != want:
        failures += 1
        print(f"FAIL {name}: got {got!r} want {want!r}")
    else:
        print(f"ok   {name}")


def proto_error(port, data, want):
    c = Conn(port)
    c.send(data)
    r = c.read()
    check(f"protocol error {data[:30]!r}", r, ("err", "ERR Protocol error: " + want))
    check(f"closed after {data[:30]!r}", c.closed(), True)
    c.close()


with Server() as srv:
    P = srv.port
    # ---- malformed requests: answered like Redis, then the connection closes
    proto_error(P, b"*abc\r\n", "invalid multibulk length")
    proto_error(P, b"*1\r\n$-1\r\n", "invalid bulk length")
    proto_error(P, b"*1\r\n$abc\r\n", "invalid bulk length")
    proto_error(P, b"*1\r\nfoo\r\n", "expected '$', got 'f'")
    proto_error(P, b'set k "abc\r\n', "unbalanced quotes in request")
    # Redis's own tests (unit/protocol.tcl)
    proto_error(P, b"*3000000000\r\n", "invalid multibulk length")
    proto_error(P, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "expected '$', got 'f'")
    proto_error(P, b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n", "invalid bulk length")
    proto_error(P, b'set """test-key""" test-value\r\nping\r\n', "unbalanced quotes in request")
    proto_error(P, b"*" + b"1" * 70000, "too big mbulk count string")
    proto_error(P, b"*1\r\n$" + b"1" * 70000, "too big bulk count string")
    proto_error(P, b"a" * 70000, "too big inline request")
    proto_error(P, b"*1\r\n$99999999999\r\n", "invalid bulk length")
    # desync: a bulk shorter than announced: the rest is read as the next
    # (inline) request, exactly as Redis does, and answered as unknown
    c = Conn(P)
    c.send(b"*1\r\n$2\r\nPING\r\n")
    check("desync short bulk", c.read(), ("err", "ERR unknown command 'PI', with args beginning with: "))
    c.cmd("PING")
    check("desync recovers", c.read(), "PONG")
    c.close()

    # negative multibulk lengths are ignored, as in Redis
    c = Conn(P)
    c.send(b"*-10\r\n*0\r\n")
    c.cmd("PING")
    check("negative multibulk then ping", c.read(), "PONG")

    # ---- inline commands (telnet)
    c.send(b"PING\r\nset ik \"hello world\"\r\nget ik\n")
    check("inline ping", c.read(), "PONG")
    check("inline set", c.read(), "OK")
    check("inline get", c.read(), b"hello world")

    # ---- pipelining: many commands in one write, answered in order,
    # reads after writes see them
    req = b""
    for i in range(200):
        req += b"*3\r\n$3\r\nSET\r\n$2\r\npk\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
        req += b"*2\r\n$3\r\nGET\r\n$2\r\npk\r\n"
        req += b"*2\r\n$4\r\nINCR\r\n$2\r\npc\r\n"
    req += b"*1\r\n$4\r\nPING\r\n"
    c.send(req)
    ok = True
    for i in range(200):
        a, b, n = c.read(), c.read(), c.read()
        if (a, b, n) != ("OK", str(i).encode(), i + 1):
            ok = False
            print("pipeline mismatch at", i, a, b, n)
            break
    check("pipeline order and read-your-writes", ok, True)
    check("pipeline tail", c.read(), "PONG")

    # pipelined errors interleave in order with pending writes
    c.send(b"SET e1 1\r\nNOSUCH\r\nGET\r\nINCR e1\r\n")
    check("pipe err 1", c.read(), "OK")
    check("pipe err 2", c.read(), ("err", "ERR unknown command 'NOSUCH', with args beginning with: "))
    check("pipe err 3", c.read(), ("err", "ERR wrong number of arguments for 'get' command"))
    check("pipe err 4", c.read(), 2)

    # big value, byte by byte split arrival
    big = os.urandom(300000)
    c.cmd("SET", "big", big)
    check("big set", c.read(), "OK")
    c.cmd("GET", "big")
    check("big get", c.read(), big)
    raw = b"*3\r\n$3\r\nSET\r\n$5\r\nslowk\r\n$5\r\nvalue\r\n"
    for ch in raw:
        c.send(bytes([ch]))
        time.sleep(0.001)
    check("slow drip set", c.read(), "OK")

    # ---- RESP3
    c.cmd("HELLO", "3")
    h = c.read()
    check("hello 3 map", (type(h), h.get("proto"), h.get("server")), (dict, 3, b"redis"))
    c.cmd("GET", "nosuchkey")
    check("resp3 null", c.read(), None)
    c.cmd("HSET", "h3", "f", "v")
    c.read()
    c.cmd("HGETALL", "h3")
    check("resp3 map reply", c.read(), {"f": b"v"})
    c.cmd("SUBSCRIBE", "news")
    check("resp3 subscribe push", c.read(), ("push", [b"subscribe", b"news", 1]))
    c.cmd("PING")  # allowed in RESP3 subscribed mode, and any command is
    check("resp3 ping while subscribed", c.read(), "PONG")
    p = Conn(P)
    p.cmd("PUBLISH", "news", "hi")
    check("publish count", p.read(), 1)
    check("resp3 message push", c.read(), ("push", [b"message", b"news", b"hi"]))
    c.cmd("GET", "ik")
    check("resp3 command while subscribed", c.read(), b"hello world")
    # whole CloudEvent instead of data
    c.cmd("CLIENT", "CEFORMAT", "json")
    check("ceformat", c.read(), "OK")
    p.cmd("PUBLISH", "news", "structured")
    check("publish structured", p.read(), 1)
    m = c.read()
    import json
    ev = json.loads(m[1][2])
    check("ceformat json event", (ev["type"], ev["subject"], ev["source"], ev["data"]),
          ("io.redcar.message", "news", "redcar://resp", "structured"))
    check("ceformat has seq", isinstance(ev.get("seq"), int), True)
    c.close()

    # ---- RESP2 subscribed mode rules
    s = Conn(P)
    s.cmd("SUBSCRIBE", "a", "b")
    check("sub a", s.read(), [b"subscribe", b"a", 1])
    check("sub b", s.read(), [b"subscribe", b"b", 2])
    s.cmd("GET", "x")
    check("resp2 subscribed mode refuses GET", s.read(),
          ("err", "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"))
    s.cmd("PING")
    check("resp2 subscribed ping", s.read(), [b"pong", b""])
    s.cmd("UNSUBSCRIBE")
    r1, r2 = s.read(), s.read()
    check("unsubscribe all", sorted([r1[1], r2[1]]), [b"a", b"b"])
    check("unsubscribe count", r2[2], 0)
    s.cmd("GET", "ik")
    check("after unsubscribe", s.read(), b"hello world")
    s.close()

    # keyspace notifications
    k = Conn(P)
    k.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    check("config set notify", k.read(), "OK")
    k.cmd("PSUBSCRIBE", "__key*__:nk")
    k.read()
    p.cmd("SET", "nk", "1")
    p.read()
    check("keyspace notification", k.read(), [b"pmessage", b"__key*__:nk", b"__keyspace@0__:nk", b"set"])
    k.close()

    # a subscriber that does not read is cut off past
    # client-output-buffer-limit-pubsub, and it is counted
    p.cmd("CONFIG", "SET", "client-output-buffer-limit-pubsub", "1mb")
    check("config set obuf", p.read(), "OK")
    slow = Conn(P)
    slow.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.cmd("SUBSCRIBE", "firehose")
    deadline = time.time() + 20  # subscribed before the flood (it never reads its replies)
    while time.time() < deadline:
        p.cmd("PUBSUB", "NUMSUB", "firehose")
        if p.read() == [b"firehose", 1]:
            break
        time.sleep(0.02)
    blob = b"x" * 65536
    for _ in range(400):
        p.cmd("PUBLISH", "firehose", blob)
    for _ in range(400):
        p.read()
    p.cmd("INFO", "stats")
    stats = p.read().decode()
    check("slow subscriber disconnected", "client_output_buffer_limit_disconnections:1" in stats, True)
    check("slow subscriber socket closed", slow.closed(timeout=5), True)
    p.close()

with Server("--requirepass", "s3cret", "--maxclients", "3") as srv:
    P = srv.port
    c = Conn(P)
    c.cmd("GET", "x")
    check("noauth", c.read(), ("err", "NOAUTH Authentication required."))
    c.cmd("AUTH", "wrong")
    check("wrongpass", c.read(), ("err", "WRONGPASS invalid username-password pair or user is disabled."))
    # tighter limits before authentication
    c.send(b"*20\r\n")
    check("unauth multibulk limit", c.read(), ("err", "ERR Protocol error: invalid multibulk length"))
    c.close()
    c = Conn(P)
    c.cmd("AUTH", "s3cret")
    check("auth ok", c.read(), "OK")
    c.cmd("SET", "a", "1")
    check("after auth", c.read(), "OK")
    c2 = Conn(P)
    c2.cmd("HELLO", "3", "AUTH", "default", "s3cret", "SETNAME", "me")
    check("hello auth", c2.read().get("proto"), 3)
    c2.cmd("CLIENT", "GETNAME")
    check("hello setname", c2.read(), b"me")
    c3 = Conn(P)
    c4 = Conn(P)
    check("maxclients", c4.read(), ("err", "ERR max number of clients reached"))
    for x in (c, c2, c3, c4):
        x.close()

sys.exit(1 if failures else 0)
