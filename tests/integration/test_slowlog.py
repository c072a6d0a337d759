# SPDX-License-Identifier: Apache-2.0
"""The slow log over both doors: with slowlog-log-slower-than 0 (set with
CONFIG SET) commands from redis-py and redis-cli and requests from curl all
land in one log, seen through RESP SLOWLOG (redis-py's parser, redis-cli)
and HTTP GET /slowlog; argument cutting as Redis; slowlog-max-len; RESET
and DELETE /slowlog; -1 turns it off."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Redcar, Tally  # noqa: E402
from resp_server import ensure_system_python  # noqa: E402

ensure_system_python()
import redis  # noqa: E402

t = Tally()
srv = Redcar()
try:
    r = redis.Redis(port=srv.resp_port)

    def cli(*args):
        return subprocess.run(["redis-cli", "-p", str(srv.resp_port)] + list(args), capture_output=True,
                              text=True, timeout=20).stdout

    def curl(*args):
        p = subprocess.run(["curl", "-s", "-w", "\n%{http_code}"] + list(args), capture_output=True, text=True,
                           timeout=20)
        body, _, code = p.stdout.rpartition("\n")
        return int(code), body

    def http_log(q=""):
        code, body = curl(srv.url + "/slowlog" + q)
        return code, json.loads(body) if code == 200 else body

    # ---- settings, as Redis's
    t.eq("default threshold", {"slowlog-log-slower-than": "10000"}, r.config_get("slowlog-log-slower-than"))
    t.eq("default length", {"slowlog-max-len": "128"}, r.config_get("slowlog-max-len"))
    t.check("threshold below -1 refused", "out of range" in cli("config", "set", "slowlog-log-slower-than", "-2"))
    t.eq("CONFIG SET threshold 0", True, r.config_set("slowlog-log-slower-than", 0))
    t.eq("SLOWLOG RESET", True, r.slowlog_reset())

    # ---- one operation from each door and client
    r.client_setname("py-worker")
    r.set("k", "v")
    t.eq("get", b"v", r.get("k"))
    code, body = curl("-A", "curl-probe", srv.url + "/kv/k")
    t.eq("curl GET /kv/k", (200, "v"), (code, body))
    cli("client", "setname", "cli-user")  # a separate connection: its own name
    cli("ping")

    log = r.slowlog_get(-1)
    cmds = [e["command"].lower() for e in log]  # redis-py sends names in upper case
    t.check("redis-py sees its SET", b"set k v" in cmds, repr(cmds))
    t.check("redis-py sees the HTTP request", b"get /kv/k" in cmds, repr(cmds))
    t.check("redis-py sees redis-cli's PING", b"ping" in cmds, repr(cmds))
    # redis-py 4 parses only id, time, duration and command: the raw reply
    # has Redis's six fields.
    raw = r.execute_command("SLOWLOG", "GET", "-1")
    t.check("each entry has Redis's six fields", all(len(e) == 6 for e in raw))
    by_cmd = {b" ".join(e[3]).lower(): e for e in raw}
    t.eq("client name of the SET", b"py-worker", by_cmd[b"set k v"][5])
    t.check("client address of the SET", by_cmd[b"set k v"][4].startswith(b"127.0.0.1:"))
    t.eq("an HTTP entry's name is its User-Agent", b"curl-probe", by_cmd[b"get /kv/k"][5])
    t.check("an HTTP entry's client address", by_cmd[b"get /kv/k"][4].startswith(b"127.0.0.1:"),
            repr(by_cmd[b"get /kv/k"][4]))
    ids = [e["id"] for e in log]
    t.eq("newest first, ids decreasing", sorted(ids, reverse=True), ids)
    t.check("durations are microseconds >= 0", all(e["duration"] >= 0 for e in log))
    t.eq("SLOWLOG GET 2 gives 2", 2, len(r.slowlog_get(2)))
    t.check("SLOWLOG GET defaults to 10", len(r.slowlog_get()) <= 10)
    t.check("SLOWLOG LEN", r.slowlog_len() >= 6, str(r.slowlog_len()))
    out = cli("slowlog", "get", "20")
    t.check("redis-cli SLOWLOG GET shows both doors", "/kv/k" in out and "py-worker" in out, out)

    code, doc = http_log()
    t.eq("GET /slowlog", 200, code)
    doors = {e["door"] for e in doc["entries"]}
    t.eq("GET /slowlog holds both doors", {"resp", "http"}, doors)
    t.eq("GET /slowlog reports the threshold", 0, doc["slower_than_us"])
    ent = {" ".join(e["args"]).lower(): e for e in doc["entries"]}
    t.check("the SET over HTTP", "set k v" in ent and ent["set k v"]["name"] == "py-worker", repr(list(ent)))
    t.check("the HTTP request over HTTP", ent.get("get /kv/k", {}).get("door") == "http")
    t.check("its client address over HTTP", ent.get("get /kv/k", {}).get("addr", "").startswith("127.0.0.1:"),
            repr(ent.get("get /kv/k")))
    t.check("entries have an RFC 3339 time", all(e["time"].endswith("Z") and "T" in e["time"] for e in doc["entries"]))
    code, one = http_log("?count=1")
    t.eq("?count=1", (200, 1), (code, len(one["entries"])))
    code, body = http_log("?count=x")
    t.eq("?count=x is 400", 400, code)

    # ---- arguments are cut as Redis cuts them
    r.set("long", "x" * 200)
    r.mset({"m%02d" % i: "v" for i in range(20)})  # 41 arguments
    log = r.slowlog_get(5)
    long_set = next(e for e in log if e["command"].lower().startswith(b"set long"))
    t.check("a long argument is cut at 128 bytes", long_set["command"].endswith(b"... (72 more bytes)"),
            long_set["command"][-40:])
    code, doc = http_log("?count=10")
    mset = next(e for e in doc["entries"] if e["args"][0].lower() == "mset")
    t.eq("at most 32 arguments", 32, len(mset["args"]))
    t.eq("the last says how many were left out", "... (10 more arguments)", mset["args"][-1])

    # ---- binary arguments stay valid JSON
    r.echo(b"bin\xff")
    code, doc = http_log("?count=3")
    t.check("non-UTF-8 arguments are escaped", any("bin\\xff" in a for e in doc["entries"] for a in e["args"]),
            json.dumps(doc["entries"])[:300])

    # ---- slowlog-max-len
    r.config_set("slowlog-max-len", 3)
    for i in range(5):
        r.ping()
    t.eq("slowlog-max-len bounds the log", 3, r.slowlog_len())
    r.config_set("slowlog-max-len", 128)

    # ---- DELETE /slowlog empties it (and is itself the next entry)
    code, _ = curl("-X", "DELETE", srv.url + "/slowlog")
    t.eq("DELETE /slowlog", 204, code)
    log = r.slowlog_get(-1)
    t.eq("after DELETE only the DELETE is logged", [b"DELETE /slowlog"], [e["command"] for e in log])

    # ---- off
    r.config_set("slowlog-log-slower-than", -1)
    r.slowlog_reset()
    r.set("a", "b")
    curl(srv.url + "/kv/a")
    t.eq("-1 logs nothing", 0, r.slowlog_len())
    code, doc = http_log()
    t.eq("GET /slowlog when off", (200, -1, []), (code, doc["slower_than_us"], doc["entries"]))

    # ---- errors and help
    t.check("SLOWLOG HELP", "SLOWLOG <subcommand>" in cli("slowlog", "help"))
    t.check("SLOWLOG GET -2", "count should be greater than or equal to -1" in cli("slowlog", "get", "-2"))
    t.check("unknown subcommand", "Try SLOWLOG HELP" in cli("slowlog", "nope"))
    t.check("SLOWLOG in COMMAND", cli("command", "info", "slowlog").startswith("slowlog"))

    # ---- a threshold is a threshold: 1 second logs none of these
    r.config_set("slowlog-log-slower-than", 1000000)
    for i in range(20):
        r.get("k")
    t.eq("fast commands under a 1 s threshold are not logged", 0, r.slowlog_len())
finally:
    srv.close()
t.finish()
