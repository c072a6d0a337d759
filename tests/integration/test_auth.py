# SPDX-License-Identifier: Apache-2.0
"""Access control on both doors, against the real server and real clients.

 - RESP (raw socket and redis-py): -NOAUTH before AUTH, -WRONGPASS for a wrong
   name or password (the same words either way), AUTH <pass> / AUTH <user>
   <pass> / HELLO 3 AUTH, read-only users refused writes with -NOPERM (also
   inside MULTI), ACL WHOAMI/USERS, RESET de-authenticates, CONFIG GET shows
   a digest and never the password.
 - HTTP: 401 problem+json with WWW-Authenticate: Bearer on every route but
   GET /health (unknown paths too, so nothing is revealed), the same body
   for a missing and a wrong token, `NAME:PASSWORD` and bare-requirepass
   tokens, 403 for a read-only token on POST/PUT/DELETE.
 - redcar-ctl with REDCAR_TOKEN (and its alias REDCAR_PASSWORD).
 - Users only (no requirepass): the default user is disabled.
 - Settings: `user NAME ROLE PASSWORD` lines and `requirepass #<sha256>` in a
   config file, --user flags, bad values refused without echoing a password.
 - Protected mode: a non-loopback bind without credentials exits non-zero
   with a clear message; with a credential or `--protected-mode no` it starts
   (bound only, no traffic sent there, stopped at once).
"""
import hashlib
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

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()
BIN = os.environ["REDCAR_BIN"]
CTL = os.environ["REDCAR_CTL"]
tmp = tempfile.mkdtemp(prefix="redcar-auth-test.")
servers = []

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


def noperm(cmd):
    return "NOPERM this user has no permissions to run the '%s' command" % cmd


