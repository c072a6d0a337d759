#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Add jobs for worker.py: XADD jobs * n <i>, one entry per job.

Each XADD is an event appended to Redcar's log with the stream name as its
subject; the reply is the entry ID ("<seq>-0"), given once it is committed.
(An "id" field would make the XADD idempotent: a repeated id returns the
stored entry's ID and appends nothing; see docs/streams.md.)

Usage:  producer.py [--stream jobs] [--jobs N] [--start 1]
Env:    REDCAR_REDIS_URL (default redis://127.0.0.1:6379)
"""
import argparse
import os

import redis


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stream", default="jobs")
    ap.add_argument("--jobs", type=int, default=10)
    ap.add_argument("--start", type=int, default=1, help="first job's number")
    args = ap.parse_args()

    r = redis.Redis.from_url(os.environ.get("REDCAR_REDIS_URL", "redis://127.0.0.1:6379"))
    for n in range(args.start, args.start + args.jobs):
        entry_id = r.xadd(args.stream, {"n": n})
        print("added %s n=%d" % (entry_id.decode(), n), flush=True)


if __name__ == "__main__":
    main()
