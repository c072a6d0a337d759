#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Produce orders for worker.py, through both of Redcar's doors.

Even-numbered orders are CloudEvents POSTed over HTTP (structured mode, with
our own type and source); odd-numbered ones are a plain Redis ``PUBLISH`` of
a JSON message, which Redcar stores as an ``io.redcar.message`` event with the
channel as its subject. Both land in the same log and reach the same
subscribers: the worker cannot tell which door an order came through except
by its ``source``.

Usage:  producer.py [--orders N] [--run ID]
Env:    REDCAR_URL (default http://127.0.0.1:8519),
        REDCAR_REDIS_URL (default redis://127.0.0.1:6379)
"""
import argparse
import json
import os
import time
import urllib.request

import redis

CUSTOMERS = ["ada", "grace", "linus"]


def post_event(base_url, event):
    """POST one structured CloudEvent; returns the seq the log gave it."""
    req = urllib.request.Request(
        base_url + "/events", data=json.dumps(event).encode(), method="POST",
        headers={"Content-Type": "application/cloudevents+json"})
    with urllib.request.urlopen(req, timeout=10) as res:  # raises on 4xx/5xx
        return json.load(res)["seq"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=6)
    ap.add_argument("--run", default=str(int(time.time() * 1000)),
                    help="suffix that makes this run's event ids unique (ids are idempotency keys)")
    args = ap.parse_args()

    http_url = os.environ.get("REDCAR_URL", "http://127.0.0.1:8519")
    r = redis.Redis.from_url(os.environ.get("REDCAR_REDIS_URL", "redis://127.0.0.1:6379"))

    revenue = 0.0
    for i in range(1, args.orders + 1):
        order = {"customer": CUSTOMERS[i % len(CUSTOMERS)], "total": round(9.5 * i, 2)}
        subject = "orders/%s-%d" % (args.run, i)
        if i % 2 == 0:
            seq = post_event(http_url, {
                "specversion": "1.0", "id": "order-%s-%d" % (args.run, i), "source": "/examples/producer",
                "type": "com.example.order.created", "subject": subject,
                "datacontenttype": "application/json", "data": order})
            print("HTTP    %s -> seq %d" % (subject, seq), flush=True)
        else:
            # PUBLISH answers with the number of subscribers that received it,
            # once the event is committed to the log.
            receivers = r.publish(subject, json.dumps(order))
            print("PUBLISH %s -> %d subscriber(s)" % (subject, receivers), flush=True)
        revenue += order["total"]
    print("sent %d orders, revenue %.2f" % (args.orders, revenue), flush=True)


if __name__ == "__main__":
    main()
