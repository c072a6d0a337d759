# SPDX-License-Identifier: Apache-2.0
"""Redis Streams over the event log, driven by the Python `redis` client and
redis-cli against the real server: XADD's CloudEvent mapping and its read-back,
entries from the HTTP door, XRANGE/XREVRANGE/XLEN/XREAD (BLOCK, $), consumer
groups (XGROUP, XREADGROUP > and history, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
XINFO), XDEL/XTRIM tombstones, blocked clients that disconnect or are killed,
a few reply shapes side by side with a real redis-server, and streams as keys
(EXISTS, TYPE, TTL, DEL/UNLINK with their groups, MKSTREAM, NOMKSTREAM,
KEYS/SCAN (DBSIZE and INFO keyspace count KV keys only), DEL inside MULTI,
WATCH, keyspace notifications) side by side with it too, SCAN's cursor under churn, and the
documented differences (EXPIRE, RENAME, PUBLISH, one name in two views)
checked on their own."""
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_server import Conn, Server, check, ensure_system_python, failed, free_port, raises  # noqa: E402
from rcserver import Redcar  # noqa: E402

ensure_system_python()
import redis  # noqa: E402



def seq(eid):
    return int(eid.split("-")[0])


def until(pred, timeout=30):
    """Poll pred() until it holds (True) or the deadline passes (False):
    waits on the condition a check needs instead of a fixed sleep."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def blocked(port, cmd, n=1):
    """Wait until n clients are blocked in cmd (xread / xreadgroup)."""
    c = redis.Redis(port=port, decode_responses=True)
    try:
        return until(lambda: sum(1 for x in c.client_list() if x.get("cmd") == cmd) >= n)
    finally:
        c.close()


def fields(entry):
    return entry[1]


def mapping(r):
    # XADD: fields -> attributes / data members; read back the same way
    a = r.xadd("m", {"temp": "21.5", "unit": "C"})
    check("xadd id is <seq>-0", a.endswith("-0") and seq(a) > 0, True)
    e = r.xrange("m", a, a)[0]
    f = fields(e)
    check("read back data fields", (f["temp"], f["unit"]), ("21.5", "C"))
    check("default type", f["type"], "io.redcar.stream.entry")
    check("default source", f["source"], "redcar://resp")
    check("json data", f["datacontenttype"], "application/json")
    check("has id and time", bool(f["id"]) and f["time"].endswith("Z"), True)
    b = r.xadd("m", {"type": "com.example.reading", "source": "/sensors/1", "id": "r-1",
                     "ce_region": "eu", "level": "3"})
    f = fields(r.xrange("m", b, b)[0])
    check("attributes from fields", (f["type"], f["source"], f["id"], f["ce_region"], f["level"]),
          ("com.example.reading", "/sensors/1", "r-1", "eu", "3"))
    check("idempotent (source,id)",
          r.xadd("m", {"type": "com.example.reading", "source": "/sensors/1", "id": "r-1",
                       "level": "3"}), b)
    c = r.xadd("m", {"data": "plain text"})
    f = fields(r.xrange("m", c, c)[0])
    check("single data field", (f["data"], f["datacontenttype"]), ("plain text", "text/plain"))
    rb = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    d = rb.xadd("m", {b"bin": b"\xff\x00\xfe"})
    f = rb.xrange("m", d, d)[0][1]
    check("non-UTF-8 value round-trips", f[b"bin"], b"\xff\x00\xfe")
    raises("explicit id refused", lambda: r.xadd("m", {"a": "b"}, id="123-0"), "use * as the ID")
    raises("subject is the key", lambda: r.xadd("m", {"subject": "x"}), "stream key is the subject")
    raises("bad extension name", lambda: r.xadd("m", {"ce_Bad": "x"}), "extension attribute")
    raises("bad time", lambda: r.xadd("m", {"time": "yesterday"}), "invalid CloudEvent")
    raises("duplicate field", lambda: r.execute_command("XADD", "m", "*", "a", "1", "a", "2"),
           "given twice")
    raises("odd field count", lambda: r.execute_command("XADD", "m", "*", "a"), "wrong number")
    check("xlen", r.xlen("m"), 4)
    check("xrevrange count", rb.xrevrange("m", count=1)[0][0], d)
    check("xrange exclusive start", [x[0] for x in r.xrange("m", "(" + a, c)], [b, c])
    check("xrevrange exclusive", [x[0] for x in r.xrevrange("m", "(" + d.decode(), a)], [c, b, a])
    check("xrange count", [x[0] for x in r.xrange("m", "-", "+", count=2)], [a, b])
    raises("bad range id", lambda: r.xrange("m", "abc", "+"), "Invalid stream ID")
    check("xlen missing", r.xlen("nope"), 0)
    check("xrange missing", r.xrange("nope"), [])


def cross_door(r, http_port):
    ev = {"specversion": "1.0", "id": "h-1", "source": "/http", "type": "com.example.http",
          "subject": "orders", "datacontenttype": "application/json",
          "data": {"sku": "A-1", "qty": 2, "tags": ["x"]}}
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/events", data=json.dumps(ev).encode(),
                                 headers={"Content-Type": "application/cloudevents+json"},
                                 method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        check("http append", resp.status in (200, 201), True)
    e = r.xrange("orders")
    check("http event is an entry", len(e), 1)
    f = fields(e[0])
    check("json members as fields", (f["sku"], f["qty"], f["tags"], f["source"]),
          ("A-1", "2", '["x"]', "/http"))
    r.set("orders", "a value")  # a KV event has the same subject: an entry too
    check("kv event is an entry", fields(r.xrange("orders")[-1])["type"], "io.redcar.kv.put")


def xread(r, port):
    r.xadd("a", {"n": "1"})
    r.xadd("b", {"n": "2"})
    res = r.xread({"a": 0, "b": 0})
    check("xread two streams", [k for k, _ in res], ["a", "b"])
    check("xread count", len(r.xread({"a": 0}, count=1)[0][1]), 1)
    check("xread $ is empty", r.xread({"a": "$"}), [])

    def later(key, delay=0.3):
        blocked(port, "xread")  # the reader is parked, so "$" was taken before the XADD
        time.sleep(delay)
        redis.Redis(port=port).xadd(key, {"late": "yes"})

    threading.Thread(target=later, args=("a",)).start()
    t = time.time()
    res = r.xread({"a": "$", "b": "$"}, block=30000)
    took = time.time() - t
    check("xread block wakes on xadd", res and res[0][0], "a")
    check("xread block waited for it (woken before its timeout)", 0.2 < took < 30, True)
    t = time.time()
    check("xread block times out", r.xread({"a": "$"}, block=200), [])
    check("timeout ~200ms (bounded generously for a loaded machine)", 0.15 < time.time() - t < 10,
          True)
    raises("xread >", lambda: r.xread({"a": ">"}), "XREADGROUP")
    raises("negative block", lambda: r.execute_command("XREAD", "BLOCK", "-1", "STREAMS", "a", "$"),
           "negative")
    raises("unbalanced", lambda: r.execute_command("XREAD", "STREAMS", "a", "b", "0"),
           "Unbalanced")
    # a tombstone on the stream does not wake a blocked reader with nothing
    threading.Thread(target=lambda: (blocked(port, "xread"),
                                     redis.Redis(port=port).xdel("a", "1-0"))).start()
    check("xdel does not wake", r.xread({"a": "$"}, block=600), [])


def groups(r, port):
    raises("create on missing key", lambda: r.xgroup_create("missing", "grp", "$"), "MKSTREAM")
    # (before the entries below: MKSTREAM appends the empty stream's tombstone,
    # and "grp"'s last-delivered-id is its position in the whole log)
    check("create mkstream", r.xgroup_create("missing", "grp", "$", mkstream=True), True)
    ids = [r.xadd("g", {"i": str(i)}) for i in range(5)]
    check("create 0", r.xgroup_create("g", "grp", "0"), True)
    raises("busygroup", lambda: r.xgroup_create("g", "grp", "0"), "BUSYGROUP")
    raises("nogroup", lambda: r.xreadgroup("nosuch", "c", {"g": ">"}), "NOGROUP")
    res = r.xreadgroup("grp", "alice", {"g": ">"}, count=2)
    check("readgroup > count 2", [e[0] for e in res[0][1]], ids[:2])
    res = r.xreadgroup("grp", "bob", {"g": ">"})
    check("readgroup > rest", [e[0] for e in res[0][1]], ids[2:])
    check("readgroup > nothing new", r.xreadgroup("grp", "bob", {"g": ">"}), [])
    hist = r.xreadgroup("grp", "alice", {"g": "0"})
    check("history", [e[0] for e in hist[0][1]], ids[:2])
    p = r.xpending("g", "grp")
    check("pending summary", (p["pending"], p["min"], p["max"]), (5, ids[0], ids[4]))
    check("pending per consumer", sorted((c["name"], c["pending"]) for c in p["consumers"]),
          [("alice", 2), ("bob", 3)])
    ext = r.xpending_range("g", "grp", "-", "+", 10, consumername="bob")
    check("pending extended", [(x["message_id"], x["consumer"], x["times_delivered"]) for x in ext],
          [(i, "bob", 1) for i in ids[2:]])
    check("pending idle filter", r.xpending_range("g", "grp", "-", "+", 10, idle=60000), [])
    check("xack", r.xack("g", "grp", ids[0], ids[0], "999999-0"), 1)
    check("xack again", r.xack("g", "grp", ids[0]), 0)
    check("xack missing group", r.xack("g", "nosuch", ids[1]), 0)
    check("history after ack", [e[0] for e in r.xreadgroup("grp", "alice", {"g": "0"})[0][1]],
          [ids[1]])
    time.sleep(0.05)
    cl = r.xclaim("g", "grp", "carol", 10, [ids[1], ids[2]])
    check("xclaim", [e[0] for e in cl], [ids[1], ids[2]])
    check("xclaim not idle", r.xclaim("g", "grp", "dave", 60000, [ids[1]]), [])
    check("xclaim justid", r.xclaim("g", "grp", "dave", 0, [ids[1]], justid=True), [ids[1]])
    ext = r.xpending_range("g", "grp", ids[1], ids[1], 1)
    check("justid keeps delivery count", (ext[0]["consumer"], ext[0]["times_delivered"]),
          ("dave", 2))
    r.xclaim("g", "grp", "erin", 0, [ids[3]], retrycount=7, idle=5000)
    ext = r.xpending_range("g", "grp", ids[3], ids[3], 1)
    check("retrycount/idle", (ext[0]["times_delivered"], ext[0]["time_since_delivered"] >= 5000),
          (7, True))
    check("xdel pending entry", r.xdel("g", ids[4]), 1)
    time.sleep(0.02)
    nxt, claimed, deleted = r.xautoclaim("g", "grp", "frank", 10, "0-0", count=10)
    check("xautoclaim claims", [e[0] for e in claimed], [ids[1], ids[2], ids[3]])
    check("xautoclaim deleted", deleted, [ids[4]])
    check("xautoclaim cursor end", nxt, "0-0")
    raw = Conn(port)
    raw.cmd("XAUTOCLAIM", "g", "grp", "gina", "0", "0-0", "COUNT", "1", "JUSTID")
    nxt, claimed, _ = raw.read()
    check("xautoclaim count+cursor", (claimed, nxt), ([ids[1].encode()], ids[2].encode()))
    raises("force refused", lambda: r.xclaim("g", "grp", "x", 0, [ids[1]], force=True), "FORCE")
    info = r.xinfo_stream("g")
    check("xinfo stream", (info["length"], info["groups"], info["first-entry"][0],
                           info["last-entry"][0], info["max-deleted-entry-id"]),
          (4, 1, ids[0], ids[3], ids[4]))
    gi = r.xinfo_groups("g")[0]
    check("xinfo groups", (gi["name"], gi["pending"], gi["last-delivered-id"], gi["lag"]),
          ("grp", 3, ids[4], 0))
    names = {c["name"]: c["pending"] for c in r.xinfo_consumers("g", "grp")}
    check("xinfo consumers", (names.get("frank"), names.get("gina"), names.get("alice")), (2, 1, 0))
    check("createconsumer", r.xgroup_createconsumer("g", "grp", "zed"), 1)
    check("createconsumer again", r.xgroup_createconsumer("g", "grp", "zed"), 0)
    check("delconsumer returns pending", r.xgroup_delconsumer("g", "grp", "gina"), 1)
    check("pending after delconsumer", r.xpending("g", "grp")["pending"], 2)
    r.xgroup_setid("g", "grp", "0")
    res = r.xreadgroup("grp", "hal", {"g": ">"})
    check("setid 0 re-reads (deleted hidden)", [e[0] for e in res[0][1]], ids[:4])
    r.xgroup_setid("g", "grp", "$")
    check("setid $", r.xreadgroup("grp", "hal", {"g": ">"}), [])
    n = r.xadd("g", {"i": "new"})
    res = r.xreadgroup("grp", "ivy", {"g": ">"}, noack=True)
    check("noack delivers", [e[0] for e in res[0][1]], [n])
    check("noack leaves nothing pending",
          [x["message_id"] for x in r.xpending_range("g", "grp", n, n, 1)], [])
    # blocking
    r.xgroup_create("gb", "grp", "$", mkstream=True)

    def later():
        blocked(port, "xreadgroup")
        time.sleep(0.3)
        redis.Redis(port=port).xadd("gb", {"k": "v"})

    threading.Thread(target=later).start()
    t = time.time()
    res = r.xreadgroup("grp", "c1", {"gb": ">"}, block=30000)
    check("xreadgroup block wakes", (len(res[0][1]) if res else 0, 0.2 < time.time() - t < 30),
          (1, True))
    t = time.time()
    check("xreadgroup block timeout", r.xreadgroup("grp", "c1", {"gb": ">"}, block=250), [])
    check("timeout ~250ms (bounded generously)", 0.2 < time.time() - t < 10, True)
    # two blocked consumers of one group: one entry goes to one of them
    out = []

    def reader(name):
        c = redis.Redis(port=port, decode_responses=True)
        out.append((name, c.xreadgroup("grp", name, {"gb": ">"}, count=1, block=3000)))

    ts = [threading.Thread(target=reader, args=(n,)) for n in ("w1", "w2")]
    for t_ in ts:
        t_.start()
    check("both members blocked", blocked(port, "xreadgroup", 2), True)
    r.xadd("gb", {"k": "once"})
    for t_ in ts:
        t_.join()
    got = [o for o in out if o[1]]
    check("one of two blocked members gets it", len(got), 1)
    check("destroy", r.xgroup_destroy("g", "grp"), True)
    check("destroy again", r.xgroup_destroy("g", "grp"), False)
    raises("xpending nogroup", lambda: r.xpending("g", "grp"), "NOGROUP")
    # EXEC: XADD and XREADGROUP run inside the transaction
    r.xgroup_create("tx", "grp", "$", mkstream=True)
    p = r.pipeline(transaction=True)
    p.xadd("tx", {"a": "1"})
    p.xreadgroup("grp", "c", {"tx": ">"}, block=1000)
    a, res = p.execute()
    check("multi xadd + xreadgroup", res[0][1][0][0], a)


def trims(r):
    ids = [r.xadd("t", {"i": str(i)}) for i in range(6)]
    check("xdel two (one twice)", r.xdel("t", ids[1], ids[1], ids[3]), 2)
    check("xdel gone", r.xdel("t", ids[1]), 0)
    check("xrange hides deleted", [e[0] for e in r.xrange("t")], [ids[0], ids[2], ids[4], ids[5]])
    check("xlen after xdel", r.xlen("t"), 4)
    check("xtrim maxlen", r.xtrim("t", maxlen=2), 2)
    check("after maxlen", [e[0] for e in r.xrange("t")], [ids[4], ids[5]])
    check("xtrim minid", r.xtrim("t", minid=ids[5]), 1)
    check("xtrim approx", r.xtrim("t", maxlen=5, approximate=True), 0)
    a = r.xadd("t", {"i": "x"}, maxlen=1)
    check("xadd maxlen", [e[0] for e in r.xrange("t")], [a])
    check("xadd nomkstream", r.xadd("never", {"a": "b"}, nomkstream=True), None)
    check("xrevrange after trims", [e[0] for e in r.xrevrange("t")], [a])
    raises("xtrim limit without ~", lambda: r.execute_command("XTRIM", "t", "MAXLEN", "1",
                                                                 "LIMIT", "5"), "LIMIT")


def xlen_counts(r):
    # XLEN counts from the indexes; it must agree with what XRANGE shows
    # through every kind of tombstone
    def same(what):
        check("xlen = xrange length " + what, r.xlen("xl"), len(r.xrange("xl")))

    ids = [r.xadd("xl", {"i": str(i)}) for i in range(30)]
    same("(plain)")
    r.xdel("xl", ids[3], ids[4], ids[20])
    same("after xdel")
    r.xtrim("xl", minid=ids[5])          # ids[3], ids[4] deleted below the trim point
    same("after xdel then xtrim below it")
    r.xtrim("xl", maxlen=20)
    same("after two trims")
    r.xdel("xl", ids[25])
    r.xadd("xl", {"i": "x"}, maxlen=15)
    same("after xadd maxlen")
    check("xlen after all that", r.xlen("xl"), 15)
    r.set("xl-kv", "v")  # other subjects do not count
    r.xadd("xl-other", {"i": "1"})
    check("xlen of a key's own entries", (r.xlen("xl"), r.xlen("xl-other")), (15, 1))


def retention():
    """Retention (retention-max-events) removed the front of a stream."""
    srv = Redcar("--fsync", "normal", "--retention-max-events", "50",
                 "--retention-interval", "100ms")
    try:
        r = redis.Redis(port=srv.resp_port, decode_responses=True)
        ids = [r.xadd("rt", {"i": str(i)}) for i in range(40)]
        r.xgroup_create("rt", "g", "0")
        for i in range(30):
            r.xadd("rt-other", {"i": str(i)})
        # 70 events, the newest 50 kept: rt loses its first 20 entries
        check("retention took the front", until(lambda: r.xlen("rt") == 20), True)
        left = ids[20:]
        # Redis behaviour, as after XTRIM: a start below the earliest entry
        # returns what is left, without an error
        check("xrange - + after retention", [e[0] for e in r.xrange("rt")], left)
        check("xrange from a trimmed id", [e[0] for e in r.xrange("rt", ids[0], "+")], left)
        check("xrevrange after retention", [e[0] for e in r.xrevrange("rt", count=1)], [ids[-1]])
        check("xread from 0 after retention", [e[0] for e in r.xread({"rt": "0"})[0][1]], left)
        info = r.xinfo_stream("rt")
        check("xinfo length", info["length"], 20)
        check("xinfo first-entry is the earliest stored entry",
              (info["first-entry"][0], info["recorded-first-entry-id"]), (ids[20], ids[20]))
        check("xinfo last-entry", info["last-entry"][0], ids[-1])
        # a group whose next entry retention removed: an explicit error
        # naming the earliest stored seq, never a silent skip
        raises("xreadgroup at a trimmed position",
               lambda: r.xreadgroup("g", "c", {"rt": ">"}), "earliest stored seq")
        r.xgroup_setid("rt", "g", ids[25])
        got = r.xreadgroup("g", "c", {"rt": ">"}, count=2)
        check("xreadgroup after SETID past the gap", [e[0] for e in got[0][1]], ids[26:28])
    finally:
        srv.close()


def members_restart():
    """XINFO CONSUMERS keeps consumers that hold nothing across a restart."""
    srv = Redcar("--fsync", "normal")
    try:
        r = redis.Redis(port=srv.resp_port, decode_responses=True)
        a = r.xadd("mr", {"i": "1"})
        r.xgroup_create("mr", "g", "0")
        check("createconsumer new", r.xgroup_createconsumer("mr", "g", "idle one"), 1)
        check("createconsumer again", r.xgroup_createconsumer("mr", "g", "idle one"), 0)
        r.xreadgroup("g", "reader", {"mr": ">"})
        r.xack("mr", "g", a)
        r.xreadgroup("g", "empty", {"mr": ">"})  # found nothing: known, never active
        r.xadd("mr", {"i": "2"})
        r.xreadgroup("g", "holder", {"mr": ">"})

        def members():
            return sorted((c["name"], c["pending"], c["inactive"] >= 0)
                          for c in r.xinfo_consumers("mr", "g"))

        want = [("empty", 0, False), ("holder", 1, True), ("idle one", 0, False),
                ("reader", 0, True)]
        check("consumers before restart", members(), want)
        srv.stop()
        srv.start()
        r = redis.Redis(port=srv.resp_port, decode_responses=True)
        check("consumers survive a restart", members(), want)
        check("xinfo groups counts them", r.xinfo_groups("mr")[0]["consumers"], 4)
        check("delconsumer", r.xgroup_delconsumer("mr", "g", "idle one"), 0)
        check("delconsumer forgets it", [m[0] for m in members()], ["empty", "holder", "reader"])
        r.xgroup_destroy("mr", "g")
        r.xgroup_create("mr", "g", "0")
        check("a recreated group starts without consumers", r.xinfo_consumers("mr", "g"), [])
        srv.stop()
        srv.start()
        r = redis.Redis(port=srv.resp_port, decode_responses=True)
        check("still none after a restart", r.xinfo_consumers("mr", "g"), [])
    finally:
        srv.close()


def blocked_clients(port, srv):
    # a client that disconnects while blocked: its slot is released (the
    # server keeps working and shuts down promptly)
    c = Conn(port)
    c.cmd("XREAD", "BLOCK", "0", "STREAMS", "quiet", "$")
    blocked(port, "xread")
    c.s.close()
    k = Conn(port)
    k.cmd("CLIENT", "ID")
    kid = k.read()
    k.cmd("XREADGROUP", "GROUP", "nosuch", "c", "BLOCK", "0", "STREAMS", "quiet", ">")
    check("blocked nogroup answers at once", k.read()[0] == "err", True)
    k.cmd("XREAD", "BLOCK", "0", "STREAMS", "quiet", "$")
    r = redis.Redis(port=port, decode_responses=True)
    # both: the one that disconnected may still be listed (probes notice within a second)
    until(lambda: any(x.get("id") == str(kid) and x.get("cmd") == "xread" for x in r.client_list()))
    check("client kill of a blocked client", r.client_kill_filter(_id=kid), 1)
    until(lambda: not [x for x in r.client_list() if x.get("cmd") == "xread"])
    clients = [x for x in r.client_list() if x.get("cmd") == "xread"]
    check("no blocked xread left", clients, [])
    # a blocked client does not hold up the others
    r.xadd("busy", {"a": "1"})
    check("others keep working", r.xlen("busy"), 1)
    # pipelined read after a blocked read waits for it
    p = Conn(port)
    p.cmd("XREAD", "BLOCK", "300", "STREAMS", "quiet", "$")
    p.cmd("PING")
    check("blocked reply first", p.read(), None)
    check("then the next command", p.read(), "PONG")


def cli(port):
    def run(*args):
        return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True,
                              text=True, timeout=10).stdout.strip().splitlines()

    eid = run("XADD", "cli", "*", "k", "v")[0]
    check("redis-cli xadd", eid.endswith("-0"), True)
    out = run("XRANGE", "cli", "-", "+")
    check("redis-cli xrange", out[0] == eid and out[-2:] == ["k", "v"], True)
    check("redis-cli xgroup", run("XGROUP", "CREATE", "cli", "g", "0"), ["OK"])
    out = run("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "cli", ">")
    check("redis-cli xreadgroup", out[:2], ["cli", eid])
    check("redis-cli xpending", run("XPENDING", "cli", "g")[:3], ["1", eid, eid])
    check("redis-cli xack", run("XACK", "cli", "g", eid), ["1"])
    out = run("XAUTOCLAIM", "cli", "g", "c2", "0", "0-0")
    check("redis-cli xautoclaim", out, ["0-0"])
    check("redis-cli xinfo", run("XINFO", "GROUPS", "cli")[:2], ["name", "g"])
    check("redis-cli command info", run("COMMAND", "INFO", "xreadgroup")[0], "xreadgroup")


@contextlib.contextmanager
def redis_server():
    """A real redis-server on a free loopback port (None when not installed),
    stopped by PID on the way out."""
    if not shutil.which("redis-server"):
        print("skip side-by-side: no redis-server")
        yield None
        return
    rport = free_port()
    d = os.path.join("/tmp", f"redcar-streams-cmp-{os.getpid()}")
    os.makedirs(d, exist_ok=True)
    proc = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", d],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up():
            if proc.poll() is not None:
                return True  # exited: reported below
            try:
                socket.create_connection(("127.0.0.1", rport), timeout=0.2).close()
                return True
            except OSError:
                return False
        check("redis-server up", until(up, timeout=10) and proc.poll() is None, True)
        yield rport
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def compare_with_redis(port):
    """The same script against redis-server and Redcar: shapes and errors."""
    with redis_server() as rport:
        if rport is None:
            return

        def script(cport):
            c = redis.Redis(port=cport, decode_responses=True)
            out = []
            e1 = c.xadd("cmp", {"f": "1"})
            e2 = c.xadd("cmp", {"f": "2"})
            out.append(c.xgroup_create("cmp", "g", "0"))
            r = c.xreadgroup("g", "a", {"cmp": ">"})
            out.append([len(x[1]) for x in r])
            p = c.xpending("cmp", "g")
            out.append((p["pending"], p["min"] == e1, p["max"] == e2, p["consumers"]))
            out.append(c.xpending("cmp", "nosuch") if False else None)
            out.append(c.xack("cmp", "g", e1))
            nxt, cl, dl = c.xautoclaim("cmp", "g", "b", 0, "0-0")
            out.append((nxt, [x[0] == e2 for x in cl], dl))
            out.append(c.xreadgroup("g", "a", {"cmp": ">"}))
            out.append([len(x[1]) for x in c.xreadgroup("g", "b", {"cmp": "0"})])
            out.append(c.xread({"cmp": "$"}))
            out.append(sorted(c.xinfo_groups("cmp")[0].keys()))
            # Redis 7.2 added "inactive"; older servers lack it
            out.append(sorted(set(c.xinfo_consumers("cmp", "g")[0].keys()) - {"inactive"}))
            for fn in (lambda: c.xgroup_create("cmp", "g", "0"),
                       lambda: c.xreadgroup("zz", "a", {"cmp": ">"}),
                       lambda: c.xgroup_create("nokey", "g", "0"),
                       lambda: c.xrange("cmp", "x", "+"),
                       lambda: c.xpending("cmp", "zz")):
                try:
                    fn()
                    out.append("no error")
                except redis.ResponseError as e:
                    out.append(str(e).split()[0])
            out.append(c.xpending("cmp", "g")["pending"])
            return out

        want = script(rport)
        got = script(port)
        for i, (g, w) in enumerate(zip(got, want)):
            check(f"same as redis-server #{i}", g, w)


def keyspace_script(cport):
    """Streams as keys: the same commands against redis-server and Redcar,
    every answer but entry IDs (Redcar's are <seq>-0) compared."""
    c = redis.Redis(port=cport, decode_responses=True)
    out = []

    def err(fn):
        try:
            return ("ok", fn())
        except redis.ResponseError as e:
            return ("error", str(e))

    def a(what, v):
        out.append((what, v))

    c.xadd("ks:a", {"f": "1"})
    a("EXISTS stream", c.exists("ks:a"))
    a("EXISTS stream, missing, stream", c.exists("ks:a", "ks:none", "ks:a"))
    a("TYPE stream", c.type("ks:a"))
    a("TYPE missing", c.type("ks:none"))
    a("TTL stream", c.ttl("ks:a"))
    a("PTTL stream", c.pttl("ks:a"))
    a("EXPIRETIME stream", c.execute_command("EXPIRETIME", "ks:a"))
    a("PEXPIRETIME stream", c.execute_command("PEXPIRETIME", "ks:a"))
    a("TTL missing", c.ttl("ks:none"))
    a("PERSIST stream", c.persist("ks:a"))
    # XDEL of every entry and XTRIM MAXLEN 0 leave an empty stream: still a key
    eid = c.xadd("ks:b", {"f": "1"})
    a("XDEL the only entry", c.xdel("ks:b", eid))
    a("emptied stream: EXISTS, TYPE, XLEN", (c.exists("ks:b"), c.type("ks:b"), c.xlen("ks:b")))
    c.xadd("ks:c", {"f": "1"})
    a("XTRIM MAXLEN 0", c.xtrim("ks:c", maxlen=0, approximate=False))
    a("trimmed stream: EXISTS, TYPE, XLEN", (c.exists("ks:c"), c.type("ks:c"), c.xlen("ks:c")))
    # DEL takes the stream and its groups
    a("XGROUP CREATE", c.xgroup_create("ks:a", "g", "0"))
    a("DEL stream (twice in one DEL)", c.delete("ks:a", "ks:a"))
    a("deleted: EXISTS, TYPE, XLEN, TTL", (c.exists("ks:a"), c.type("ks:a"), c.xlen("ks:a"), c.ttl("ks:a")))
    a("deleted: XRANGE", c.xrange("ks:a"))
    a("deleted: XINFO STREAM", err(lambda: c.xinfo_stream("ks:a")))
    a("deleted: XINFO GROUPS", err(lambda: c.xinfo_groups("ks:a")))
    a("deleted: XREADGROUP", err(lambda: c.xreadgroup("g", "x", {"ks:a": ">"}))[0])
    a("deleted: XGROUP CREATE without MKSTREAM", err(lambda: c.xgroup_create("ks:a", "g", "$"))[0])
    a("deleted: XADD NOMKSTREAM", c.execute_command("XADD", "ks:a", "NOMKSTREAM", "*", "f", "1"))
    a("deleted: DEL again", c.delete("ks:a"))
    a("deleted: the group's name is free (MKSTREAM)", c.xgroup_create("ks:a", "g", "$", mkstream=True))
    a("MKSTREAM: EXISTS, TYPE, XLEN", (c.exists("ks:a"), c.type("ks:a"), c.xlen("ks:a")))
    a("MKSTREAM: XINFO STREAM length, groups",
      (lambda i: (i["length"], i["groups"]))(c.xinfo_stream("ks:a")))
    c.xadd("ks:a", {"f": "2"})
    r = c.xreadgroup("g", "x", {"ks:a": ">"})
    a("recreated: only the new entry, to the new group", [[k, [f.get("f") for _, f in e]] for k, e in r])
    a("UNLINK stream", c.unlink("ks:a"))
    a("unlinked: EXISTS, XLEN", (c.exists("ks:a"), c.xlen("ks:a")))
    c.xadd("ks:a", {"f": "3"})
    a("XADD after DEL: a new stream of one", (c.exists("ks:a"), c.xlen("ks:a"),
                                              [f.get("f") for _, f in c.xrange("ks:a")]))
    # a key name used by the KV view, then deleted: neither a key nor a stream
    c.set("ks:kv", "v")
    a("TYPE string", c.type("ks:kv"))
    c.delete("ks:kv")
    a("deleted string: EXISTS, TYPE", (c.exists("ks:kv"), c.type("ks:kv")))
    a("deleted string: XINFO STREAM", err(lambda: c.xinfo_stream("ks:kv"))[0])
    c.set("ks:src", "v")
    a("RENAMENX onto a stream", c.renamenx("ks:src", "ks:b"))
    a("source kept", c.get("ks:src"))
    a("DEL string and stream in one", c.delete("ks:src", "ks:b", "ks:none"))
    return out


def compare_keyspace_with_redis(port):
    with redis_server() as rport:
        if rport is None:
            return
        want = keyspace_script(rport)
        got = keyspace_script(port)
        for (what, g), (_, w) in zip(got, want):
            check(f"as redis-server: {what}", g, w)


def listing_script(cport):
    """KEYS and SCAN (MATCH, COUNT, TYPE) with streams among KV keys: the
    same on redis-server and Redcar (DBSIZE and INFO keyspace, which count
    KV keys only in Redcar, are compared after the keys are gone, as the
    change the script made)."""
    c = redis.Redis(port=cport, decode_responses=True)
    out = []

    def a(what, v):
        out.append((what, v))

    def keys_info():
        return c.info("keyspace").get("db0", {}).get("keys", 0)

    n0, i0 = c.dbsize(), keys_info()
    c.set("lk:s1", "v")
    c.hset("lk:h", "f", "v")
    c.rpush("lk:l", "a")
    c.xadd("lk:x1", {"f": "1"})
    c.xadd("lk:x2", {"f": "1"})
    c.xgroup_create("lk:x3", "g", "$", mkstream=True)
    eid = c.xadd("lk:x4", {"f": "1"})
    c.xdel("lk:x4", eid)
    c.xadd("lk:x5", {"f": "1"})
    c.xtrim("lk:x5", maxlen=0, approximate=False)
    c.xadd("lk:gone", {"f": "1"})
    c.delete("lk:gone")
    c.set("lk:kvgone", "v")
    c.delete("lk:kvgone")
    want = ["lk:h", "lk:l", "lk:s1", "lk:x1", "lk:x2", "lk:x3", "lk:x4", "lk:x5"]
    a("KEYS lk:*", sorted(c.keys("lk:*")))
    a("KEYS lk:x?", sorted(c.keys("lk:x?")))
    a("KEYS *x[12]", sorted(c.keys("*x[12]")))
    a("SCAN MATCH lk:*", sorted(c.scan_iter("lk:*")))
    for n in (1, 2, 3, 7, 1000):
        got = list(c.scan_iter("lk:*", count=n))
        a(f"SCAN COUNT {n}: each key once", (sorted(got), len(got) == len(set(got))))
    a("SCAN TYPE stream", sorted(c.scan_iter("lk:*", _type="stream")))
    a("SCAN TYPE string", sorted(c.scan_iter("lk:*", _type="string")))
    a("SCAN TYPE hash, list", (sorted(c.scan_iter("lk:*", _type="hash")),
                              sorted(c.scan_iter("lk:*", _type="list"))))
    a("SCAN TYPE STREAM (any case)", sorted(c.scan_iter("lk:*", _type="STREAM")))
    a("SCAN TYPE zset (none here)", sorted(c.scan_iter("lk:*", _type="zset")))
    a("every listed key is a key", [c.exists(k) for k in want])
    c.delete(*want)
    a("after DEL of all: KEYS, DBSIZE", (c.keys("lk:*"), c.dbsize() - n0, keys_info() - i0))
    return out


def multi_del_script(cport):
    """DEL/UNLINK of a stream inside MULTI/EXEC drops its groups, as outside."""
    c = redis.Redis(port=cport, decode_responses=True)
    out = []
    c.xadd("md:a", {"f": "1"})
    c.xgroup_create("md:a", "g", "0")
    p = c.pipeline(transaction=True)
    p.delete("md:a")
    p.exists("md:a")
    out.append(("DEL inside MULTI", p.execute()))
    out.append(("the group went too", c.xgroup_create("md:a", "g", "$", mkstream=True)))
    p = c.pipeline(transaction=True)
    p.xgroup_create("md:b", "g", "$", mkstream=True)
    p.unlink("md:b")
    p.xgroup_create("md:b", "g", "$", mkstream=True)
    out.append(("group created and unlinked in one EXEC", p.execute()))
    out.append(("XINFO GROUPS", [g["name"] for g in c.xinfo_groups("md:b")]))
    c.delete("md:a", "md:b")
    return out


def watch_script(cport):
    """Which stream writes by another client make a WATCHing EXEC fail."""
    c = redis.Redis(port=cport, decode_responses=True)
    o = redis.Redis(port=cport, decode_responses=True)
    out = []

    def fresh():
        o.delete("wt:s")
        o.xadd("wt:s", {"f": "0"})
        o.xgroup_create("wt:s", "g0", "0")

    ops = [
        ("XADD", lambda: o.xadd("wt:s", {"f": "1"})),
        ("XADD NOMKSTREAM to another key", lambda: o.execute_command("XADD", "wt:other", "NOMKSTREAM", "*", "f", "1")),
        ("XTRIM that removes", lambda: o.xtrim("wt:s", maxlen=0, approximate=False)),
        ("XTRIM that removes nothing", lambda: o.xtrim("wt:s", maxlen=100, approximate=False)),
        ("XDEL of an entry", lambda: o.xdel("wt:s", o.xrange("wt:s")[0][0])),
        ("XDEL of nothing", lambda: o.xdel("wt:s", "1-1")),
        ("XGROUP CREATE", lambda: o.xgroup_create("wt:s", "g1", "0")),
        ("XGROUP DESTROY", lambda: o.xgroup_destroy("wt:s", "g0")),
        ("XGROUP SETID", lambda: o.xgroup_setid("wt:s", "g0", "0")),
        ("XGROUP CREATECONSUMER", lambda: o.xgroup_createconsumer("wt:s", "g0", "c")),
        ("XREADGROUP", lambda: o.xreadgroup("g0", "c", {"wt:s": ">"})),
        ("DEL of the stream", lambda: o.delete("wt:s")),
        ("SET of another key", lambda: o.set("wt:other", "v")),
    ]
    for name, op in ops:
        fresh()
        p = c.pipeline(transaction=True)
        p.watch("wt:s")
        p.multi()
        p.exists("wt:s")
        op()
        try:
            out.append((f"WATCH, other client {name}", p.execute()))
        except redis.WatchError:
            out.append((f"WATCH, other client {name}", "aborted"))
        p.reset()
    # MKSTREAM on a key that was no stream
    o.delete("wt:s")
    p = c.pipeline(transaction=True)
    p.watch("wt:s")
    p.multi()
    p.exists("wt:s")
    o.xgroup_create("wt:s", "g", "$", mkstream=True)
    try:
        out.append(("WATCH, other client XGROUP CREATE MKSTREAM", p.execute()))
    except redis.WatchError:
        out.append(("WATCH, other client XGROUP CREATE MKSTREAM", "aborted"))
    p.reset()
    o.delete("wt:s", "wt:other")
    return out


def notify_script(cport):
    """Keyspace notifications of stream commands (class t, DEL class g)."""
    c = redis.Redis(port=cport, decode_responses=True)
    c.config_set("notify-keyspace-events", "KEA")
    sub = redis.Redis(port=cport, decode_responses=True).pubsub()
    sub.psubscribe("__keyspace@0__:nt:*", "__keyevent@0__:*")
    sub.get_message(timeout=2)
    sub.get_message(timeout=2)
    out = []
    mark = [0]

    def drain(what):
        """Everything about nt:* keys up to the marker SET's own notification."""
        mark[0] += 1
        mk = f"nt:mark{mark[0]}"
        c.set(mk, "v")
        got, deadline = [], time.time() + 10
        while time.time() < deadline:
            m = sub.get_message(timeout=1)
            if not m or m["type"] != "pmessage":
                continue
            ch, data = m["channel"], m["data"]
            if (ch, data) in (("__keyevent@0__:set", mk), (f"__keyspace@0__:{mk}", "set")):
                break
            if "nt:mark" in ch or data.startswith("nt:mark"):
                continue  # an earlier marker's other half
            if ch.startswith("__keyevent@0__:") and not data.startswith("nt:"):
                continue
            got.append((ch, data))
        out.append((what, got))

    def ops(tag):
        c.xadd("nt:s", {"f": "1"}); drain(f"{tag} XADD")
        c.xadd("nt:s", {"f": "2"}, maxlen=1, approximate=False); drain(f"{tag} XADD MAXLEN that trims")
        c.xadd("nt:s", {"f": "3"}, maxlen=5, approximate=False); drain(f"{tag} XADD MAXLEN that does not")
        c.xtrim("nt:s", maxlen=10, approximate=False); drain(f"{tag} XTRIM of nothing")
        c.xtrim("nt:s", maxlen=1, approximate=False); drain(f"{tag} XTRIM")
        c.xdel("nt:s", c.xrange("nt:s")[0][0]); drain(f"{tag} XDEL")
        c.xdel("nt:s", "1-1"); drain(f"{tag} XDEL of nothing")
        c.xgroup_create("nt:s", "g", "0"); drain(f"{tag} XGROUP CREATE")
        c.xgroup_create("nt:m", "g", "$", mkstream=True); drain(f"{tag} XGROUP CREATE MKSTREAM")
        c.xgroup_createconsumer("nt:s", "g", "c"); drain(f"{tag} XGROUP CREATECONSUMER")
        c.xgroup_createconsumer("nt:s", "g", "c"); drain(f"{tag} XGROUP CREATECONSUMER again")
        c.xgroup_setid("nt:s", "g", "0"); drain(f"{tag} XGROUP SETID")
        c.xgroup_delconsumer("nt:s", "g", "c"); drain(f"{tag} XGROUP DELCONSUMER")
        c.xgroup_destroy("nt:s", "g"); drain(f"{tag} XGROUP DESTROY")
        c.xgroup_destroy("nt:s", "g"); drain(f"{tag} XGROUP DESTROY of nothing")
        p = c.pipeline(transaction=True)
        p.xadd("nt:s", {"f": "4"})
        p.xgroup_create("nt:s", "g2", "$")
        p.xgroup_destroy("nt:s", "g2")
        p.execute(); drain(f"{tag} MULTI XADD, XGROUP CREATE, DESTROY EXEC")
        c.delete("nt:s", "nt:m"); drain(f"{tag} DEL of two streams")

    ops("KEA:")
    c.config_set("notify-keyspace-events", "Kt$")  # $: the marker's SET
    ops("Kt$:")
    c.config_set("notify-keyspace-events", "Kg$")
    ops("Kg$:")
    c.config_set("notify-keyspace-events", "")
    sub.close()
    c.delete(*[f"nt:mark{i}" for i in range(1, mark[0] + 1)])
    return out


def flush_script(cport):
    """FLUSHDB empties the keyspace, streams and their groups included."""
    c = redis.Redis(port=cport, decode_responses=True)
    c.xadd("fl:s", {"f": "1"})
    c.xgroup_create("fl:s", "g", "0")
    c.set("fl:k", "v")
    out = [("FLUSHDB", c.flushdb()), ("DBSIZE, KEYS", (c.dbsize(), c.keys("*"))),
           ("EXISTS, XLEN", (c.exists("fl:s", "fl:k"), c.xlen("fl:s"))),
           ("the group went too", c.xgroup_create("fl:s", "g", "$", mkstream=True)),
           ("FLUSHALL", c.flushall()), ("DBSIZE", c.dbsize())]
    return out


def compare_flush_with_redis(port):
    with redis_server() as rport:
        if rport is None:
            return
        want = flush_script(rport)
        got = flush_script(port)
        for (what, g), (_, w) in zip(got, want):
            check(f"as redis-server: {what}", g, w)


def compare_lists_with_redis(port):
    """Listing, MULTI DEL, WATCH and notifications side by side."""
    with redis_server() as rport:
        if rport is None:
            return
        for script in (listing_script, multi_del_script, watch_script, notify_script):
            want = script(rport)
            got = script(port)
            check(f"{script.__name__}: as many answers", len(got), len(want))
            for (what, g), (_, w) in zip(got, want):
                check(f"as redis-server: {what}", g, w)


def scan_cursor(r):
    """SCAN's cursor is a position in the keyspace: keys present throughout
    are all returned while keys before and after the cursor come and go,
    with KV keys, streams, dead subjects and keys renamed into (KV keys no
    event has as subject) mixed."""
    names = []
    for i in range(40):
        k = f"sc:{i:03d}"
        names.append(k)
        if i % 4 == 0:
            r.xadd(k, {"f": "1"})
        elif i % 4 == 1:
            r.set(k, "v")
        elif i % 4 == 2:
            r.set(k + "src", "v")
            r.rename(k + "src", k)
        else:
            r.hset(k, "f", "v")
        r.set(f"sc:{i:03d}dead", "v")
        r.delete(f"sc:{i:03d}dead")
    check("KEYS sc:* (renamed-into keys too)", sorted(r.keys("sc:*")), names)
    for count in (1, 2, 5):
        seen, cur, calls, churn = [], 0, 0, 0
        while True:
            cur, ks = r.scan(cur, match="sc:*", count=count)
            seen += ks
            calls += 1
            # churn: new keys and streams appear, others go, on both sides
            churn += 1
            r.xadd(f"sc:{churn % 40:03d}new{count}", {"f": "1"})
            r.set(f"sc:{(churn * 7) % 40:03d}tmp", "v")
            r.delete(f"sc:{(churn * 7 + 3) % 40:03d}tmp")
            if cur == 0 or calls > 2000:
                break
        check(f"SCAN COUNT {count} under churn returns every stable key",
              sorted(set(names) - set(seen)), [])
        check(f"SCAN COUNT {count} ends", cur, 0)
        r.delete(*r.keys("sc:*new*"), *r.keys("sc:*tmp"))
    # a run of keys no event names (renamed into): the cursor still moves on
    for i in range(12):
        r.set(f"sr:src{i:02d}", "v")
        r.rename(f"sr:src{i:02d}", f"sr:{i:02d}")
    got, cur, calls = [], 0, 0
    while True:
        cur, ks = r.scan(cur, match="sr:*", count=1)
        got += ks
        calls += 1
        if cur == 0 or calls > 100:
            break
    check("SCAN over keys no event names", sorted(got), [f"sr:{i:02d}" for i in range(12)])
    r.delete(*names, *r.keys("sr:*"))
    raises("SCAN of a bad cursor", lambda: r.scan("x"), "invalid cursor")
    check("SCAN of a cursor whose event is unknown starts again", r.scan(10**15, match="zz-none*")[1], [])


def publish_notifies(r):
    """A PUBLISHed channel is a stream key: its message is an entry, and
    keyspace notifications say xadd (Redis has no key and no event)."""
    r.config_set("notify-keyspace-events", "Kt")
    sub = r.pubsub()
    sub.subscribe("__keyspace@0__:pn:chan")
    sub.get_message(timeout=2)
    r.publish("pn:chan", "hi")
    m = None
    deadline = time.time() + 10
    while time.time() < deadline and not m:
        m = sub.get_message(timeout=1)
    check("PUBLISH notifies xadd on the channel's stream key", m and m["data"], "xadd")
    r.config_set("notify-keyspace-events", "")
    sub.close()


def keyspace_differences(r, http_port):
    """What docs/streams.md lists as differences for streams as keys."""
    r.xadd("kd:s", {"f": "1"})
    raises("EXPIRE on a stream is refused", lambda: r.expire("kd:s", 10), "cannot expire")
    raises("PEXPIREAT on a stream is refused", lambda: r.pexpireat("kd:s", 2**40), "cannot expire")
    check("EXPIRE on a missing key is 0, as Redis", r.expire("kd:none", 10), False)
    raises("RENAME of a stream is refused", lambda: r.rename("kd:s", "kd:t"), "cannot be renamed")
    r.set("kd:kv", "v")
    raises("RENAME onto a stream is refused", lambda: r.rename("kd:kv", "kd:s"), "destination is a stream")
    check("... and changes nothing", (r.get("kd:kv"), r.type("kd:s"), r.xlen("kd:s")), ("v", "stream", 1))
    raises("RENAME of a missing key: no such key", lambda: r.rename("kd:no", "kd:x"), "no such key")
    # KEYS, SCAN and DBSIZE list streams too (side by side in listing_script)
    check("KEYS lists KV keys and streams", sorted(r.keys("kd:*")), ["kd:kv", "kd:s"])
    check("SCAN TYPE stream", list(r.scan_iter("kd:*", _type="stream")), ["kd:s"])
    # a PUBLISHed channel is a stream (its messages are entries)
    r.publish("kd:chan", "hi")
    check("PUBLISH makes a stream key", (r.type("kd:chan"), r.exists("kd:chan"), r.xlen("kd:chan")),
          ("stream", 1, 1))
    # an HTTP event with a subject is an entry of that stream
    ev = {"specversion": "1.0", "id": "kd-1", "source": "/kd", "type": "com.example.kd", "subject": "kd:http"}
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/events", data=json.dumps(ev).encode(),
                                 headers={"Content-Type": "application/cloudevents+json"}, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        check("http append", resp.status in (200, 201), True)
    check("an HTTP subject is a stream key", (r.type("kd:http"), r.exists("kd:http")), ("stream", 1))
    check("DEL of it hides its entries, the event stays in the log",
          (r.delete("kd:http"), r.xlen("kd:http"), r.type("kd:http")), (1, 0, "none"))
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/events?subject=kd:http", timeout=5) as resp:
        evs = json.loads(resp.read())
    evs = evs if isinstance(evs, list) else evs.get("events", evs.get("items", []))
    check("... as DEL's tombstone after it", [(e["id"], e["type"]) for e in evs][:1] + [evs[-1]["type"]],
          [("kd-1", "com.example.kd"), "io.redcar.stream.trimmed"])
    check("... which says removed", evs[-1].get("data", {}).get("removed"), True)
    # one name, two views: listed once, as the KV key
    r.xadd("kd:both", {"f": "1"})
    r.set("kd:both", "v")
    check("a KV key with entries is listed once, as KV", (r.keys("kd:both*"), r.type("kd:both"),
          list(r.scan_iter("kd:both*", _type="stream"))), (["kd:both"], "string", []))
    check("DBSIZE and INFO keyspace count the KV keys only (O(1), docs/streams.md)",
          (r.dbsize(), r.info("keyspace").get("db0", {}).get("keys", 0)),
          (len([k for k in r.keys("*") if r.type(k) != "stream"]),) * 2)


def flush_two_views(r):
    """FLUSHDB of a name that is a KV key with entries: both go."""
    r.set("fv:both", "v")
    r.xadd("fv:both", {"f": "1"})
    r.flushdb()
    check("FLUSHDB: KV key and entries of one name", (r.exists("fv:both"), r.get("fv:both"), r.xlen("fv:both"),
                                                     r.dbsize()), (0, None, 0, 0))

def main():
    hp = free_port()
    with Server("-a", f"127.0.0.1:{hp}") as srv:
        r = redis.Redis(port=srv.port, decode_responses=True)
        mapping(r)
        cross_door(r, hp)
        xread(r, srv.port)
        groups(r, srv.port)
        trims(r)
        xlen_counts(r)
        blocked_clients(srv.port, srv)
        cli(srv.port)
        compare_with_redis(srv.port)
        compare_keyspace_with_redis(srv.port)
        compare_lists_with_redis(srv.port)
        scan_cursor(r)
        publish_notifies(r)
        keyspace_differences(r, hp)
        compare_flush_with_redis(srv.port)
        flush_two_views(r)
        r.xadd("r3", {"a": "1"})
        c3 = Conn(srv.port)
        c3.cmd("HELLO", "3")
        c3.read()
        c3.cmd("XREAD", "STREAMS", "r3", "0")
        m = c3.read()
        check("resp3 xread is a map", isinstance(m, dict) and list(m.keys()), ["r3"])
        # a blocked client must not delay shutdown
        c = Conn(srv.port)
        c.cmd("XREAD", "BLOCK", "0", "STREAMS", "quiet", "$")
        blocked(srv.port, "xread")
        t = time.time()
    check("stop with a blocked client is prompt", time.time() - t < 8, True)
    retention()
    members_restart()
    if failed():
        print(f"{failed()} check(s) failed")
        sys.exit(1)
    print("all stream checks passed")


if __name__ == "__main__":
    main()
