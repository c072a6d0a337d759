# SPDX-License-Identifier: Apache-2.0
"""Cast modes on both doors at once: three Redis subscribers (python3-redis,
named with CLIENT SETNAME) and two SSE streams (raw http.client, named with
name=) are live while events with the `castmode`/`castto` extensions are
POSTed over HTTP.

Every phase ends with a broadcast "fence" event: a subscriber's deliveries
arrive in log order, so once every subscriber has seen the fence, whatever
it did not get before it will never come. That is how "non-matching
subscribers don't get it" is asserted without sleeping.

Also pins down replay: the mode is stored with the event (GET /events shows
castmode/castto), and a replay through SSE from=SEQ hands the replaying
client every stored event its filters match, whatever the cast mode; the
replay goes to that client alone, nobody else gets anything again."""
import http.client
import json
import os
import queue
import sys
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

TIMEOUT = 10


class RespSub:
    """A named Redis client in subscribed mode; collects message payloads."""

    def __init__(self, port, name, channels=(), patterns=()):
        self.name = name
        # client_name makes every pool connection (the pubsub one too) send
        # CLIENT SETNAME before its first command.
        self.r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=TIMEOUT, client_name=name)
        self.p = self.r.pubsub()
        if channels:
            self.p.subscribe(*channels)
        if patterns:
            self.p.psubscribe(*patterns)
        for _ in range(len(channels) + len(patterns)):
            m = self.p.get_message(timeout=TIMEOUT)
            assert m and m["type"] in ("subscribe", "psubscribe"), m
        self.got = []

    def poll(self):
        while True:
            m = self.p.get_message(timeout=0.02)
            if not m:
                return
            if m["type"] in ("message", "pmessage"):
                self.got.append(m["data"].decode())

    def close(self):
        self.p.close()
        self.r.close()


class SseSub:
    """An SSE stream read on its own thread with http.client (which undoes
    the chunked transfer coding); collects the data of each event."""

    def __init__(self, url_port, path):
        self.conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=60)
        self.conn.request("GET", path, headers={"Accept": "text/event-stream"})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.q = queue.Queue()
        self.got = []
        self.seqs = []
        if self.status == 200:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        data = []
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.q.put(json.loads("\n".join(data)))
                    data = []
        except Exception:  # connection closed by close()
            return

    def poll(self):
        while True:
            try:
                ev = self.q.get(timeout=0.02)
            except queue.Empty:
                return
            self.got.append(ev["data"])
            self.seqs.append(ev["seq"])

    def close(self):
        try:
            self.conn.sock.shutdown(2)
        except Exception:
            pass
        self.conn.close()


t = Tally()
srv = Redcar()
subs = []
n_posted = 0


def post(subject, typ, data, mode=None, to=None):
    global n_posted
    n_posted += 1
    ev = {"specversion": "1.0", "id": "cm-%d" % n_posted, "source": "/castmodes", "type": typ,
          "subject": subject, "datacontenttype": "text/plain", "data": data}
    if mode:
        ev["castmode"] = mode
    if to:
        ev["castto"] = to
    st, body = srv.json("POST", "/events", json.dumps(ev), {"Content-Type": "application/cloudevents+json"})
    if st != 201:
        raise RuntimeError("POST answered %d: %r" % (st, body))
    return body["seq"]


fences = 0


def phase(who=None):
    """Broadcast a fence, wait until every subscriber saw it, and return
    {name: [payloads before the fence]} for this phase."""
    global fences
    fences += 1
    tag = "fence-%d" % fences
    post("fences", "com.example.fence", tag, mode="broadcast")
    pending = list(who or subs)
    deadline = time.time() + TIMEOUT
    while pending and time.time() < deadline:
        for s in list(pending):
            s.poll()
            if tag in s.got:
                pending.remove(s)
    out = {}
    for s in who or subs:
        if tag not in s.got:
            out[s.name] = None  # never saw the fence
            continue
        i = s.got.index(tag)
        out[s.name] = [x for x in s.got[:i] if not x.startswith("fence-")]
        s.got = s.got[i + 1:]
    return out


