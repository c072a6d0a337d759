# SPDX-License-Identifier: Apache-2.0
"""The same event through every door: HTTP -> Redis subscriber, Redis
PUBLISH/SET -> HTTP read, with real clients (python3-redis, urllib)."""
import json
import os
import sys
import time

import redis

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()
srv = Redcar()
try:
    r = redis.Redis(host="127.0.0.1", port=srv.resp_port, socket_timeout=10)
    p = r.pubsub()
    p.psubscribe("orders/*")
    p.subscribe("plain")
    # Drain the subscribe confirmations.
    for _ in range(2):
        p.get_message(timeout=5)

    # HTTP structured POST -> Redis pattern subscriber gets the data bytes.
    ev = {"specversion": "1.0", "id": "x-1", "source": "/shop", "type": "com.example.order.created",
          "subject": "orders/42", "datacontenttype": "application/json", "data": {"total": 9}}
    st, body = srv.json("POST", "/events", json.dumps(ev), {"Content-Type": "application/cloudevents+json"})
    t.eq("structured POST answers 201", 201, st)
    msg = None
    deadline = time.time() + 5
    while time.time() < deadline and msg is None:
        m = p.get_message(timeout=1)
        if m and m["type"] == "pmessage":
            msg = m
    t.check("pmessage received", msg is not None)
    if msg:
        t.eq("pattern", b"orders/*", msg["pattern"])
        t.eq("channel is the subject", b"orders/42", msg["channel"])
        t.eq("payload is the data", {"total": 9}, json.loads(msg["data"]))

    # HTTP binary-mode POST without subject -> channel is the type.
    st, _, _ = srv.http("POST", "/events", b"hello", {"ce-specversion": "1.0", "ce-id": "b-1",
                        "ce-source": "/x", "ce-type": "plain", "Content-Type": "text/plain"})
    t.eq("binary POST answers 201", 201, st)
    msg = None
    deadline = time.time() + 5
    while time.time() < deadline and msg is None:
        m = p.get_message(timeout=1)
        if m and m["type"] == "message":
            msg = m
    t.check("message on the type channel", msg is not None and msg["data"] == b"hello", repr(msg))

    # Redis PUBLISH -> readable over HTTP as io.redcar.message.
    n = r.publish("news", "extra!")
    t.eq("PUBLISH with no subscribers", 0, n)
    st, events = srv.json("GET", "/events?subject=news")
    t.eq("GET /events?subject=news", 200, st)
    t.check("PUBLISH is an io.redcar.message event", len(events) == 1 and events[0]["type"] == "io.redcar.message",
            repr(events))
    if events:
        t.eq("message data", "extra!", events[0].get("data"))
        t.check("seq attribute present", isinstance(events[0].get("seq"), int))

    # Redis SET -> an io.redcar.kv.put event and the KV view over HTTP.
    t.check("SET", r.set("greeting", "hi there"))
    st, events = srv.json("GET", "/events?subject=greeting")
    t.check("SET is an io.redcar.kv.put event", len(events) == 1 and events[0]["type"] == "io.redcar.kv.put",
            repr(events))
    st, hdrs, val = srv.http("GET", "/kv/greeting")
    t.eq("GET /kv/greeting", (200, b"hi there"), (st, val))
    # HTTP PUT -> Redis GET
    st, _, _ = srv.http("PUT", "/kv/colour", b"blue", {"Content-Type": "text/plain"})
    t.check("PUT /kv/colour", st in (200, 201))
    t.eq("Redis GET sees the HTTP PUT", b"blue", r.get("colour"))
    p.close()
finally:
    srv.close()
t.finish()
