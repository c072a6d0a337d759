# SPDX-License-Identifier: Apache-2.0
"""Push subscriptions (webhooks) against a local HTTP sink that fails on
purpose: in-order delivery in binary content mode (exact ce-* headers,
Content-Type and body), retries of 503/429/timeouts with backoff, a
Retry-After honoured, dead letters after the configured attempts and at
once for a 404, the subscription and its position surviving a restart (no
redelivery of acknowledged events, pending ones delivered after it),
deletion stopping delivery, and bad requests refused with a clear 400."""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally, wait_for  # noqa: E402

t = Tally()


class Sink:
    """A local webhook receiver. Every request is recorded (time, path,
    lower-cased headers, body); the answer depends on the path:
      /flaky   503, 503, 429 (Retry-After: 1), a response slower than the
               subscription's timeout, then 200 for ever
      /fail    always 500            /gone   always 404
      /hang    answers after 10 s
      /toggle  503 while self.down, else 200
      anything else: 200"""

    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = []
        self.flaky = 0
        self.down = False
        sink = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with sink.lock:
                    sink.reqs.append((time.time(), self.path, hdrs, body))
                    if self.path == "/flaky":
                        sink.flaky += 1
                        k = sink.flaky
                status, extra, delay = 200, {}, 0
                if self.path == "/flaky":
                    if k <= 2:
                        status = 503
                    elif k == 3:
                        status, extra = 429, {"Retry-After": "1"}
                    elif k == 4:
                        delay = 2.0
                elif self.path == "/fail":
                    status = 500
                elif self.path == "/gone":
                    status = 404
                elif self.path == "/hang":
                    delay = 10.0
                elif self.path == "/toggle" and sink.down:
                    status = 503
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k2, v in extra.items():
                        self.send_header(k2, v)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up (timeout): expected for the slow answer

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def on(self, path):
        with self.lock:
            return [r for r in self.reqs if r[1] == path]

    def wait(self, path, n, timeout=20):
        """The requests on path once there are at least n (fewer at the
        deadline: the check that follows names what arrived)."""
        return wait_for(lambda: self.on(path), lambda r: len(r) >= n, timeout)[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def post_event(srv, ev):
    st, body = srv.json("POST", "/events", json.dumps(ev),
                        {"Content-Type": "application/cloudevents+json"})
    assert st == 201, (st, body)
    return body["seq"]


def delivering(srv, sub_id):
    """Wait until sub_id's delivery thread runs (its log line): the
    supervisor starts it within its poll period after the create."""
    t.check("delivery thread for %s started" % sub_id,
            srv.wait_log(r"push: subscription %s: delivering to " % sub_id) is not None,
            "no 'delivering to' line in the log")


def settled(srv, sub_id, pred, what):
    """Wait until GET /subscriptions/sub_id's status satisfies pred (counts a
    timeout as a failure); returns the last status seen."""
    return t.wait("%s: %s" % (sub_id, what),
                  lambda: (srv.json("GET", "/subscriptions/" + sub_id)[1] or {}).get("status", {}), pred)


def ev(id_, type_, data=None, **kw):
    e = {"specversion": "1.0", "id": id_, "source": "/test/push", "type": type_}
    if data is not None:
        e["data"] = data
    e.update(kw)
    return e


sink = Sink()
srv = Redcar()
try:
    # ---- bad requests ---------------------------------------------------------------
    bad = [
        ({"sink": "ftp://127.0.0.1/x"}, "http"),
        ({"sink": "not a url"}, "sink"),
        ({"sink": "http://"}, "sink"),
        ({}, "sink: required"),
        ({"sink": sink.url("/ok"), "protocol": "MQTT3"}, "protocol"),
        ({"sink": sink.url("/ok"), "filters": [{"nope": {}}]}, "filters"),
        ({"sink": sink.url("/ok"), "filters": {"exact": {"type": "x"}}}, "filters"),
        ({"sink": sink.url("/ok"), "config": {"max_attempts": 0}}, "config.max_attempts"),
        ({"sink": sink.url("/ok"), "config": {"retries": 3}}, "config.retries"),
        ({"sink": sink.url("/ok"), "config": {"start": "yesterday"}}, "config.start"),
        ({"sink": sink.url("/ok"), "protocolsettings": {"headers": {"X-A": "a\r\nB: c"}}}, "control"),
        ({"sink": sink.url("/ok"), "protocolsettings": {"headers": {"ce-id": "x"}}}, "ce-id"),
        ({"sink": sink.url("/ok"), "id": "has space"}, "id"),
        ({"sink": sink.url("/ok"), "types": ["a"]}, "types"),
    ]
    for body, word in bad:
        st, b = srv.json("POST", "/subscriptions", json.dumps(body))
        t.check("400 for %s" % json.dumps(body)[:70], st == 400 and word in (b or {}).get("detail", ""),
                "%r %r" % (st, b))
    st, b = srv.json("POST", "/subscriptions", "{not json")
    t.eq("400 for a body that is not JSON", 400, st)
    t.eq("GET unknown subscription -> 404", 404, srv.json("GET", "/subscriptions/nope")[0])
    t.eq("DELETE unknown subscription -> 404", 404, srv.json("DELETE", "/subscriptions/nope")[0])
    t.eq("no subscriptions yet", [], srv.json("GET", "/subscriptions")[1])

    # ---- in order, binary mode, retries, Retry-After, timeout --------------------------
    st, h, b = srv.http("POST", "/subscriptions", json.dumps({
        "id": "flaky", "sink": sink.url("/flaky"), "protocol": "HTTP",
        "filters": [{"exact": {"type": "com.example.push"}}],
        "protocolsettings": {"headers": {"X-Token": "s3cret"}},
        "config": {"max_attempts": 6, "timeout_ms": 700, "backoff_base_ms": 200,
                   "backoff_max_ms": 1000}}))
    sub = json.loads(b)
    t.eq("create -> 201", 201, st)
    t.eq("Location", "/subscriptions/flaky", h.get("Location"))
    t.check("Subscriptions API shape", sub.get("id") == "flaky" and sub.get("protocol") == "HTTP"
            and sub.get("sink") == sink.url("/flaky")
            and sub.get("filters") == [{"exact": {"type": "com.example.push"}}], sub)
    t.eq("config with defaults filled in", {"max_attempts": 6, "timeout_ms": 700,
         "backoff_base_ms": 200, "backoff_max_ms": 1000, "start": "end"}, sub.get("config"))
    t.eq("duplicate id -> 409", 409, srv.json("POST", "/subscriptions", json.dumps(
        {"id": "flaky", "sink": sink.url("/x")}))[0])
    delivering(srv, "flaky")

    subj = 'orders/a b/\u00fc"%'
    s1 = post_event(srv, ev("e1", "com.example.push", {"n": 1, "s": "x y"}, subject=subj,
                            myext="v 1", datacontenttype="application/json"))
    post_event(srv, ev("other", "com.example.other", {"n": 0}))  # filtered out
    s2 = post_event(srv, ev("e2", "com.example.push", "plain text \u00e9",
                            datacontenttype="text/plain"))
    raw = bytes([0, 1, 2, 255, 254, 10, 13])
    st, _, b3 = srv.http("POST", "/events", raw, {
        "ce-specversion": "1.0", "ce-id": "e3", "ce-source": "/test/push",
        "ce-type": "com.example.push", "Content-Type": "application/octet-stream"})
    t.eq("binary-mode append", 201, st)
    s3 = json.loads(b3)["seq"] if st == 201 else s2 + 1
    reqs = sink.wait("/flaky", 7, timeout=30)
    ids = [r[2].get("ce-id") for r in reqs]
    t.eq("attempts in order: e1 five times (503, 503, 429, timeout, 200), then e2, e3",
         ["e1"] * 5 + ["e2", "e3"], ids)
    if len(reqs) >= 7:
        ts = [r[0] for r in reqs]
        g = [ts[i + 1] - ts[i] for i in range(6)]
        print("# gaps between attempts: " + ", ".join("%.3f" % x for x in g))
        t.check("backoff after the 1st 503 within [100, 200] ms (+slack)", 0.09 <= g[0] <= 0.6, g[0])
        t.check("backoff after the 2nd 503 within [200, 400] ms (+slack)", 0.19 <= g[1] <= 0.9, g[1])
        t.check("Retry-After: 1 honoured (>= 1 s)", 0.98 <= g[2] <= 2.0, g[2])
        t.check("timeout (700 ms) then backoff [500, 1000] ms", 1.15 <= g[3] <= 2.5, g[3])
        h1, b1 = reqs[0][2], reqs[0][3]
        t.eq("ce-specversion", "1.0", h1.get("ce-specversion"))
        t.eq("ce-source", "/test/push", h1.get("ce-source"))
        t.eq("ce-type", "com.example.push", h1.get("ce-type"))
        t.eq("ce-subject percent-encoded", "orders/a%20b/%C3%BC%22%25", h1.get("ce-subject"))
        t.eq("extension percent-encoded", "v%201", h1.get("ce-myext"))
        t.eq("ce-seq", str(s1), h1.get("ce-seq"))
        t.check("ce-time set by the store", bool(h1.get("ce-time")), h1)
        t.eq("Content-Type = datacontenttype", "application/json", h1.get("content-type"))
        t.eq("body = data", {"n": 1, "s": "x y"}, json.loads(b1))
        t.eq("protocolsettings header sent", "s3cret", h1.get("x-token"))
        t.check("no ce-datacontenttype, no ce-data", "ce-datacontenttype" not in h1
                and "ce-data" not in h1, h1)
        t.eq("retries resend the same event", {str(s1)}, {r[2].get("ce-seq") for r in reqs[:5]})
        h2, b2 = reqs[5][2], reqs[5][3]
        t.eq("text event: Content-Type", "text/plain", h2.get("content-type"))
        t.eq("text event: body bytes", "plain text \u00e9".encode(), b2)
        t.eq("text event: ce-seq", str(s2), h2.get("ce-seq"))
        h3, b3 = reqs[6][2], reqs[6][3]
        t.eq("binary event: Content-Type", "application/octet-stream", h3.get("content-type"))
        t.eq("binary event: body bytes", raw, b3)
    # Once e3 is acknowledged nothing is pending, so nothing can be sent again.
    settled(srv, "flaky", lambda s: s.get("pending") == 0 and s.get("ack_seq", 0) >= s3,
            "e3 acknowledged, nothing pending")
    t.eq("nothing more sent (filter, no duplicates)", 7, len(sink.on("/flaky")))
    st, sub = srv.json("GET", "/subscriptions/flaky")
    t.check("status: everything acknowledged", st == 200 and sub["status"]["pending"] == 0
            and sub["status"]["ack_seq"] >= s3 and sub["consumer"] == "push.flaky", sub)

    # ---- dead letters -----------------------------------------------------------------
    for body in ({"id": "dead", "sink": sink.url("/fail"),
                  "filters": [{"exact": {"type": "com.example.dl"}}],
                  "config": {"max_attempts": 3, "backoff_base_ms": 50, "backoff_max_ms": 100}},
                 {"id": "gone", "sink": sink.url("/gone"),
                  "filters": [{"exact": {"type": "com.example.gone"}}]}):
        t.eq("create %s" % body["id"], 201, srv.json("POST", "/subscriptions", json.dumps(body))[0])
        delivering(srv, body["id"])
    d1 = post_event(srv, ev("d1", "com.example.dl", {"i": 1}))
    d2 = post_event(srv, ev("d2", "com.example.dl", {"i": 2}))
    g1 = post_event(srv, ev("g1", "com.example.gone", {"i": 3}))
    # Both events dead-lettered means no attempt is left to come: the count is final.
    settled(srv, "dead", lambda s: s.get("dead") == 2 and s.get("pending") == 0,
            "d1 and d2 dead-lettered, nothing pending")
    t.eq("500: max_attempts (3) attempts per event, in order",
         ["d1"] * 3 + ["d2"] * 3, [r[2].get("ce-id") for r in sink.on("/fail")])
    settled(srv, "gone", lambda s: s.get("dead") == 1 and s.get("pending") == 0,
            "g1 dead-lettered, nothing pending")
    t.eq("404: one attempt only", ["g1"], [r[2].get("ce-id") for r in sink.on("/gone")])

    def dead_letters():
        st, dls = srv.json("GET", "/events?type=io.redcar.deadletter")
        return dls if isinstance(dls, list) else dls.get("events", dls.get("items", []))
    dls = wait_for(dead_letters, lambda v: {d1, d2, g1} <= {d["data"]["seq"] for d in v})[1]
    by = {d["data"]["seq"]: d for d in dls}
    t.check("dead letters appended for d1, d2, g1", {d1, d2, g1} <= set(by), dls)
    if d1 in by:
        t.eq("dead letter subject", "push.dead", by[d1].get("subject"))
        t.check("dead letter reason", "HTTP 500 after 3 attempts" in by[d1]["data"]["reason"], by[d1])
        t.eq("dead letter names the event", {"type": "com.example.dl", "source": "/test/push",
             "id": "d1"}, by[d1]["data"].get("event"))
        t.eq("dead letter attempts", 3, by[d1]["data"].get("deliveries"))
    if g1 in by:
        t.check("404 reason", "HTTP 404" in by[g1]["data"]["reason"], by[g1])
    st, sub = srv.json("GET", "/subscriptions/dead")
    t.check("dead-lettered counted, nothing pending", sub["status"]["dead"] == 2
            and sub["status"]["pending"] == 0, sub)

    # ---- restart -----------------------------------------------------------------------
    t.eq("create toggle", 201, srv.json("POST", "/subscriptions", json.dumps({
        "id": "toggle", "sink": sink.url("/toggle"),
        "filters": [{"exact": {"type": "com.example.r"}}],
        "config": {"max_attempts": 50, "backoff_base_ms": 100, "backoff_max_ms": 300}}))[0])
    delivering(srv, "toggle")
    post_event(srv, ev("r1", "com.example.r", {"i": 1}))
    post_event(srv, ev("r2", "com.example.r", {"i": 2}))
    sink.wait("/toggle", 2)
    sink.down = True
    r3 = post_event(srv, ev("r3", "com.example.r", {"i": 3}))
    r4 = post_event(srv, ev("r4", "com.example.r", {"i": 4}))
    t.eq("create hang", 201, srv.json("POST", "/subscriptions", json.dumps({
        "id": "hang", "sink": sink.url("/hang"), "filters": [{"exact": {"type": "com.example.h"}}],
        "config": {"timeout_ms": 30000}}))[0])
    delivering(srv, "hang")
    post_event(srv, ev("h1", "com.example.h", {"i": 1}))
    t.eq("h1 in flight (the sink holds it 10 s)", 1, len(sink.wait("/hang", 1)))
    # r1, r2, then at least two attempts at r3: it is being retried at the stop.
    t.check("r3 retried while the sink answers 503", len(sink.wait("/toggle", 4)) >= 4,
            sink.on("/toggle"))
    t0 = time.time()
    srv.stop()
    stop_s = time.time() - t0
    print("# server stop with a webhook retrying and one in flight: %.3f s" % stop_s)
    t.check("stop is prompt while a webhook retries and one hangs", stop_s < 3, stop_s)
    before = len(sink.on("/toggle"))
    sink.down = False
    srv.start()
    # r4 acknowledged and nothing pending: every redelivery there will be has happened.
    settled(srv, "toggle", lambda s: s.get("pending") == 0 and s.get("ack_seq", 0) >= r4,
            "r4 acknowledged after the restart, nothing pending")
    ok = [r[2].get("ce-id") for r in sink.on("/toggle")]
    t.eq("before restart: r1, r2 once, then r3 retried", ["r1", "r2"], ok[:2])
    t.check("r3 was being retried before the restart", ok[2:before] and set(ok[2:before]) == {"r3"},
            ok)
    t.eq("after restart: r3 then r4, no acknowledged event again", ["r3", "r4"], ok[before:])
    st, sub = srv.json("GET", "/subscriptions/toggle")
    t.check("subscription survived the restart", st == 200 and sub["sink"] == sink.url("/toggle")
            and sub["config"]["max_attempts"] == 50, sub)
    st, lst = srv.json("GET", "/subscriptions")
    t.eq("list after restart", ["dead", "flaky", "gone", "hang", "toggle"], [s["id"] for s in lst])
    t.eq("flaky got nothing again after the restart", 7, len(sink.on("/flaky")))

    # ---- delete -------------------------------------------------------------------------
    # A witness subscription on the same events: once it has r5, the push
    # machinery has handled r5, and the deleted one must have sent nothing.
    t.eq("create witness", 201, srv.json("POST", "/subscriptions", json.dumps({
        "id": "witness", "sink": sink.url("/witness"),
        "filters": [{"exact": {"type": "com.example.r"}}]}))[0])
    delivering(srv, "witness")
    t.eq("DELETE -> 204", 204, srv.http("DELETE", "/subscriptions/toggle")[0])
    t.check("toggle's delivery thread ended",
            srv.wait_log(r"subscription toggle: (stopping delivery|deleted, delivery ends)") is not None,
            "no stop line in the log")
    post_event(srv, ev("r5", "com.example.r", {"i": 5}))
    t.eq("the witness got r5", ["r5"], [r[2].get("ce-id") for r in sink.wait("/witness", 1)])
    t.eq("no delivery after delete", ["r3", "r4"], [r[2].get("ce-id") for r in sink.on("/toggle")][before:])
    t.eq("GET deleted -> 404", 404, srv.json("GET", "/subscriptions/toggle")[0])
    t.eq("its consumer is gone too", 404, srv.json("GET", "/cursors/push.toggle")[0])

    # ---- a generated id ------------------------------------------------------------------
    st, h, b = srv.http("POST", "/subscriptions", json.dumps({"sink": sink.url("/ok")}))
    gen = json.loads(b).get("id", "")
    t.check("generated id", st == 201 and len(gen) == 16 and h.get("Location") == "/subscriptions/" + gen,
            (st, b))
    t.eq("delete it", 204, srv.http("DELETE", "/subscriptions/" + gen)[0])
finally:
    srv.close()
    sink.close()
t.finish()
