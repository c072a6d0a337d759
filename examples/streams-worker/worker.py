#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A consumer-group worker on Redcar's Redis Streams commands.

Jobs are entries of the stream ``jobs`` (XADD jobs * n 7). In Redcar a
stream is a subject: each entry is an event in the log, its ID is
``<seq>-0``, and a consumer group is a durable consumer kept in the store.
So the group's position and its pending entries survive a restart of this
worker *and* of the server.

The loop is the classic Redis one:

  1. XGROUP CREATE jobs workers 0 MKSTREAM  (once; BUSYGROUP = already there)
  2. XREADGROUP ... STREAMS jobs 0   -> entries delivered to *this* consumer
     earlier and never acknowledged (we crashed mid-job): redo them first;
  3. XREADGROUP ... BLOCK 1000 STREAMS jobs >   -> new entries;
  4. handle the job, then XACK it. A crash between 3 and 4 leaves the entry
     pending, and step 2 hands it back after a restart.

Delivery is therefore at least once, so the work must be idempotent: here
a job's result is a SET of ``results/<entry id>``, which is the same after
being done twice.

Usage:  worker.py [--stream jobs] [--group workers] [--consumer NAME]
                  [--count N] [--idle-exit S] [--crash-after N]
Env:    REDCAR_REDIS_URL (default redis://127.0.0.1:6379)
"""
import argparse
import os
import socket
import sys
import time

import redis


def handle(r, entry_id, fields):
    """The job: square a number and store the result under results/<id>."""
    n = int(fields[b"n"])
    r.set("results/%s" % entry_id.decode(), n * n)
    return n * n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream", default="jobs")
    ap.add_argument("--group", default="workers")
    ap.add_argument("--consumer", default=socket.gethostname(),
                    help="this worker's name in the group; keep it across restarts to get its pending jobs back")
    ap.add_argument("--count", type=int, default=0, help="stop after handling this many jobs (0 = no limit)")
    ap.add_argument("--idle-exit", type=float, default=0,
                    help="stop when no job arrived for this many seconds (0 = never)")
    ap.add_argument("--crash-after", type=int, default=0,
                    help="demo: die without XACK while handling the Nth job, as a crash would")
    args = ap.parse_args()

    r = redis.Redis.from_url(os.environ.get("REDCAR_REDIS_URL", "redis://127.0.0.1:6379"))

    try:
        # From ID 0: the group also gets the jobs added before it existed.
        r.xgroup_create(args.stream, args.group, id="0", mkstream=True)
        print("created group %s on %s" % (args.group, args.stream), flush=True)
    except redis.ResponseError as e:
        if not str(e).startswith("BUSYGROUP"):
            raise
        print("group %s on %s exists, resuming" % (args.group, args.stream), flush=True)

    handled = 0
    last_job = time.monotonic()
    backlog = True  # first drain our own pending entries (ID 0), then read new ones (>)
    while True:
        try:
            if backlog:
                reply = r.xreadgroup(args.group, args.consumer, {args.stream: "0"}, count=10)
            else:
                reply = r.xreadgroup(args.group, args.consumer, {args.stream: ">"}, count=10, block=1000)
            entries = reply[0][1] if reply else []
            if backlog and not entries:
                backlog = False  # nothing left pending for us: switch to new entries
                continue
            if not entries:
                if args.idle_exit and time.monotonic() - last_job >= args.idle_exit:
                    break
                continue
            last_job = time.monotonic()
            for entry_id, fields in entries:
                if not fields:
                    # A pending entry whose event was deleted (XDEL): nothing to redo.
                    r.xack(args.stream, args.group, entry_id)
                    continue
                if args.crash_after and handled + 1 == args.crash_after:
                    handle(r, entry_id, fields)
                    print("crash while handling %s (not acknowledged)" % entry_id.decode(), flush=True)
                    os._exit(3)  # no cleanup, no XACK: exactly what a kill -9 would leave behind
                result = handle(r, entry_id, fields)
                r.xack(args.stream, args.group, entry_id)
                handled += 1
                # "pending": delivered to us before a crash or restart, never acknowledged.
                print("%s %s n=%s -> %d" % ("pending" if backlog else "job", entry_id.decode(),
                                            fields[b"n"].decode(), result), flush=True)
                if args.count and handled >= args.count:
                    print("handled %d jobs" % handled, flush=True)
                    return
        except redis.ConnectionError as e:
            # The server restarted or the network dropped. Nothing is lost:
            # the entries we were given and did not XACK are still pending
            # for us in the group, so reconnect and drain them first again.
            print("connection lost (%s); retrying in 1 s" % e, flush=True)
            time.sleep(1)
            backlog = True
    print("handled %d jobs" % handled, flush=True)


if __name__ == "__main__":
    try:
        main()
    except redis.ConnectionError as e:
        sys.exit("cannot reach the server: %s" % e)
