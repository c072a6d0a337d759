#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A pub/sub worker on Redcar's Redis door: keep running totals of orders.

It PSUBSCRIBEs to a channel pattern (default ``orders/*``). In Redcar the
channel of an event is its CloudEvents ``subject``, so this worker receives
every event whose subject matches, whichever door wrote it: a CloudEvent
POSTed over HTTP, a ``PUBLISH`` from any Redis client, a ``SET`` on a key.

By default a subscriber receives only the event's data bytes, as Redis
clients expect. ``CLIENT CEFORMAT json`` switches the connection to whole
structured CloudEvents (with their ``seq``), so the worker can look at the
event type, source and position, not only the payload.

Pub/sub is live only: events published while the worker is down are not
replayed to it (read GET /events?after=<last seq> or use a durable consumer
for that; see ../streams-worker).

Usage:  worker.py [--pattern 'orders/*'] [--count N] [--seconds S]
Env:    REDCAR_REDIS_URL (default redis://127.0.0.1:6379)
Needs:  python3-redis (Debian: apt install python3-redis)
"""
import argparse
import json
import os
import signal
import sys
import time

import redis


class CloudEventConnection(redis.Connection):
    """A connection that asks for whole CloudEvents as soon as it connects.

    Doing it in on_connect (rather than once after creating the client) means
    a reconnect after a network blip gets the same format again.
    """

    def on_connect(self):
        super().on_connect()
        self.send_command("CLIENT", "CEFORMAT", "json")
        if self.read_response() != b"OK":
            raise redis.ConnectionError("server refused CLIENT CEFORMAT json (is this Redcar?)")


class Totals:
    """The worker's state: what it learned from the events so far."""

    def __init__(self):
        self.orders = 0
        self.revenue = 0.0
        self.by_customer = {}
        self.last_seq = 0

    def apply(self, ev):
        """Process one CloudEvent (a dict in the JSON event format)."""
        self.last_seq = ev.get("seq", self.last_seq)
        data = ev.get("data")
        if isinstance(data, str):
            # A PUBLISH of a JSON string arrives as JSON data already; other
            # producers may send text: accept a JSON document in a string too.
            try:
                data = json.loads(data)
            except ValueError:
                data = None
        if ev.get("type") not in ("com.example.order.created", "io.redcar.message") \
                or not isinstance(data, dict) or "total" not in data:
            print("seq %s: skipped %s on %s (not an order)" % (ev.get("seq"), ev.get("type"), ev.get("subject")),
                  flush=True)
            return False
        total = float(data["total"])
        customer = data.get("customer", "unknown")
        self.orders += 1
        self.revenue += total
        self.by_customer[customer] = self.by_customer.get(customer, 0.0) + total
        print("seq %s: %s from %s via %s: %.2f (orders %d, revenue %.2f)"
              % (ev["seq"], ev.get("subject"), customer, ev.get("source"), total, self.orders, self.revenue),
              flush=True)
        return True

    def summary(self):
        return {"orders": self.orders, "revenue": round(self.revenue, 2),
                "by_customer": {k: round(v, 2) for k, v in sorted(self.by_customer.items())},
                "last_seq": self.last_seq}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pattern", default="orders/*", help="channel (subject) pattern, glob-style")
    ap.add_argument("--count", type=int, default=0, help="stop after this many orders (0 = run until Ctrl-C)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0 = no limit)")
    args = ap.parse_args()

    url = os.environ.get("REDCAR_REDIS_URL", "redis://127.0.0.1:6379")
    pool = redis.ConnectionPool.from_url(url, connection_class=CloudEventConnection)
    r = redis.Redis(connection_pool=pool)

    # SIGTERM (e.g. from a process supervisor) stops as cleanly as Ctrl-C.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))

    def subscribe():
        pubsub = r.pubsub()
        pubsub.psubscribe(args.pattern)
        # The first message is the psubscribe confirmation: wait for it so
        # that "listening" really means events published from now on arrive.
        confirm = pubsub.get_message(timeout=5)
        if not confirm or confirm["type"] != "psubscribe":
            raise redis.ConnectionError("no psubscribe confirmation")
        print("listening on %s at %s (CloudEvents as JSON)" % (args.pattern, url), flush=True)
        return pubsub

    try:
        pubsub = subscribe()
    except redis.RedisError as e:
        sys.exit("cannot subscribe at %s: %s" % (url, e))

    totals = Totals()
    deadline = time.monotonic() + args.seconds if args.seconds else None
    try:
        while not stopping:
            if deadline and time.monotonic() >= deadline:
                break
            if pubsub is None:  # lost the connection: try again every second
                try:
                    pubsub = subscribe()
                except redis.RedisError:
                    time.sleep(1)
                    continue
            try:
                # A short timeout keeps the loop responsive to the deadline
                # and to SIGTERM without busy-waiting.
                msg = pubsub.get_message(timeout=0.5)
            except redis.ConnectionError as e:
                # The server went away (restart, network). Subscribe again;
                # pub/sub is live only, so whatever was published in between
                # is not replayed: GET /events?after=<last seq> would find it.
                print("connection lost (%s); resubscribing, last seq seen %d" % (e, totals.last_seq), flush=True)
                pubsub.close()
                pubsub = None
                continue
            if msg is None or msg["type"] != "pmessage":
                continue
            try:
                ev = json.loads(msg["data"])
            except ValueError:
                print("not a CloudEvent on %r: %r" % (msg["channel"], msg["data"][:80]), flush=True)
                continue
            if totals.apply(ev) and args.count and totals.orders >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        if pubsub is not None:
            pubsub.close()
    print("totals " + json.dumps(totals.summary(), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
