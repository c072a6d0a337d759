# SPDX-License-Identifier: Apache-2.0
"""Retention against the real server: limits on count (set at start and
with CONFIG SET), age and bytes trim the front of the log; reads, cursor
creation, cursor and group fetches and cursor streams that ask for a trimmed
position get 410 problem+json naming earliest_seq (RESP: -ERR); the KV view
keeps its values; the head survives a restart (seqs are never reused);
/metrics and INFO show the earliest seq and the trimmed count."""
import json
import os
import socket
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()
BATCH = {"Content-Type": "application/cloudevents-batch+json"}


def append(srv, n, prefix, time_=None, data=None):
    seqs = []
    for start in range(0, n, 1000):
        evs = []
        for i in range(start, min(n, start + 1000)):
            e = {"specversion": "1.0", "id": "%s-%d" % (prefix, i), "source": "/ret",
                 "type": "com.example.ret", "data": data if data is not None else {"i": i}}
            if time_:
                e["time"] = time_
            evs.append(e)
        st, body = srv.json("POST", "/events", json.dumps(evs), BATCH)
        assert st == 201, (st, body)
        seqs += [it["seq"] for it in body["items"]]
    return seqs


def metric(srv, name):
    st, _, body = srv.http("GET", "/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    return None


def wait_first(srv, want, timeout=15):
    deadline = time.time() + timeout
    v = None
    while time.time() < deadline:
        v = metric(srv, "redcar_first_seq")
        if v is not None and v >= want:
            return v
        time.sleep(0.1)
    return v


def gone(what, st, body, first):
    t.check("%s: 410 naming earliest_seq %d" % (what, first),
            st == 410 and isinstance(body, dict) and body.get("earliest_seq") == first, repr((st, body)))


# ---- count limit ------------------------------------------------------------------------
srv = Redcar("--retention-max-events", "1000", "--retention-interval", "200ms")
try:
    r = redis.Redis(host="127.0.0.1", port=srv.resp_port, decode_responses=True)
    r.set("kept", "value-1")
    r.xadd("rs", {"k": "v"})
    r.xgroup_create("rs", "rg", id="0")
    st, _ = srv.json("POST", "/cursors", json.dumps({"name": "early"}))
    st, _ = srv.json("POST", "/cursors", json.dumps({"name": "earlyg", "mode": "group"}))
    st, _ = srv.json("POST", "/cursors", json.dumps({"name": "earlys"}))
    seqs = append(srv, 5000, "c")
    head = seqs[-1]
    first = wait_first(srv, head - 999)
    t.eq("count limit: the newest 1000 events stay", head - 999, first)
    t.eq("metrics: trimmed total", first - 1, metric(srv, "redcar_retention_trimmed_total"))
    st, b = srv.json("GET", "/events?from=1")
    gone("GET /events?from=1", st, b, first)
    st, h, _ = srv.http("GET", "/events?from=1")
    t.check("problem+json", h.get("Content-Type", "").startswith("application/problem+json"), repr(h))
    st, b = srv.json("GET", "/events?after=%d&limit=5" % (first - 1))
    t.check("GET /events from the earliest: 200", st == 200, repr(st))
    st, b = srv.json("POST", "/cursors", json.dumps({"name": "s10", "start": "seq:10"}))
    gone("create a cursor at a trimmed seq", st, b, first)
    st, b = srv.json("POST", "/cursors", json.dumps({"name": "t0", "start": "time:2000-01-01T00:00:00Z"}))
    gone("create a cursor at a time before the earliest event", st, b, first)
    st, b = srv.json("POST", "/cursors", json.dumps({"name": "beg", "start": "beginning"}))
    st, b = srv.json("GET", "/cursors/beg/events?limit=2")
    t.eq("a cursor from the beginning starts at the earliest stored event",
         [first, first + 1], [e["seq"] for e in (b if isinstance(b, list) else b["events"])] if st == 200 else (st, b))
    st, b = srv.json("GET", "/cursors/early/events")
    gone("fetch of a cursor left behind", st, b, first)
    st, b = srv.json("GET", "/cursors/earlyg/events?member=m")
    gone("fetch of a group left behind", st, b, first)
    s = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    s.sendall(b"GET /cursors/earlys/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resp = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        resp += c
    s.close()
    t.check("SSE stream of a cursor left behind: 410", resp.startswith(b"HTTP/1.1 410") and
            b'"earliest_seq":%d' % first in resp, resp[:300])
    st, b = srv.json("GET", "/cursors/earlyg/stream?member=m")
    gone("SSE stream of a group left behind", st, b, first)
    # Moving on is explicit: acknowledge up to the earliest seq - 1.
    st, b = srv.json("POST", "/cursors/early/ack", json.dumps({"seqs": [first - 1]}))
    st, b = srv.json("GET", "/cursors/early/events?limit=1")
    t.eq("after acknowledging the gap the cursor reads on", [first],
         [e["seq"] for e in (b if isinstance(b, list) else b["events"])] if st == 200 else (st, b))
    # RESP: INFO, the KV view, and errors.
    info = r.info("persistence")
    t.eq("INFO log_first_seq", first, info.get("log_first_seq"))
    t.eq("INFO log_trimmed", first - 1, info.get("log_trimmed"))
    t.eq("the KV view keeps its value", "value-1", r.get("kept"))
    try:
        r.xreadgroup("rg", "c1", {"rs": ">"})
        t.check("XREADGROUP of a group left behind: -ERR", False)
    except redis.ResponseError as e:
        t.check("XREADGROUP of a group left behind: -ERR naming the earliest seq",
                "earliest stored seq is %d" % first in str(e), str(e))
    st, _, b = srv.http("GET", "/kv/kept")
    t.check("KV over HTTP still answers", st == 200 and b"value-1" in b, repr((st, b)))
    # CONFIG SET: tighten to one event; the head stays.
    r.config_set("retention-max-events", "1")
    first = wait_first(srv, head)
    t.eq("retention-max-events 1 keeps the head", head, first)
    srv.stop()
    srv.start()
    more = append(srv, 1, "after-restart")
    t.eq("after a restart seqs go on (the head was kept)", head + 1, more[0])
finally:
    srv.close()

# ---- age limit --------------------------------------------------------------------------
srv = Redcar("--retention-max-age", "1h", "--retention-interval", "200ms")
try:
    old = append(srv, 20, "old", time_="2000-01-01T00:00:00Z")
    new = append(srv, 5, "new")
    late = append(srv, 3, "late", time_="2000-01-01T00:00:00Z")
    first = wait_first(srv, new[0])
    t.eq("age limit trims the old front of the log", new[0], first)
    st, b = srv.json("GET", "/events?after=%d" % (first - 1))
    t.eq("age limit: only a prefix goes (old events after new ones stay)", new + late,
         [e["seq"] for e in (b if isinstance(b, list) else b["events"])] if st == 200 else (st, b))
finally:
    srv.close()

# ---- bytes limit ------------------------------------------------------------------------
srv = Redcar("--retention-max-bytes", "2mb", "--retention-interval", "200ms")
try:
    pad = "x" * 400
    seqs = append(srv, 20000, "b", data={"pad": pad})
    first = wait_first(srv, 2)
    t.check("bytes limit trims the front (earliest %s)" % first, first is not None and 1 < first <= seqs[-1])
    st, b = srv.json("GET", "/events/%d" % seqs[-1])
    t.check("bytes limit: the newest event stays", st == 200, repr(st))
finally:
    srv.close()
t.finish()
