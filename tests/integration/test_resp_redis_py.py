# SPDX-License-Identifier: Apache-2.0
"""RESP door driven by the Python `redis` client against the real server:
strings, keyspace and expiry, hashes, lists, pipelines, MULTI/EXEC/WATCH,
pub/sub, CLIENT and server commands."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp_server import Server, check, ensure_system_python, failed, raises  # noqa: E402

ensure_system_python()
import redis  # noqa: E402



with Server() as srv:
    r = redis.Redis(port=srv.port)
    # ---- strings
    check("set", r.set("s", "v"), True)
    check("get", r.get("s"), b"v")
    check("set nx existing", r.set("s", "w", nx=True), None)
    check("set xx missing", r.set("nokey", "w", xx=True), None)
    check("set get", r.set("s", "w", get=True), b"v")
    check("setnx", (r.setnx("s", "x"), r.setnx("s2", "x")), (False, True))
    check("getset", r.getset("s", "z"), b"w")
    check("mset/mget", (r.mset({"m1": "1", "m2": "2"}), r.mget("m1", "m2", "m3")), (True, [b"1", b"2", None]))
    check("msetnx", (r.msetnx({"m1": "9", "m9": "9"}), r.get("m9")), (False, None))
    check("incr", [r.incr("c"), r.incrby("c", 10), r.decr("c"), r.decrby("c", 5)], [1, 11, 10, 5])
    check("incrbyfloat", r.incrbyfloat("f", 1.5), 1.5)
    check("incrbyfloat again", r.incrbyfloat("f", "0.25"), 1.75)
    raises("incr non-integer", lambda: r.incr("s"), "value is not an integer or out of range")
    r.set("big", str(2**63 - 1))
    raises("incr overflow", lambda: r.incr("big"), "increment or decrement would overflow")
    check("append", (r.append("ap", "ab"), r.append("ap", "cd"), r.get("ap")), (2, 4, b"abcd"))
    check("strlen", r.strlen("ap"), 4)
    check("getrange", (r.getrange("ap", 1, 2), r.getrange("ap", -3, -1), r.getrange("ap", 5, 9)), (b"bc", b"bcd", b""))
    check("setrange", (r.setrange("sr", 3, "x"), r.get("sr")), (4, b"\x00\x00\x00x"))
    check("getdel", (r.getdel("sr"), r.exists("sr")), (b"\x00\x00\x00x", 0))
    binary = bytes(range(256))
    r.set("bin", binary)
    check("binary value", r.get("bin"), binary)
    check("empty value", (r.set("empty", ""), r.get("empty")), (True, b""))
    raises("set syntax", lambda: r.execute_command("SET", "k", "v", "NX", "XX"), "syntax error")
    raises("set bad expire", lambda: r.execute_command("SET", "k", "v", "EX", "0"), "invalid expire time in 'set' command")

    # ---- expiry
    r.set("e", "1", ex=100)
    check("ttl", r.ttl("e") in (99, 100), True)
    check("pttl", 99000 < r.pttl("e") <= 100000, True)
    check("persist", (r.persist("e"), r.ttl("e")), (True, -1))
    check("ttl missing", r.ttl("nokey"), -2)
    check("expire", (r.expire("e", 50), r.ttl("e") in (49, 50)), (True, True))
    check("expire nx", r.expire("e", 10, nx=True), False)
    check("expiretime", abs(r.expiretime("e") - (int(time.time()) + 50)) <= 1, True)
    # PX long enough that the GET right after still sees the key on a loaded
    # machine; then wait (bounded) for the expiry itself
    r.set("short", "x", px=1500)
    check("short exists", r.get("short"), b"x")
    deadline = time.time() + 20
    while r.get("short") is not None and time.time() < deadline:
        time.sleep(0.05)
    check("expired invisible", r.get("short"), None)
    r.set("ka", "1", ex=100)
    r.set("ka", "2", keepttl=True)
    check("keepttl", r.ttl("ka") > 0, True)
    r.incr("ka")
    check("incr keeps ttl", r.ttl("ka") > 0, True)
    r.set("ka", "4")
    check("set clears ttl", r.ttl("ka"), -1)
    check("getex", (r.getex("ka", ex=30), r.ttl("ka") in (29, 30)), (b"4", True))
    check("expire past deletes", (r.expire("ka", -1), r.exists("ka")), (True, 0))
    r.setex("sx", 100, "v")
    check("setex", r.ttl("sx") > 0, True)
    # active expiry removes keys without reads
    r.set("act", "1", px=50)
    deadline = time.time() + 20  # the expiry cycle runs often; bounded for a loaded machine
    while b"act" in r.keys("*") and time.time() < deadline:
        time.sleep(0.05)
    check("active expiry", b"act" in r.keys("*"), False)

    # ---- keyspace
    check("del", r.delete("m1", "m2", "nokey"), 2)
    check("exists", r.exists("s", "s", "nokey"), 2)
    check("type", (r.type("s"), r.type("nokey")), (b"string", b"none"))
    r.set("rn", "1")
    check("rename", (r.rename("rn", "rn2"), r.get("rn2"), r.exists("rn")), (True, b"1", 0))
    raises("rename missing", lambda: r.rename("nokey", "x"), "no such key")
    check("renamenx", r.renamenx("rn2", "s"), False)
    keys = set(r.keys("*"))
    check("keys", {b"s", b"s2", b"c"} <= keys, True)
    check("keys glob", sorted(r.keys("s?")), [b"s2", b"sx"])
    scanned = set()
    cur = 0
    while True:
        cur, batch = r.scan(cur, count=3)
        scanned.update(batch)
        if cur == 0:
            break
    check("scan covers keys", scanned, keys)
    check("scan match", sorted(r.scan_iter(match="m*")), [b"m9"] if b"m9" in keys else [])
    check("dbsize", r.dbsize(), len(keys))

    # ---- hashes
    check("hset", r.hset("h", mapping={"a": "1", "b": "2"}), 2)
    check("hset update", r.hset("h", "a", "10"), 0)
    check("hget", (r.hget("h", "a"), r.hget("h", "zz"), r.hget("nokey", "a")), (b"10", None, None))
    check("hmget", r.hmget("h", "a", "b", "c"), [b"10", b"2", None])
    check("hgetall", r.hgetall("h"), {b"a": b"10", b"b": b"2"})
    check("hkeys/hvals/hlen", (sorted(r.hkeys("h")), sorted(r.hvals("h")), r.hlen("h")), ([b"a", b"b"], [b"10", b"2"], 2))
    check("hexists", (r.hexists("h", "a"), r.hexists("h", "q")), (True, False))
    check("hincrby", (r.hincrby("h", "n", 5), r.hincrby("h", "n", -2)), (5, 3))
    check("hdel", (r.hdel("h", "a", "zz"), r.hlen("h")), (1, 2))
    r.hset("hb", "bin", binary)
    check("hash binary value", r.hget("hb", "bin"), binary)
    raises("wrongtype", lambda: r.hget("s", "a"), "WRONGTYPE Operation against a key holding the wrong kind of value")
    raises("wrongtype get", lambda: r.get("h"), "WRONGTYPE")
    check("type hash", r.type("h"), b"hash")

    # ---- lists
    check("rpush", r.rpush("l", "a", "b", "c"), 3)
    check("lpush", r.lpush("l", "z"), 4)
    check("lrange", r.lrange("l", 0, -1), [b"z", b"a", b"b", b"c"])
    check("lrange sub", r.lrange("l", 1, 2), [b"a", b"b"])
    check("llen", r.llen("l"), 4)
    check("lindex", (r.lindex("l", 0), r.lindex("l", -1), r.lindex("l", 9), r.lindex("l", -9)), (b"z", b"c", None, None))
    check("lpop", r.lpop("l"), b"z")
    check("rpop count", r.rpop("l", 2), [b"c", b"b"])
    check("pop last", (r.lpop("l"), r.lpop("l"), r.exists("l")), (b"a", None, 0))
    raises("wrongtype list", lambda: r.lpush("h", "x"), "WRONGTYPE")

    # ---- pipelines and transactions
    p = r.pipeline(transaction=False)
    for i in range(500):
        p.set(f"p{i}", i)
        p.get(f"p{i}")
    res = p.execute()
    check("pipeline 1000", res[1::2], [str(i).encode() for i in range(500)])
    p = r.pipeline(transaction=True)
    p.set("tx", "1").incr("tx").get("tx").hset("txh", "f", "v").rpush("txl", "a").lrange("txl", 0, -1)
    check("multi/exec", p.execute(), [True, 2, b"2", 1, 1, [b"a"]])
    raises("exec without multi", lambda: r.execute_command("EXEC"), "EXEC without MULTI")
    # queue-time error -> EXECABORT
    c = redis.Redis(port=srv.port, single_connection_client=True)
    c.execute_command("MULTI")
    try:
        c.execute_command("NOSUCH")
    except redis.ResponseError:
        pass
    raises("execabort", lambda: c.execute_command("EXEC"), "Transaction discarded because of previous errors")
    c.execute_command("MULTI")
    c.execute_command("SET", "dk", "1")
    check("discard", (c.execute_command("DISCARD"), c.get("dk")), (b"OK", None))
    # runtime error inside EXEC does not abort the others
    c.execute_command("MULTI")
    c.execute_command("SET", "rt", "a")
    c.execute_command("INCR", "rt")
    c.execute_command("SET", "rt2", "b")
    out = c.execute_command("EXEC")
    check("exec runtime error", (out[0], isinstance(out[1], redis.ResponseError), out[2]), (b"OK", True, b"OK"))
    # WATCH
    with r.pipeline() as p:
        p.watch("w")
        r.set("w", "other")
        p.multi()
        p.set("w", "mine")
        try:
            p.execute()
            check("watch conflict", "executed", "WatchError")
        except redis.WatchError:
            check("watch conflict", "WatchError", "WatchError")
    with r.pipeline() as p:
        p.watch("w")
        p.multi()
        p.set("w", "mine")
        check("watch ok", p.execute(), [True])
    # INCR is atomic against concurrent writers
    def bump():
        cl = redis.Redis(port=srv.port)
        for _ in range(200):
            cl.incr("race")
    ts = [threading.Thread(target=bump) for _ in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    check("concurrent incr", r.get("race"), b"800")

    # ---- pub/sub
    ps = r.pubsub()
    ps.subscribe("ch")
    ps.psubscribe("p.*")
    for _ in range(2):
        ps.get_message(timeout=1)
    check("publish receivers", r.publish("ch", "m1"), 1)
    check("publish pattern", r.publish("p.x", "m2"), 1)
    check("publish nobody", r.publish("none", "m3"), 0)
    got = [ps.get_message(timeout=2) for _ in range(2)]
    check("message", (got[0]["type"], got[0]["channel"], got[0]["data"]), ("message", b"ch", b"m1"))
    check("pmessage", (got[1]["type"], got[1]["pattern"], got[1]["channel"], got[1]["data"]), ("pmessage", b"p.*", b"p.x", b"m2"))
    check("pubsub channels", r.pubsub_channels(), [b"ch"])
    check("pubsub numsub", r.pubsub_numsub("ch", "none"), [(b"ch", 1), (b"none", 0)])
    check("pubsub numpat", r.pubsub_numpat(), 1)
    ps.close()

    # ---- connection and server
    check("ping", r.ping(), True)
    check("echo", r.echo("hi"), b"hi")
    check("select 0", r.execute_command("SELECT", 0), True)
    raises("select 1", lambda: r.execute_command("SELECT", 1), "DB index is out of range")
    c.client_setname("tester")
    check("client getname", c.client_getname(), "tester")
    check("client id", c.client_id() > 0, True)
    check("client list", any(x["name"] == "tester" for x in r.client_list()), True)
    info = r.info()
    check("info", (info["redis_version"], "connected_clients" in info, info["loading"]), ("7.2.0", True, 0))
    check("info keyspace", r.info("keyspace")["db0"]["keys"] > 0, True)
    check("config get", r.config_get("maxclients"), {"maxclients": "10000"})
    check("config set", (r.config_set("maxclients", 500), r.config_get("maxclients")), (True, {"maxclients": "500"}))
    check("command count", r.command_count() > 80, True)
    check("command info", r.execute_command("COMMAND", "INFO", "get")["get"]["arity"], 2)
    check("time", len(r.time()), 2)
    check("lastsave", abs(r.lastsave().timestamp() - time.time()) < 5, True)
    check("save", r.save(), True)
    raises("unknown command", lambda: r.execute_command("FOO", "a", "b"),
           "unknown command 'FOO', with args beginning with: 'a' 'b'")
    raises("arity", lambda: r.execute_command("GET"), "wrong number of arguments for 'get' command")
    check("flushdb", (r.flushdb(), r.dbsize()), (True, 0))
    c.close()
    r.close()

sys.exit(1 if failed() else 0)
