# SPDX-License-Identifier: Apache-2.0
"""Structured logs: with `log-format json` (flag --log-format or the config
file) every line redcar writes is one JSON object {time, level, module,
msg}; bytes from outside (a data directory with quotes, backslashes and a
tab; a client's protocol garbage at debug level) stay valid JSON and come
back intact. The default stays plain text."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Tally  # noqa: E402

BIN = os.environ["REDCAR_BIN"]
t = Tally()
tmp = tempfile.mkdtemp(prefix="redcar-logjson.")


def start(args, log):
    p = subprocess.Popen([BIN, "-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-o", log] + args)
    deadline = time.time() + 10
    while time.time() < deadline:
        text = open(log).read() if os.path.exists(log) else ""
        if "ready" in text:
            return p, text
        if p.poll() is not None:
            raise RuntimeError("redcar exited:\n" + text)
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("redcar did not start")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)


def lines(log):
    return [ln for ln in open(log, encoding="utf-8").read().split("\n") if ln]


try:
    # ---- JSON from the command line, at debug level
    weird = os.path.join(tmp, 'da"ta\\dir\tx')
    log = os.path.join(tmp, "json.log")
    p, _ = start(["--log-format", "json", "-l", "debug", "-d", weird], log)
    objs = [json.loads(ln) for ln in lines(log)]
    t.check("every line is a JSON object", all(isinstance(o, dict) for o in objs))
    t.check("each has time, level, module, msg",
            all(set(o) == {"time", "level", "module", "msg"} for o in objs), repr(objs[:2]))
    t.check("time is RFC 3339 UTC with milliseconds",
            all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]) for o in objs))
    t.check("levels are names", all(o["level"] in ("DEBUG", "INFO", "WARN", "ERROR") for o in objs))
    http = [o for o in objs if o["module"] == "http" and o["msg"].startswith("listening on ")]
    resp = [o for o in objs if o["module"] == "resp" and o["msg"].startswith("listening on ")]
    t.check("the listening lines are there", len(http) == 1 and len(resp) == 1)
    port = int(resp[0]["msg"].rsplit(":", 1)[1])
    opened = [o for o in objs if o["module"] == "store" and o["msg"].startswith("opened ")]
    t.check("a path with quote, backslash and tab comes back intact",
            opened and opened[0]["msg"].startswith("opened " + weird + "/redcar.db"), repr(opened))

    # Garbage from a client (logged at debug level) keeps the file valid.
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b'*1\r\n$x"\\\x01\r\n')
    try:
        s.recv(1024)
    except OSError:
        pass
    s.close()
    deadline = time.time() + 20  # logged before the stop
    while time.time() < deadline and not any("protocol error" in ln for ln in lines(log)):
        time.sleep(0.05)
    stop(p)
    objs = [json.loads(ln) for ln in lines(log)]
    t.check("still one JSON object per line after a protocol error", len(objs) == len(lines(log)))
    t.check("the protocol error was logged", any("protocol error" in o["msg"] for o in objs),
            repr([o["msg"] for o in objs[-5:]]))
    t.check("shutdown is logged as JSON", objs[-1]["msg"] == "stopped cleanly", objs[-1]["msg"])

    # ---- JSON from a config file; CONFIG GET shows it; it cannot change at run time
    conf = os.path.join(tmp, "redcar.conf")
    with open(conf, "w") as f:
        f.write("log-format json\ndir %s\n" % os.path.join(tmp, "d2"))
    log2 = os.path.join(tmp, "conf.log")
    p, _ = start([conf], log2)
    port = int(json.loads([ln for ln in lines(log2) if '"module":"resp"' in ln][0])["msg"].rsplit(":", 1)[1])
    cli = lambda *a: subprocess.run(["redis-cli", "-p", str(port)] + list(a), capture_output=True, text=True,
                                    timeout=10).stdout
    t.eq("CONFIG GET log-format", "log-format\njson\n", cli("config", "get", "log-format"))
    t.check("CONFIG SET log-format refused", "start-up" in cli("config", "set", "log-format", "text"))
    stop(p)
    t.check("config-file JSON logs parse", all(json.loads(ln) for ln in lines(log2)))

    # ---- the default is text
    log3 = os.path.join(tmp, "text.log")
    p, text = start(["-d", os.path.join(tmp, "d3")], log3)
    stop(p)
    t.check("default lines are text", all(not ln.startswith("{") for ln in lines(log3)) and " INFO http: " in text)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
