# SPDX-License-Identifier: Apache-2.0
"""Pub/sub fan-out variants over raw sockets, byte for byte.

The RESP door builds a message frame once per event and variant (RESP2 or
RESP3, data or CLIENT CEFORMAT json, message or pmessage of a pattern) and
shares it among the subscribers it goes to, handing a commit group's
messages over at once. This drives every variant on the same events, with
the publishes pipelined so they commit in shared groups, and checks that each
subscriber receives exactly its own encoding of every message, in order, and
that PUBLISH counts the receivers. Also: a subscriber that disconnects
mid-stream does not disturb the others.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def message(proto, chan, data):
    head = b">3\r\n" if proto == 3 else b"*3\r\n"
    return head + bulk(b"message") + bulk(chan) + bulk(data)


def pmessage(proto, pat, chan, data):
    head = b">4\r\n" if proto == 3 else b"*4\r\n"
    return head + bulk(b"pmessage") + bulk(pat) + bulk(chan) + bulk(data)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def read_until(self, n_bytes=None, suffix=None, timeout=10):
        """Read until at least n_bytes are buffered or the buffer ends with suffix."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if n_bytes is not None and len(self.buf) >= n_bytes:
                break
            if suffix is not None and self.buf.endswith(suffix):
                break
            self.s.settimeout(max(0.05, deadline - time.time()))
            try:
                b = self.s.recv(1 << 20)
            except socket.timeout:
                break
            if not b:
                break
            self.buf += b
        out, self.buf = self.buf, b""
        return out

    def close(self):
        self.s.close()


def main():
    s = Redcar("--fsync", "always")
    conns = []
    try:
        port = s.resp_port
        ch = b"fan/orders"
        # (name, proto, ceformat json, subscribe channel, pattern)
        kinds = [("resp2", 2, False, True, None), ("resp3", 3, False, True, None),
                 ("json2", 2, True, True, None), ("json3", 3, True, True, None),
                 ("pat2", 2, False, False, b"fan/*"), ("pat3", 3, False, False, b"fan/*"),
                 ("both3", 3, False, True, b"fan/o*"), ("resp2b", 2, False, True, None)]
        subs = {}
        for name, proto, js, chan, pat in kinds:
            c = Conn(port)
            conns.append(c)
            setup = b""
            if proto == 3:
                setup += cmd("HELLO", "3")
            if js:
                setup += cmd("CLIENT", "CEFORMAT", "json")
            c.send(setup + b"PING\r\n")
            c.read_until(suffix=b"PONG\r\n")
            if chan:
                c.send(cmd("SUBSCRIBE", ch))
                c.read_until(suffix=b":1\r\n")
            if pat:
                c.send(cmd("PSUBSCRIBE", pat))
                c.read_until(suffix=(b":2\r\n" if chan else b":1\r\n"))
            subs[name] = (c, proto, js, chan, pat)

        quitter = Conn(port)
        conns.append(quitter)
        quitter.send(cmd("SUBSCRIBE", ch))
        quitter.read_until(suffix=b":1\r\n")

        n = 300
        datas = [b"m%d-" % i + b"x" * (i % 50) for i in range(n)]
        pub = Conn(port)
        conns.append(pub)
        receivers = len(kinds) + 1 + 1  # every subscriber, both3 twice (channel and pattern)
        # the first half pipelined in one write, then the quitter leaves, then the rest
        half = n // 2
        pub.send(b"".join(cmd("PUBLISH", ch, d) for d in datas[:half]))
        got = pub.read_until(n_bytes=half * len(b":%d\r\n" % receivers))
        t.eq("PUBLISH counts every receiver (a client on channel and pattern counts twice)",
             b":%d\r\n" % receivers * half, got)
        quitter.close()
        conns.remove(quitter)
        time.sleep(0.2)
        pub.send(b"".join(cmd("PUBLISH", ch, d) for d in datas[half:]))
        got = pub.read_until(n_bytes=(n - half) * len(b":%d\r\n" % (receivers - 1)))
        t.eq("PUBLISH after a subscriber left counts one fewer", b":%d\r\n" % (receivers - 1) * (n - half), got)

        for name, (c, proto, js, chan, pat) in subs.items():
            want = b""
            frames = []
            for d in datas:
                if chan:
                    frames.append(("m", d))
                if pat:
                    frames.append(("p", d))
            if not js:
                for kind, d in frames:
                    want += message(proto, ch, d) if kind == "m" else pmessage(proto, pat, ch, d)
                got = c.read_until(n_bytes=len(want))
                t.check("%s: every message, byte for byte and in order" % name, got == want,
                        "%d of %d bytes; first difference at %d" % (
                            len(got), len(want),
                            next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                                 min(len(got), len(want)))))
            else:
                # structured CloudEvents: the same frame shape with the event JSON as data
                got = b""
                seqs, ok = [], True
                for i, (kind, d) in enumerate(frames):
                    head = (b">3\r\n" if proto == 3 else b"*3\r\n") + bulk(b"message") + bulk(ch)
                    got = c.read_until(n_bytes=len(head) + 4, timeout=5) if not got else got
                    if not got.startswith(head):
                        ok = False
                        break
                    rest = got[len(head):]
                    while b"\r\n" not in rest:
                        rest += c.read_until(n_bytes=1, timeout=5)
                    ln, rest = rest.split(b"\r\n", 1)
                    size = int(ln[1:])
                    while len(rest) < size + 2:
                        rest += c.read_until(n_bytes=size + 2 - len(rest), timeout=5)
                    ev = json.loads(rest[:size])
                    ok = ok and ev.get("subject") == ch.decode() and ev.get("type") == "io.redcar.message"
                    ok = ok and (ev.get("data") == d.decode() or ev.get("data_base64") is not None)
                    seqs.append(ev.get("seq"))
                    got = rest[size + 2:]
                t.check("%s: every message as a structured CloudEvent, in log order" % name,
                        ok and len(seqs) == n and seqs == sorted(seqs) and len(set(seqs)) == n,
                        "%d events" % len(seqs))

        # the server is fine and counts the deliveries
        c = Conn(port)
        conns.append(c)
        c.send(cmd("INFO", "stats"))
        info = c.read_until(suffix=b"\r\n\r\n")
        delivered = [int(x.split(b":")[1]) for x in info.split(b"\r\n")
                     if x.startswith(b"pubsub_messages_delivered:")]
        t.check("INFO counts the deliveries", delivered and delivered[0] >= n * (receivers - 1), delivered)
    finally:
        for c in conns:
            c.close()
        s.close()
    t.finish()


if __name__ == "__main__":
    main()
