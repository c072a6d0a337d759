#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A webhook receiver for Redcar push subscriptions (standard library only).

Redcar can push events to an HTTP endpoint (a "sink") instead of waiting to
be asked: POST /subscriptions registers the sink with a filter, and from
then on every matching event is POSTed to it following the CloudEvents HTTP
binding. This program is such a sink:

  - it accepts the three modes of the binding: binary (ce-* headers, the
    body is the data), structured (application/cloudevents+json) and batch
    (application/cloudevents-batch+json);
  - it answers 2xx once the event is handled. A 5xx, 408, 429 or no answer
    makes Redcar retry later with backoff (honouring Retry-After), so
    delivery is at least once and the receiver skips an event it already
    handled, by (source, id) (each push also carries ce-seq, the log
    position, which works as well);
  - a request that is not a CloudEvent gets 400. Redcar does not retry a
    4xx: it dead-letters the event (an io.redcar.deadletter event in the
    log) and moves on, since retrying cannot change the answer.

Redcar pushes one event per request in binary mode, in log order; the
structured and batch branches below make the receiver usable with any
CloudEvents sender.

With --register it also registers itself (and deletes the subscription on
exit), which is how the test runs it.

Usage:  receiver.py [--port 8600] [--register] [--prefix orders/] [--count N] [--seconds S]
Env:    REDCAR_URL (default http://127.0.0.1:8519), the Redcar to register with
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REDCAR = os.environ.get("REDCAR_URL", "http://127.0.0.1:8519")


def events_from_request(headers, body):
    """The CloudEvents carried by one HTTP request, as dicts; ValueError if none."""
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype == "application/cloudevents+json":
        return [json.loads(body)]
    if ctype == "application/cloudevents-batch+json":
        batch = json.loads(body)
        if not isinstance(batch, list):
            raise ValueError("a batch must be a JSON array")
        return batch
    if headers.get("ce-specversion"):
        # Binary mode: every ce-* header is an attribute, percent-encoded
        # by the binding's rules (so non-ASCII survives HTTP headers); the
        # body is the data in the Content-Type's format.
        ev = {k[3:].lower(): urllib.parse.unquote(v) for k, v in headers.items()
              if k.lower().startswith("ce-")}
        if ctype:
            ev["datacontenttype"] = headers.get("Content-Type")
        if ctype.endswith("json") and body:
            ev["data"] = json.loads(body)
        elif body:
            ev["data"] = body.decode("utf-8", "replace")
        return [ev]
    raise ValueError("not a CloudEvent: no ce-specversion header and Content-Type %r" % ctype)


class Receiver(BaseHTTPRequestHandler):
    seen = set()  # (source, id) already handled: deliveries may repeat
    handled = 0
    lock = threading.Lock()
    done = threading.Event()
    count = 0

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            events = events_from_request(self.headers, body)
            for ev in events:
                if not all(ev.get(a) for a in ("specversion", "id", "source", "type")):
                    raise ValueError("missing a required attribute")
        except ValueError as e:  # json.JSONDecodeError is a ValueError too
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(e).encode())
            return
        for ev in events:
            self.handle_event(ev)
        # 204: handled. Answer only after the work is done (here: printed).
        self.send_response(204)
        self.end_headers()

    def handle_event(self, ev):
        key = (ev["source"], ev["id"])
        with Receiver.lock:
            if key in Receiver.seen:
                print("again  %s %s (already handled, skipped)" % (ev["source"], ev["id"]), flush=True)
                return
            Receiver.seen.add(key)
            Receiver.handled += 1
            n = Receiver.handled
        data = json.dumps(ev.get("data"), ensure_ascii=False)
        print("event  seq=%s type=%s subject=%s id=%s data=%s"
              % (ev.get("seq"), ev["type"], ev.get("subject"), ev["id"], data), flush=True)
        if Receiver.count and n >= Receiver.count:
            Receiver.done.set()

    def log_message(self, fmt, *args):  # keep stdout for the events
        pass


def redcar(method, path, doc=None):
    data = json.dumps(doc).encode() if doc is not None else None
    req = urllib.request.Request(REDCAR + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            text = res.read()
            return res.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode("utf-8", "replace")


def register(sink, prefix):
    """POST /subscriptions: the CloudEvents Subscriptions API shape."""
    status, sub = redcar("POST", "/subscriptions", {
        "sink": sink,
        "protocol": "HTTP",
        "filters": [{"prefix": {"subject": prefix}}],
        # Only events appended from now on; "beginning" would replay history.
        "config": {"start": "end"},
    })
    if status != 201:
        sys.exit("POST /subscriptions: %s %s" % (status, sub))
    print("registered subscription %s: %s -> %s" % (sub["id"], prefix, sink), flush=True)
    return sub["id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8600, help="0 picks a free port")
    ap.add_argument("--register", action="store_true", help="register with Redcar (and unregister on exit)")
    ap.add_argument("--prefix", default="orders/", help="subject prefix to subscribe to (with --register)")
    ap.add_argument("--count", type=int, default=0, help="stop after this many events (0 = until Ctrl-C)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0 = no limit)")
    args = ap.parse_args()

    Receiver.count = args.count
    server = ThreadingHTTPServer((args.host, args.port), Receiver)
    server.daemon_threads = True
    sink = "http://%s:%d/" % (args.host, server.server_address[1])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("receiving on %s" % sink, flush=True)

    signal.signal(signal.SIGTERM, lambda *_: Receiver.done.set())
    sub_id = register(sink, args.prefix) if args.register else None
    try:
        Receiver.done.wait(args.seconds or None)
    except KeyboardInterrupt:
        pass
    finally:
        if sub_id:
            status, _ = redcar("DELETE", "/subscriptions/%s" % sub_id)
            print("deleted subscription %s (%s)" % (sub_id, status), flush=True)
        server.shutdown()
    print("handled %d events" % Receiver.handled, flush=True)


if __name__ == "__main__":
    main()