try:
    alice = RespSub(srv.resp_port, "alice", channels=["orders/1"])
    bob = RespSub(srv.resp_port, "bob", patterns=["orders/*"])
    carol = RespSub(srv.resp_port, "carol", channels=["news"])
    dave = SseSub(srv.http_port, "/events/stream?name=dave&type=com.example.order")
    dave.name = "dave"
    erin = SseSub(srv.http_port, "/events/stream?name=erin&subject_prefix=invoices/")
    erin.name = "erin"
    t.eq("SSE dave answers 200", 200, dave.status)
    t.eq("SSE erin answers 200", 200, erin.status)
    subs = [alice, bob, carol, dave, erin]
    for s in subs:
        s.name = s.name

    # Warm-up fence: every subscriber is live on both doors.
    got = phase()
    t.check("all five subscribers live (fence seen)", all(v == [] for v in got.values()), repr(got))
    st, info = srv.json("GET", "/info")
    # the RESP door's own cache subscriber counts too
    t.check("hub counts at least the five subscribers", st == 200 and info.get("subscribers", 0) >= 5,
            repr(info))

    # ---- multicast (default) -------------------------------------------------
    post("orders/1", "com.example.order", "mc-1")
    post("orders/2", "com.example.order", "mc-2", mode="multicast")
    post("invoices/7", "com.example.invoice", "mc-3")
    post("news", "com.example.news", "mc-4")
    got = phase()
    t.eq("multicast: alice (channel orders/1)", ["mc-1"], got["alice"])
    t.eq("multicast: bob (pattern orders/*)", ["mc-1", "mc-2"], got["bob"])
    t.eq("multicast: carol (channel news)", ["mc-4"], got["carol"])
    t.eq("multicast: dave (SSE type=com.example.order)", ["mc-1", "mc-2"], got["dave"])
    t.eq("multicast: erin (SSE subject_prefix=invoices/)", ["mc-3"], got["erin"])

    # ---- broadcast: everyone, filters and channels ignored ---------------------
    post("nowhere/at/all", "com.example.other", "bc-1", mode="broadcast")
    got = phase()
    for s in subs:
        t.eq("broadcast reaches " + s.name, ["bc-1"], got[s.name])

    # ---- unicast with castto -----------------------------------------------------
    post("orders/1", "com.example.order", "uc-bob", mode="unicast", to="bob")
    got = phase()
    t.check("unicast castto=bob: only bob",
            got["bob"] == ["uc-bob"] and all(got[n] == [] for n in got if n != "bob"), repr(got))

    post("orders/1", "com.example.order", "uc-dave", mode="unicast", to="dave")
    got = phase()
    t.check("unicast castto=dave (SSE): only dave",
            got["dave"] == ["uc-dave"] and all(got[n] == [] for n in got if n != "dave"), repr(got))

    # A named target gets it even when its channels/filters would not match:
    # castto addresses the subscriber, not the channel.
    post("orders/1", "com.example.order", "uc-carol", mode="unicast", to="carol")
    post("orders/1", "com.example.order", "uc-erin", mode="unicast", to="erin")
    got = phase()
    t.check("unicast castto ignores the target's subscriptions (carol, erin)",
            got["carol"] == ["uc-carol"] and got["erin"] == ["uc-erin"] and
            all(got[n] == [] for n in ("alice", "bob", "dave")), repr(got))

    # Nobody of that name: stored, delivered to no one.
    seq_nobody = post("orders/1", "com.example.order", "uc-nobody", mode="unicast", to="nobody")
    got = phase()
    t.check("unicast castto=nobody: no delivery", all(v == [] for v in got.values()), repr(got))

    # ---- unicast without castto: one matching subscriber, in turn ----------------
    N = 30
    for i in range(N):
        post("orders/1", "com.example.order", "rr-%d" % i, mode="unicast")
    got = phase()
    matching = ["alice", "bob", "dave"]
    counts = {n: len(got[n] or []) for n in got}
    every = sorted(x for n in matching for x in (got[n] or []))
    t.eq("round robin: each event delivered exactly once", sorted("rr-%d" % i for i in range(N)), every)
    t.check("round robin: only matching subscribers (not carol, erin)",
            counts["carol"] == 0 and counts["erin"] == 0, repr(counts))
    k = len(matching)
    t.check("round robin: each of %d gets ~N/k=%d" % (k, N // k),
            all(abs(counts[n] - N / k) <= 1 for n in matching), repr(counts))
    # in turn: consecutive events go to different subscribers
    owner = {x: n for n in matching for x in (got[n] or [])}
    seq_owners = [owner.get("rr-%d" % i) for i in range(N)]
    t.check("round robin: consecutive events go to different subscribers",
            all(seq_owners[i] != seq_owners[i + 1] for i in range(N - 1)), repr(seq_owners))

    # Unicast to a channel nobody matches: no delivery.
    post("void/1", "com.example.void", "uc-void", mode="unicast")
    got = phase()
    t.check("unicast with no matching subscriber: no delivery", all(v == [] for v in got.values()),
            repr(got))

    # Two live subscribers with the same name: exactly one of them gets it.
    bob2 = SseSub(srv.http_port, "/events/stream?name=bob&type=com.example.nothing")
    bob2.name = "bob(sse)"
    phase(subs + [bob2])
    post("orders/1", "com.example.order", "uc-bob-twice", mode="unicast", to="bob")
    got = phase(subs + [bob2])
    t.check("same name on both doors: exactly one delivery",
            sorted((got["bob"] or []) + (got["bob(sse)"] or [])) == ["uc-bob-twice"] and
            all(got[n] == [] for n in ("alice", "carol", "dave", "erin")), repr(got))
    bob2.close()

    # Binary mode: the extensions are ce- headers.
    st, _, _ = srv.http("POST", "/events", b"uc-bin", {
        "ce-specversion": "1.0", "ce-id": "cm-bin", "ce-source": "/castmodes", "ce-type": "com.example.order",
        "ce-subject": "orders/1", "ce-castmode": "unicast", "ce-castto": "alice", "Content-Type": "text/plain"})
    t.eq("binary-mode POST answers 201", 201, st)
    got = phase()
    t.check("binary mode ce-castmode/ce-castto: only alice",
            got["alice"] == ["uc-bin"] and all(got[n] == [] for n in got if n != "alice"), repr(got))

    # An unknown mode is multicast.
    post("orders/2", "com.example.order", "mc-unknown", mode="anycast")
    got = phase()
    t.check("unknown castmode behaves as multicast",
            got["bob"] == ["mc-unknown"] and got["dave"] == ["mc-unknown"] and
            all(got[n] == [] for n in ("alice", "carol", "erin")), repr(got))

    # ---- replay -----------------------------------------------------------------
    # The mode is stored with the event.
    st, events = srv.json("GET", "/events?source=/castmodes&limit=1000")
    t.eq("GET /events", 200, st)
    by_data = {e["data"]: e for e in events or []}
    t.check("GET /events shows castmode=unicast, castto=bob",
            by_data.get("uc-bob", {}).get("castmode") == "unicast" and
            by_data.get("uc-bob", {}).get("castto") == "bob", repr(by_data.get("uc-bob")))
    t.check("GET /events shows castmode=broadcast", by_data.get("bc-1", {}).get("castmode") == "broadcast")
    t.check("GET /events: multicast by default stores no castmode", "castmode" not in by_data.get("mc-1", {}))
    t.eq("the castto=nobody event was stored", seq_nobody, by_data.get("uc-nobody", {}).get("seq"))

    # A replay through SSE from=SEQ: the replaying client gets every stored
    # event its filters match, whatever castmode/castto say (the cast mode
    # governs live fan-out only), and nobody else gets anything again.
    first = min(e["seq"] for e in events)
    zed = SseSub(srv.http_port, "/events/stream?name=zed&type=com.example.order&from=%d" % first)
    zed.name = "zed"
    t.eq("SSE replay answers 200", 200, zed.status)
    got = phase(subs + [zed])
    want = [e["data"] for e in events if e["type"] == "com.example.order"]
    t.eq("replay: zed gets every stored com.example.order event in log order, unicast ones too",
         want, got["zed"])
    t.check("replay includes events unicast to others (bob, dave, nobody)",
            all(x in (got["zed"] or []) for x in ("uc-bob", "uc-dave", "uc-nobody")))
    t.check("replay: seqs strictly increasing", zed.seqs == sorted(set(zed.seqs)))
    t.check("replay goes to the replaying client only",
            all(got[s.name] == [] for s in subs), repr({s.name: got[s.name] for s in subs}))
    # After the replay zed is live like any other subscriber, name included.
    post("orders/9", "com.example.order", "uc-zed", mode="unicast", to="zed")
    got = phase(subs + [zed])
    t.check("after the replay: unicast castto=zed reaches zed only",
            got["zed"] == ["uc-zed"] and all(got[s.name] == [] for s in subs), repr(got))
    zed.close()
finally:
    for s in subs:
        try:
            s.close()
        except Exception:
            pass
    srv.close()
t.finish()
