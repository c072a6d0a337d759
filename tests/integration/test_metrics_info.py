# SPDX-License-Identifier: Apache-2.0
"""/metrics (Prometheus text), RESP INFO (all sections) and /info agree.

After a known workload over both doors (HTTP appends, RESP writes, a
Redis Streams consumer group with a pending entry, an HTTP cursor with an
ack, a RESP subscriber and an SSE stream left open), at a quiet moment,
every figure present in more than one view must be equal: head seq,
events stored and appended, commits, store bytes, keys, clients per door,
hub subscribers, each consumer's lag/pending/delivered/acked..., and
uptime within a second. The expected values of the workload are checked
too, so agreeing on a wrong number fails."""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Redcar, Tally  # noqa: E402
from resp_server import ensure_system_python  # noqa: E402

ensure_system_python()
import redis  # noqa: E402


def parse_metrics(text):
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def parse_info(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        if "=" in v and "," in v:  # db0:keys=..., consumer_x:mode=...,lag=...
            out[k] = dict(kv.split("=", 1) for kv in v.split(","))
        else:
            out[k] = v
    return out


t = Tally()
srv = Redcar()
sse = None
try:
    r = redis.Redis(port=srv.resp_port)

    # ---- the workload
    for i in range(7):
        st, _, _ = srv.http("POST", "/events", json.dumps({
            "specversion": "1.0", "id": "w%d" % i, "source": "/w", "type": "work.done", "subject": "jobs/%d" % i}),
            {"Content-Type": "application/cloudevents+json"})
        assert st == 201 or st == 200, st
    r.set("a", "1")
    r.set("b", "2")
    r.hset("h", "f", "v")
    r.xadd("jobs", {"n": "1"})
    r.xadd("jobs", {"n": "2"})
    r.xgroup_create("jobs", "workers", id="0")
    got = r.xreadgroup("workers", "w1", {"jobs": ">"}, count=1)  # one entry pending, one not delivered
    t.eq("the group delivered one entry", 1, len(got[0][1]))
    st, cur = srv.json("POST", "/cursors", json.dumps({"name": "audit"}), {"Content-Type": "application/json"})
    t.eq("cursor created", 201, st)
    st, page = srv.json("GET", "/cursors/audit/events?limit=3")
    st, _ = srv.json("POST", "/cursors/audit/ack", json.dumps({"seqs": [3]}), {"Content-Type": "application/json"})
    t.eq("cursor acked up to 3", 200, st)

    sub = redis.Redis(port=srv.resp_port).pubsub()
    sub.subscribe("news")
    sub.get_message(timeout=2)
    # An SSE stream, held open by a raw socket until the end.
    sse = socket.create_connection(("127.0.0.1", srv.http_port), timeout=10)
    sse.sendall(b"GET /events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    sse.recv(4096)

    # ---- a quiet moment: wait until two /metrics reads agree on the counters
    def metrics():
        return parse_metrics(urllib.request.urlopen(srv.url + "/metrics", timeout=10).read().decode())

    stable = ["redcar_head_seq", "redcar_appends_total", "redcar_store_commits_total", "redcar_store_bytes"]
    deadline = time.time() + 10
    m0 = metrics()
    while time.time() < deadline:
        time.sleep(0.3)
        m1 = metrics()
        if all(m0.get(k) == m1.get(k) for k in stable):
            break
        m0 = m1

    # INFO through redis-py (its connection stays open, so the client count
    # holds while /metrics is read); redis-cli's raw text is checked too.
    info = r.info("everything")
    m = metrics()
    st, hinfo = srv.json("GET", "/info")
    cli = parse_info(subprocess.run(["redis-cli", "-p", str(srv.resp_port), "info", "all"], capture_output=True,
                                    text=True, timeout=10).stdout)

    def same(what, info_val, metric_key, expect=None):
        mv = m.get(metric_key)
        t.check("%s: INFO %s == /metrics %s" % (what, info_val, mv), mv is not None and float(info_val) == mv,
                metric_key)
        if expect is not None:
            t.eq("%s is %s" % (what, expect), float(expect), mv)

    # ---- the log
    head = 7 + 2 + 1 + 2  # 7 POSTs, 2 SETs, HSET, 2 XADDs
    same("head seq", info["log_head_seq"], "redcar_head_seq", head)
    same("events stored", info["log_events"], "redcar_events", head)
    same("events appended since start", info["log_appended"], "redcar_appends_total", head)
    same("group commits", info["log_commits"], "redcar_store_commits_total")
    same("store bytes", info["log_bytes"], "redcar_store_bytes")
    t.eq("/info seq", head, hinfo["seq"])
    t.eq("/info events", head, hinfo["events"])

    t.eq("redis-cli's INFO text: the same head", str(head), cli["log_head_seq"])
    t.eq("redis-cli's INFO text: the same consumers", {"audit", "xs.jobs.workers"},
         {k[len("consumer_"):] for k in cli if k.startswith("consumer_")})

    # ---- keys: /metrics, /info, INFO keyspace and DBSIZE count the KV view
    # (a, b, h); stream keys are listed by KEYS and SCAN only (docs/streams.md)
    t.eq("/metrics keys: the KV view", 3.0, m.get("redcar_keys"))
    t.eq("/info keys", 3, hinfo["keys"])
    t.eq("INFO keyspace keys: the KV view", 3, info["db0"]["keys"])
    t.eq("INFO keyspace keys == DBSIZE", r.dbsize(), info["db0"]["keys"])

    # ---- clients per door: r and the subscriber; one SSE stream
    same("RESP clients", info["connected_clients"], 'redcar_connected_clients{door="resp"}', 2)
    same("SSE clients", info["sse_clients"], 'redcar_connected_clients{door="sse"}', 1)
    t.eq("SSE clients == redcar_sse_streams", m['redcar_connected_clients{door="sse"}'], m["redcar_sse_streams"])
    same("hub subscribers", info["hub_subscribers"], "redcar_subscribers", 2)
    t.eq("/info subscribers", 2, hinfo["subscribers"])
    t.eq("pubsub_clients (RESP only)", 1, info["pubsub_clients"])

    # ---- consumers: every figure of every consumer
    consumers = {k[len("consumer_"):]: v for k, v in info.items() if k.startswith("consumer_")}
    t.eq("consumers listed by INFO", {"audit", "xs.jobs.workers"}, set(consumers))
    for name, fig in consumers.items():
        for f, metric in [("lag", "redcar_consumer_lag"), ("pending", "redcar_consumer_pending"),
                          ("delivered", "redcar_consumer_delivered_total"),
                          ("redelivered", "redcar_consumer_redelivered_total"),
                          ("acked", "redcar_consumer_acked_total"),
                          ("dead_lettered", "redcar_consumer_dead_lettered_total")]:
            same("%s %s" % (name, f), fig[f], '%s{consumer="%s",mode="%s"}' % (metric, name, fig["mode"]))
    t.eq("the group has one pending", 1, consumers["xs.jobs.workers"]["pending"])
    t.eq("the cursor's lag is head - 3", head - 3, consumers["audit"]["lag"])
    st, api = srv.json("GET", "/cursors/audit")
    t.eq("/cursors/audit lag agrees", head - 3, api["lag"])

    # ---- uptime: one start time for every door
    up_info, up_metrics, up_http = int(info["uptime_in_seconds"]), m["redcar_uptime_seconds"], hinfo["uptime_s"]
    t.check("uptime within a second (INFO %s, /metrics %s, /info %s)" % (up_info, up_metrics, up_http),
            abs(up_info - up_metrics) <= 1 and abs(up_info - up_http) <= 1)
    sub.close()
finally:
    if sse:
        sse.close()
    srv.close()
t.finish()