class Raw:
    """A RESP connection over a plain socket: exact replies, no client magic."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        k, rest = line[:1], line[1:].decode()
        if k in (b"+", b"-"):
            return rest if k == b"+" else ("err", rest)
        if k == b":":
            return int(rest)
        if k == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(65536)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v.decode()
        if k in (b"*", b"%"):
            n = int(rest)
            items = [self._read() for _ in range(n * (2 if k == b"%" else 1))]
            return items
        if k == b"_":
            return None
        raise ValueError(line)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self._read()

    def close(self):
        self.s.close()


def err(msg):
    return ("err", msg)


def ctl(srv, *args, env=None):
    e = dict(os.environ)
    e.pop("REDCAR_PASSWORD", None)
    e.pop("REDCAR_TOKEN", None)
    e.update(env or {})
    p = subprocess.run([CTL, "-e", srv.url] + list(args), capture_output=True, env=e, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


try:
    # ==== no credentials: everything open, AUTH says so =================================
    open_srv = Redcar()
    servers.append(open_srv)
    c = Raw(open_srv.resp_port)
    t.eq("open: commands run without AUTH", "OK", c.cmd("SET", "k", "v"))
    t.check("open: AUTH <pass> explains there is no password",
            c.cmd("AUTH", "x")[1].startswith("ERR AUTH <password> called without any password configured"))
    t.eq("open: ACL WHOAMI is default", "default", c.cmd("ACL", "WHOAMI"))
    c.close()
    st, _, _ = open_srv.http("GET", "/info")
    t.eq("open: GET /info needs no token", 200, st)

    # ==== requirepass + a read-only and a read-write user ===============================
    srv = Redcar("--requirepass", "s3cret", "--user", "reader:ro:rpw", "--user", "writer:rw:w:p:w")
    servers.append(srv)
    P = srv.resp_port

    # ---- RESP, exact replies over a raw socket
    c = Raw(P)
    t.eq("resp: PING before AUTH is NOAUTH", err(NOAUTH), c.cmd("PING"))
    t.eq("resp: GET before AUTH is NOAUTH", err(NOAUTH), c.cmd("GET", "k"))
    t.eq("resp: SET before AUTH is NOAUTH", err(NOAUTH), c.cmd("SET", "k", "v"))
    t.eq("resp: ACL before AUTH is NOAUTH", err(NOAUTH), c.cmd("ACL", "WHOAMI"))
    t.eq("resp: wrong password is WRONGPASS", err(WRONGPASS), c.cmd("AUTH", "nope"))
    t.eq("resp: unknown user is WRONGPASS (same words)", err(WRONGPASS), c.cmd("AUTH", "nobody", "s3cret"))
    t.eq("resp: a user's wrong password is WRONGPASS", err(WRONGPASS), c.cmd("AUTH", "reader", "wpw"))
    t.eq("resp: another user's password is WRONGPASS", err(WRONGPASS), c.cmd("AUTH", "reader", "s3cret"))
    digest = "#" + hashlib.sha256(b"s3cret").hexdigest()
    t.eq("resp: the digest is not the password", err(WRONGPASS), c.cmd("AUTH", digest))
    t.eq("resp: still NOAUTH after failures", err(NOAUTH), c.cmd("GET", "k"))
    t.eq("resp: AUTH requirepass", "OK", c.cmd("AUTH", "s3cret"))
    t.eq("resp: default user writes", "OK", c.cmd("SET", "k", "v1"))
    t.eq("resp: ACL WHOAMI default", "default", c.cmd("ACL", "WHOAMI"))
    t.eq("resp: AUTH default <requirepass>", "OK", c.cmd("AUTH", "default", "s3cret"))
    t.eq("resp: ACL USERS lists names only", ["default", "reader", "writer"], c.cmd("ACL", "USERS"))
    cfg = c.cmd("CONFIG", "GET", "requirepass")
    t.eq("resp: CONFIG GET requirepass shows the SHA-256, not the password", ["requirepass", digest], cfg)
    users = c.cmd("CONFIG", "GET", "user")[1]
    t.check("resp: CONFIG GET user shows digests only",
            "rpw" not in users.replace("reader", "") and "w:p:w" not in users
            and users.startswith("reader:ro:#"), users)
    t.check("resp: CONFIG SET user refused at run time",
            c.cmd("CONFIG", "SET", "user", "x:rw:y")[1].startswith("ERR CONFIG SET failed"))
    t.eq("resp: failed AUTH keeps the earlier login", err(WRONGPASS), c.cmd("AUTH", "bad"))
    t.eq("resp: ... still default", "default", c.cmd("ACL", "WHOAMI"))
    t.eq("resp: RESET", "RESET", c.cmd("RESET"))
    t.eq("resp: RESET de-authenticates", err(NOAUTH), c.cmd("GET", "k"))
    c.close()

    r = Raw(P)
    t.eq("resp: AUTH reader (read-only)", "OK", r.cmd("AUTH", "reader", "rpw"))
    t.eq("resp: ACL WHOAMI reader", "reader", r.cmd("ACL", "WHOAMI"))
    t.eq("resp: reader GET", "v1", r.cmd("GET", "k"))
    t.eq("resp: reader EXISTS", 1, r.cmd("EXISTS", "k"))
    t.eq("resp: reader SET is NOPERM", err(noperm("set")), r.cmd("SET", "k", "x"))
    t.eq("resp: reader DEL is NOPERM", err(noperm("del")), r.cmd("DEL", "k"))
    t.eq("resp: reader INCR is NOPERM", err(noperm("incr")), r.cmd("INCR", "n"))
    t.eq("resp: reader HSET is NOPERM", err(noperm("hset")), r.cmd("HSET", "h", "f", "v"))
    t.eq("resp: reader PUBLISH is NOPERM", err(noperm("publish")), r.cmd("PUBLISH", "ch", "m"))
    t.eq("resp: reader FLUSHALL is NOPERM", err(noperm("flushall")), r.cmd("FLUSHALL"))
    t.eq("resp: reader CONFIG is NOPERM", err(noperm("config")), r.cmd("CONFIG", "SET", "requirepass", ""))
    t.check("resp: reader CLIENT KILL is NOPERM",
            r.cmd("CLIENT", "KILL", "ID", "1")[1].startswith("NOPERM"))
    t.check("resp: reader ACL USERS is NOPERM", r.cmd("ACL", "USERS")[1].startswith("NOPERM"))
    t.eq("resp: value untouched", "v1", r.cmd("GET", "k"))
    t.eq("resp: reader MULTI", "OK", r.cmd("MULTI"))
    t.eq("resp: reader GET queued", "QUEUED", r.cmd("GET", "k"))
    t.eq("resp: reader SET refused while queueing", err(noperm("set")), r.cmd("SET", "k", "x"))
    t.check("resp: EXEC after a refused command aborts", r.cmd("EXEC")[1].startswith("EXECABORT"))
    t.eq("resp: reader MULTI (reads only)", "OK", r.cmd("MULTI"))
    r.cmd("GET", "k")
    t.eq("resp: reader EXEC of reads runs", ["v1"], r.cmd("EXEC"))
    t.check("resp: CLIENT INFO names the user", "user=reader" in r.cmd("CLIENT", "INFO"))
    r.close()

    w = Raw(P)
    t.eq("resp: AUTH writer (password with colons)", "OK", w.cmd("AUTH", "writer", "w:p:w"))
    t.eq("resp: writer SET", "OK", w.cmd("SET", "k", "v2"))
    t.eq("resp: writer WHOAMI", "writer", w.cmd("ACL", "WHOAMI"))
    w.close()

    h = Raw(P)
    hello = h.cmd("HELLO", "3")
    t.check("resp: HELLO 3 before AUTH is NOAUTH", isinstance(hello, tuple) and hello[1].startswith("NOAUTH HELLO"))
    t.eq("resp: HELLO 3 AUTH wrong is WRONGPASS", err(WRONGPASS), h.cmd("HELLO", "3", "AUTH", "reader", "x"))
    hello = h.cmd("HELLO", "3", "AUTH", "reader", "rpw")
    t.check("resp: HELLO 3 AUTH reader answers the map", isinstance(hello, list) and "proto" in hello, hello)
    t.eq("resp: after HELLO AUTH the reader is read-only", err(noperm("set")), h.cmd("SET", "k", "x"))
    h.close()

    # ---- the same through redis-py
    rd = redis.Redis(port=P, username="reader", password="rpw", decode_responses=True)
    t.eq("redis-py: reader reads", "v2", rd.get("k"))
    try:
        rd.set("k", "x")
        t.check("redis-py: reader write raises NoPermissionError", False)
    except redis.exceptions.NoPermissionError as e:
        t.eq("redis-py: reader write raises NoPermissionError", noperm("set")[len("NOPERM "):], str(e))
    rd.close()
    rw = redis.Redis(port=P, username="writer", password="w:p:w", decode_responses=True)
    t.eq("redis-py: writer writes", True, rw.set("k2", "v"))
    rw.close()
    for user, pw in (("reader", "bad"), (None, "bad"), ("ghost", "s3cret")):
        try:
            redis.Redis(port=P, username=user, password=pw).ping()
            t.check("redis-py: bad credentials %s refused" % user, False)
        except (redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as e:
            # redis-py 4.3 raises WRONGPASS as a plain ResponseError
            t.check("redis-py: bad credentials (%s) refused" % user, "invalid username-password" in str(e), str(e))
    try:
        redis.Redis(port=P).get("k")
        t.check("redis-py: no credentials refused", False)
    except redis.exceptions.AuthenticationError as e:
        t.check("redis-py: no credentials refused (NOAUTH)", "Authentication required" in str(e), str(e))

    # ---- HTTP
    st, _, _ = srv.http("GET", "/health")
    t.eq("http: GET /health needs no token", 200, st)
    st, _, _ = srv.http("HEAD", "/health")
    t.eq("http: HEAD /health needs no token", 200, st)
    ev = json.dumps({"specversion": "1.0", "id": "a1", "source": "/t", "type": "t.x"})
    CE = {"Content-Type": "application/cloudevents+json"}
    bodies = set()
    for method, path, body in (("GET", "/info", None), ("GET", "/events", None), ("GET", "/kv", None),
                               ("GET", "/kv/k", None), ("GET", "/metrics", None), ("GET", "/backup", None),
                               ("GET", "/cursors", None), ("GET", "/events/stream", None),
                               ("POST", "/events", ev), ("PUT", "/kv/k", "x"), ("DELETE", "/kv/k", None),
                               ("GET", "/no/such/path", None), ("POST", "/health", None)):
        for name, hdrs in (("no token", {}), ("wrong token", bearer("wrong")),
                           ("wrong user password", bearer("reader:wrong")),
                           ("Basic auth", {"Authorization": "Basic cmVhZGVyOnJwdw=="})):
            hh = dict(hdrs)
            if body is not None:
                hh.update(CE)
            st, rh, b = srv.http(method, path, body, hh)
            ok = (st == 401 and rh.get("WWW-Authenticate", "").startswith("Bearer")
                  and rh.get("Content-Type", "").startswith("application/problem+json"))
            t.check("http: %s %s with %s is 401 + WWW-Authenticate: Bearer" % (method, path, name), ok,
                    (st, rh, b[:200]))
            bodies.add(b)
    t.eq("http: every 401 has the same body (reveals nothing)", 1, len(bodies))
    prob = json.loads(bodies.pop())
    t.eq("http: 401 problem status", 401, prob.get("status"))

    st, _, b = srv.http("GET", "/info", headers=bearer("s3cret"))
    t.eq("http: requirepass as a bare token", 200, st)
    st, _, b = srv.http("GET", "/info", headers=bearer("default:s3cret"))
    t.eq("http: default:requirepass token", 200, st)
    st, _, b = srv.http("GET", "/info", headers={"Authorization": "bearer   reader:rpw  "})
    t.eq("http: scheme case-insensitive, spaces around the token", 200, st)
    st, _, _ = srv.http("PUT", "/kv/hk", "hv", headers=bearer("writer:w:p:w"))
    t.check("http: writer PUT", 200 <= st < 300, st)
    st, _, _ = srv.http("POST", "/events", ev, headers=dict(CE, **bearer("s3cret")))
    t.check("http: default POST /events", 200 <= st < 300, st)
    st, _, b = srv.http("GET", "/kv/hk", headers=bearer("reader:rpw"))
    t.eq("http: reader GET /kv/hk", 200, st)
    for method, path, body in (("PUT", "/kv/hk", "x"), ("DELETE", "/kv/hk", None), ("POST", "/events", ev),
                               ("POST", "/cursors", json.dumps({"name": "c1"}))):
        hh = dict(bearer("reader:rpw"))
        if body is not None:
            hh.update(CE if path == "/events" else {"Content-Type": "application/json"})
        st, rh, b = srv.http(method, path, body, hh)
        t.check("http: reader %s %s is 403 problem+json" % (method, path),
                st == 403 and rh.get("Content-Type", "").startswith("application/problem+json"), (st, b[:200]))
    st, _, b = srv.http("GET", "/kv/hk", headers=bearer("reader:rpw"))
    t.check("http: value untouched by the refused writes", st == 200 and b"hv" in b, (st, b))
    # auth before the body: the refusal comes as soon as the headers are in,
    # so a large upload without (or with a wrong, or a read-only) token is
    # never read. Content-Length stays under http-max-body (16 MB): a server
    # that waited for the body would answer nothing.
    for name, extra in (("no token", b""), ("a wrong token", b"Authorization: Bearer wrong\r\n"),
                        ("a read-only token", b"Authorization: Bearer reader:rpw\r\n"),
                        ("no token and Expect: 100-continue", b"Expect: 100-continue\r\n")):
        sk = socket.create_connection(("127.0.0.1", srv.http_port), timeout=5)
        sk.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n"
                   b"Content-Length: 10000000\r\n" + extra + b"\r\n")
        got = b""
        try:
            while b"\r\n\r\n" not in got or not got.rstrip().endswith(b"}"):
                chunk = sk.recv(4096)
                if not chunk:
                    break
                got += chunk
        except socket.timeout:
            pass
        sk.close()
        want = 403 if "read-only" in name else 401
        t.check("http: POST with %s and a 10 MB Content-Length is refused %d before any body byte "
                "is sent" % (name, want), got.startswith(b"HTTP/1.1 %d" % want) and
                b"application/problem+json" in got and b"100 Continue" not in got, got[:200])

    st, _, _ = srv.http("GET", "/no/such/path", headers=bearer("reader:rpw"))
    t.eq("http: authenticated unknown path is 404", 404, st)
    st, _, _ = srv.http("GET", "/backup", headers=bearer("reader:rpw"))
    t.eq("http: reader may take a backup (GET)", 200, st)
    # the two doors share the users: a write over HTTP is read over RESP
    c = Raw(P)
    c.cmd("AUTH", "reader", "rpw")
    t.eq("both doors: HTTP write read over RESP", "hv", c.cmd("GET", "hk"))
    c.close()

    # ---- redcar-ctl
    rc, out, e = ctl(srv, "get", "hk")
    t.check("ctl: no token fails (4) with a clear message", rc == 4 and "401" in e, (rc, e))
    rc, out, e = ctl(srv, "get", "hk", env={"REDCAR_TOKEN": "reader:bad"})
    t.check("ctl: wrong token fails (4)", rc == 4 and "401" in e, (rc, e))
    rc, out, e = ctl(srv, "put", "ck", "cv", env={"REDCAR_TOKEN": "writer:w:p:w"})
    t.eq("ctl: REDCAR_TOKEN writer put", 0, rc)
    rc, out, e = ctl(srv, "get", "ck", env={"REDCAR_TOKEN": "reader:rpw"})
    t.check("ctl: REDCAR_TOKEN reader get", rc == 0 and "cv" in out, (rc, out, e))
    rc, out, e = ctl(srv, "put", "ck", "no", env={"REDCAR_TOKEN": "reader:rpw"})
    t.check("ctl: reader put refused (4, 403)", rc == 4 and "403" in e, (rc, e))
    rc, out, e = ctl(srv, "get", "ck", env={"REDCAR_PASSWORD": "s3cret"})
    t.check("ctl: REDCAR_PASSWORD still works (alias)", rc == 0 and "cv" in out, (rc, out, e))
    rc, out, e = ctl(srv, "info", env={"REDCAR_TOKEN": "reader:rpw"})
    t.eq("ctl: info with a token", 0, rc)
    rc, out, e = ctl(srv, "events", env={"REDCAR_TOKEN": "s3cret"})
    t.eq("ctl: events with the requirepass token", 0, rc)
    rc, out, e = ctl(srv, "backup", os.path.join(tmp, "b.db"), env={"REDCAR_TOKEN": "reader:rpw"})
    t.check("ctl: backup with REDCAR_TOKEN", rc == 0 and os.path.getsize(os.path.join(tmp, "b.db")) > 0,
            (rc, e))

    # ---- CONFIG SET requirepass at run time applies to new logins at once
    c = Raw(P)
    c.cmd("AUTH", "s3cret")
    t.eq("runtime: CONFIG SET requirepass", "OK", c.cmd("CONFIG", "SET", "requirepass", "n3w"))
    c2 = Raw(P)
    t.eq("runtime: old password refused", err(WRONGPASS), c2.cmd("AUTH", "s3cret"))
    t.eq("runtime: new password works", "OK", c2.cmd("AUTH", "n3w"))
    c2.close()
    st, _, _ = srv.http("GET", "/info", headers=bearer("s3cret"))
    t.eq("runtime: HTTP old token refused", 401, st)
    st, _, _ = srv.http("GET", "/info", headers=bearer("n3w"))
    t.eq("runtime: HTTP new token works", 200, st)
    t.eq("runtime: the connection stays logged in", "v2", c.cmd("GET", "k"))
    c.close()
    srv.close()
    servers.remove(srv)

    # ==== users only, from a config file (one with a digest), no requirepass ==========
    conf = os.path.join(tmp, "users.conf")
    with open(conf, "w") as f:
        f.write("user alice ro pass with spaces\n")
        f.write("user bob rw #%s\n" % hashlib.sha256(b"bobpw").hexdigest())
    usrv = Redcar(conf)
    servers.append(usrv)
    c = Raw(usrv.resp_port)
    t.eq("users only: NOAUTH before AUTH", err(NOAUTH), c.cmd("GET", "k"))
    t.eq("users only: AUTH <anything> is WRONGPASS (default disabled)", err(WRONGPASS), c.cmd("AUTH", ""))
    t.eq("users only: AUTH default x is WRONGPASS", err(WRONGPASS), c.cmd("AUTH", "default", "x"))
    t.eq("users only: alice (password with spaces)", "OK", c.cmd("AUTH", "alice", "pass with spaces"))
    t.eq("users only: alice read-only", err(noperm("set")), c.cmd("SET", "a", "1"))
    t.eq("users only: bob, given as a digest in the file", "OK", c.cmd("AUTH", "bob", "bobpw"))
    t.eq("users only: bob writes", "OK", c.cmd("SET", "a", "1"))
    c.close()
    st, _, _ = usrv.http("GET", "/kv/a")
    t.eq("users only: HTTP without token 401", 401, st)
    st, _, _ = usrv.http("GET", "/kv/a", headers=bearer("bob:bobpw"))
    t.eq("users only: HTTP bob token", 200, st)
    st, _, _ = usrv.http("GET", "/kv/a", headers=bearer("default:"))
    t.eq("users only: default with empty password 401", 401, st)
    usrv.close()
    servers.remove(usrv)

    # ==== settings: help, default file, bad values ==================================
    p = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=10)
    t.check("--help documents --user", "--user NAME:ROLE:PASSWORD" in p.stdout, p.stdout[-400:])
    p = subprocess.run([BIN, "--print-config"], capture_output=True, text=True, timeout=10)
    t.check("--print-config documents the user setting", '\n# user ""\n' in p.stdout
            and "user reader ro" in p.stdout)
    for bad, what in ((["--user", "eve:admin:TopSecret1"], "role must be ro or rw"),
                      (["--user", "default:rw:TopSecret1"], "requirepass"),
                      (["--user", "e ve:rw:TopSecret1"], "expected"),
                      (["--user", "eve:ro:"], "empty password")):
        p = subprocess.run([BIN, "-d", os.path.join(tmp, "never")] + bad, capture_output=True, text=True,
                           timeout=10)
        t.check("bad %s refused: %s" % (bad[1].split(":")[0], what),
                p.returncode != 0 and what in p.stderr and "TopSecret1" not in p.stderr, (p.returncode, p.stderr))

    # ==== protected mode ===========================================================
    addrs = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    public = next((a for a in addrs if re.match(r"^\d+\.\d+\.\d+\.\d+$", a) and not a.startswith("127.")),
                  "0.0.0.0")
    print("# protected mode: binding %s (no traffic is sent there)" % public)

    def start_public(*extra, http=None, resp="127.0.0.1"):
        d = tempfile.mkdtemp(prefix="pm.", dir=tmp)
        log = os.path.join(d, "log")
        p = subprocess.Popen([BIN, "-a", (http or public) + ":0", "-r", resp + ":0", "-d", os.path.join(d, "data"),
                              "-o", log] + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if p.poll() is not None:
                break
            if os.path.exists(log) and "ready" in open(log).read():
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
                return "started", p.returncode, ""
            time.sleep(0.05)
        if p.poll() is None:
            p.kill()
            p.wait()
            return "hung", None, ""
        return "exited", p.returncode, p.stderr.read().decode()

    how, rc, e = start_public()
    t.check("protected: public bind without credentials exits non-zero", how == "exited" and rc != 0, (how, rc))
    t.check("protected: the message says why and how to fix it",
            "refusing to bind http to %s without credentials" % public in e and "protected-mode no" in e, e)
    how, rc, e = start_public(http="127.0.0.1", resp=public)
    t.check("protected: public RESP bind refused too", how == "exited" and rc != 0
            and "refusing to bind resp to %s" % public in e, (how, rc, e))
    for extra, name in ((["--requirepass", "pw"], "requirepass"), (["--user", "u:ro:pw"], "a user"),
                        (["--protected-mode", "no"], "--protected-mode no")):
        how, rc, e = start_public(*extra)
        t.check("protected: with %s it starts (and stops cleanly)" % name, how == "started" and rc == 0,
                (how, rc, e))
finally:
    for s in servers:
        s.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
