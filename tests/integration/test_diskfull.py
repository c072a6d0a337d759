# SPDX-License-Identifier: Apache-2.0
"""Disk full and read-only storage: writes fail with a clear error (HTTP 507
problem+json, RESP -ERR), reads keep working, nothing acknowledged is lost,
and writes succeed again once space returns.

A. tmpfs (root and `mount -t tmpfs` allowed): a small tmpfs holds the data
   directory and a filler file; fill until the server refuses, check the
   errors and the reads, SIGKILL and restart while still full, then delete
   the filler and check that writes resume. Skipped where mounting is not
   allowed.
B. RLIMIT_FSIZE (any user): the server starts with a soft file-size limit;
   the server ignores SIGXFSZ, so a write past it fails with EFBIG instead of
   killing the process. Space "returns" by raising the running process's
   limit with prlimit(2) (allowed on one's own processes below the hard
   limit).
C. Read-only: a data directory behind a read-only bind mount (root), and a
   chmod'ed directory for an unprivileged user (when setpriv can drop to
   nobody): start-up refuses with a clear message and a non-zero exit.
   Changing permissions under a running server is not tested: it keeps its
   open file descriptors, so chmod has no effect on it (and none as root).
"""
import json
import os
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Tally, wait_for  # noqa: E402

BIN = os.environ["REDCAR_BIN"]
t = Tally()
todo = []  # known bugs: reported, not counted as failures
TMP = tempfile.mkdtemp(prefix="redcar-df.")
mounts = []


def todo_check(what, cond, detail):
    if cond:
        t.check(what, True)
    else:
        todo.append(what)
        print("not ok - %s # TODO known bug: %s" % (what, detail))


class Proc:
    """One redcar process on a given data directory."""

    def __init__(self, datadir, name, preexec=None, user=None):
        self.log = os.path.join(TMP, name + ".log")
        open(self.log, "w").close()
        cmd = [BIN, "-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", datadir, "-o", self.log]
        if user:
            os.chmod(self.log, 0o666)
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        self.p = subprocess.Popen(cmd, preexec_fn=preexec, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Ready, or exited (a refused start-up is what part C expects).
        _, text = wait_for(lambda: open(self.log).read(),
                           lambda txt: "ready" in txt or self.p.poll() is not None, timeout=60)
        self.ready = "ready" in text
        if self.ready:
            self.http_port = int(re.findall(r"http: listening on 127\.0\.0\.1:(\d+)", text)[-1])
            self.resp_port = int(re.findall(r"resp: listening on 127\.0\.0\.1:(\d+)", text)[-1])
            self.url = "http://127.0.0.1:%d" % self.http_port

    def output(self):
        out = self.p.stdout.read().decode(errors="replace") if self.p.poll() is not None else ""
        return open(self.log).read() + out

    def alive(self):
        return self.p.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        return self.p.returncode

    def http(self, method, path, body=None, ctype=None):
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": ctype} if ctype else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def resp(self, *cmds):
        """Send raw RESP commands; return the raw reply bytes of all of them."""
        s = socket.create_connection(("127.0.0.1", self.resp_port), timeout=30)
        out = b""
        for c in cmds:
            out += b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in
                                                  (x.encode() if isinstance(x, str) else x for x in c))
        s.sendall(out)
        buf = b""
        s.settimeout(2)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if buf.count(b"\r\n") >= len(cmds) and len(cmds) == 1:
                    break
        except socket.timeout:
            pass
        s.close()
        return buf


BIG = b"x" * 900000  # larger than any space left once the server refuses a write


def event(i, pad=3000):
    return {"specversion": "1.0", "id": "e%d" % i, "source": "/diskfull", "type": "t.fill",
            "data": {"pad": "x" * pad}}


def post(srv, ev):
    return srv.http("POST", "/events", json.dumps(ev), "application/cloudevents+json")


def fill(srv, acked, start, limit=20000):
    """Append until the server refuses; returns (status, ctype, body) of the refusal."""
    for i in range(start, start + limit):
        st, ct, body = post(srv, event(i))
        if st in (200, 201):
            acked[("/diskfull", "e%d" % i)] = json.loads(body)["seq"]
            continue
        return i, (st, ct, body)
    return start + limit, None


def check_log(srv, acked, label):
    """Seqs gapless, every acked event present at its seq."""
    log, after = [], 0
    while True:
        st, _, body = srv.http("GET", "/events?after=%d&limit=10000" % after)
        if st != 200:
            t.check("%s: GET /events" % label, False, "HTTP %d" % st)
            return
        page = json.loads(body)
        log += page
        if len(page) < 10000:
            break
        after = page[-1]["seq"]
    seqs = [e["seq"] for e in log]
    where = {(e["source"], e["id"]): e["seq"] for e in log}
    lost = [k for k, s in acked.items() if where.get(k) != s]
    t.check("%s: %d events, seqs gapless, all %d acknowledged present" % (label, len(log), len(acked)),
            seqs == list(range(1, len(log) + 1)) and not lost and len(where) == len(log),
            "lost %r" % lost[:5])


def integrity(datadir, label):
    con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(os.path.join(datadir, "redcar.db")), uri=True)
    try:
        t.eq("%s: integrity_check" % label, [("ok",)], con.execute("PRAGMA integrity_check").fetchall())
    finally:
        con.close()


def check_refusal(srv, refusal, label, code=507, word="disk full"):
    """The write refused: HTTP problem+json, then a batch, a KV PUT and RESP writes."""
    st, ct, body = refusal
    t.eq("%s: single event answers %d" % (label, code), code, st)
    t.eq("%s: as application/problem+json" % label, "application/problem+json", ct)
    doc = json.loads(body) if body.startswith(b"{") else {}
    t.check("%s: problem names the cause" % label, doc.get("status") == code and word in
            (doc.get("title", "") + doc.get("detail", "")).lower(), repr(body))
    # Writes after the first refusal are large: a small one may legitimately
    # fit into space a failed commit or a checkpoint left behind.
    batch = [event(10**6 + i, pad=300000) for i in range(3)]
    st, ct, body = srv.http("POST", "/events", json.dumps(batch), "application/cloudevents-batch+json")
    t.eq("%s: batch answers %d" % (label, code), code, st)
    st, ct, body = srv.http("PUT", "/kv/full-key", BIG, "text/plain")
    t.eq("%s: PUT /kv answers %d" % (label, code), code, st)
    r = srv.resp(["SET", "full-key", BIG])
    t.check("%s: RESP SET answers -ERR ... %s" % (label, word), r.startswith(b"-") and word.encode() in r.lower(),
            repr(r))
    r = srv.resp(["MULTI"], ["SET", "m1", BIG], ["SET", "m2", BIG], ["EXEC"])
    t.check("%s: RESP MULTI/EXEC reports the error" % label, word.encode() in r.lower(), repr(r))
    t.check("%s: server still running" % label, srv.alive())


def check_reads(srv, acked, label):
    st, _, body = srv.http("GET", "/events/1")
    t.eq("%s: GET /events/1 still works" % label, 200, st)
    st, _, body = srv.http("GET", "/kv/before")
    t.eq("%s: GET /kv/before still works" % label, (200, b"kept"), (st, body))
    t.eq("%s: RESP GET still works" % label, b"$4\r\nkept\r\n", srv.resp(["GET", "before"]))
    st, _, body = srv.http("GET", "/info")
    t.eq("%s: GET /info still works" % label, 200, st)
    check_log(srv, acked, label)


def wait_writable(srv, ev, seconds=30):
    """Re-send ev until the server accepts it (space has returned), at most
    seconds; returns the last (status, body), which the caller's check names.
    A refused append writes nothing, so the retries add no events."""
    _, (st, ct, body) = wait_for(lambda: post(srv, ev), lambda r: r[0] in (200, 201),
                                 timeout=seconds, step=0.2)
    return st, body


def part_tmpfs():
    if os.geteuid() != 0:
        print("# skip tmpfs: not root")
        return
    mnt = os.path.join(TMP, "tmpfs")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mnt], capture_output=True)
    if r.returncode != 0:
        print("# skip tmpfs: mount failed: %s" % r.stderr.decode().strip())
        return
    mounts.append(mnt)
    data = os.path.join(mnt, "data")
    with open(os.path.join(mnt, "filler"), "wb") as f:
        f.write(b"\0" * (5 * 1024 * 1024))
    srv = Proc(data, "tmpfs1")
    t.check("tmpfs: server starts", srv.ready, srv.output())
    if not srv.ready:
        return
    acked = {}
    t.eq("tmpfs: SET before filling", b"+OK\r\n", srv.resp(["SET", "before", "kept"]))
    n, refusal = fill(srv, acked, 0)
    t.check("tmpfs: the disk filled after %d events" % n, refusal is not None)
    if refusal is None:
        srv.stop()
        return
    check_refusal(srv, refusal, "tmpfs full")
    check_reads(srv, acked, "tmpfs full")
    # An acknowledged event re-sent while full: nothing to write, so it could
    # still answer "duplicate"; a 507 is acceptable too (the client retries).
    st, _, body = post(srv, event(0))
    print("# re-sending an acknowledged event while the disk is full answers %d %s" % (st, body[:120]))
    t.check("tmpfs full: re-sent acknowledged event answers 200 duplicate or 507", st in (200, 507), repr(body))

    # Crash while full, restart while still full: must come up and serve reads.
    srv.stop(signal.SIGKILL)
    srv = Proc(data, "tmpfs2")
    t.check("tmpfs: restart on a full disk after SIGKILL comes up", srv.ready, srv.output()[-600:])
    if srv.ready:
        check_reads(srv, acked, "tmpfs full, restarted")
        st, ct, body = post(srv, event(n + 1))
        t.eq("tmpfs full, restarted: writes still refused with 507", 507, st)

    # Space returns.
    os.unlink(os.path.join(mnt, "filler"))
    if not srv.ready:
        srv = Proc(data, "tmpfs3")
    st, body = wait_writable(srv, event(n + 2))
    t.check("tmpfs: writes resume once space returns (%d)" % st, st == 201, repr(body))
    if st == 201:
        acked[("/diskfull", "e%d" % (n + 2))] = json.loads(body)["seq"]
    t.eq("tmpfs: RESP SET resumes", b"+OK\r\n", srv.resp(["SET", "after", "x"]))
    n2, refusal = fill(srv, acked, n + 3, limit=100)
    t.check("tmpfs: 100 more events fit", refusal is None, repr(refusal))
    check_log(srv, acked, "tmpfs recovered")
    t.eq("tmpfs: clean stop exits 0", 0, srv.stop())
    integrity(data, "tmpfs after stop")
    srv = Proc(data, "tmpfs4")
    t.check("tmpfs: restart after recovery", srv.ready, srv.output()[-600:])
    if srv.ready:
        check_log(srv, acked, "tmpfs restarted")
        srv.stop()


def part_rlimit():
    data = os.path.join(TMP, "rlimit-data")
    limit = 2 * 1024 * 1024

    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    srv = Proc(data, "rlimit", preexec=pre)
    t.check("rlimit: server starts", srv.ready, srv.output())
    if not srv.ready:
        return
    acked = {}
    t.eq("rlimit: SET before filling", b"+OK\r\n", srv.resp(["SET", "before", "kept"]))
    n, refusal = fill(srv, acked, 0)
    t.check("rlimit: the size limit was reached after %d events" % n, refusal is not None)
    if refusal is None:
        srv.stop()
        return
    t.check("rlimit: server survives writing past RLIMIT_FSIZE (SIGXFSZ ignored)", srv.alive(), srv.output()[-600:])
    st, ct, body = refusal
    t.check("rlimit: refusal is a problem+json 5xx", st >= 500 and ct == "application/problem+json", repr(refusal))
    t.check("rlimit: a write past the file-size limit answers 507 disk full", st == 507,
            "got %d %s" % (st, body[:160]))
    r = srv.resp(["SET", "full-key", BIG])
    t.check("rlimit: RESP SET answers -ERR", r.startswith(b"-ERR"), repr(r))
    t.check("rlimit: RESP error says disk full", b"disk full" in r, "got %r" % r)
    check_reads(srv, acked, "rlimit full")
    # Space returns: raise the running process's soft limit.
    resource.prlimit(srv.p.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    st, body = wait_writable(srv, event(n + 1))
    t.check("rlimit: writes resume after the limit is raised (%d)" % st, st == 201, repr(body))
    if st == 201:
        acked[("/diskfull", "e%d" % (n + 1))] = json.loads(body)["seq"]
    t.eq("rlimit: RESP SET resumes", b"+OK\r\n", srv.resp(["SET", "after", "x"]))
    check_log(srv, acked, "rlimit recovered")
    t.eq("rlimit: clean stop exits 0", 0, srv.stop())
    integrity(data, "rlimit after stop")
    srv = Proc(data, "rlimit2")
    t.check("rlimit: restart", srv.ready, srv.output()[-600:])
    if srv.ready:
        check_log(srv, acked, "rlimit restarted")
        srv.stop()


def populate(data):
    srv = Proc(data, "populate")
    if srv.ready:
        post(srv, event(1, 10))
        srv.stop()
    return srv.ready


def part_readonly():
    data = os.path.join(TMP, "ro-src")
    if not populate(data):
        t.check("read-only: populate a data directory", False)
        return
    if os.geteuid() == 0:
        ro = os.path.join(TMP, "ro-mnt")
        os.mkdir(ro)
        r = subprocess.run(["mount", "--bind", data, ro], capture_output=True)
        if r.returncode == 0:
            mounts.append(ro)
            r = subprocess.run(["mount", "-o", "remount,bind,ro", ro], capture_output=True)
        if r.returncode != 0:
            print("# skip read-only bind mount: %s" % r.stderr.decode().strip())
        else:
            srv = Proc(ro, "ro-mount")
            code = srv.stop() if srv.ready else srv.p.wait(timeout=15)
            out = srv.output()
            t.check("read-only mount: start-up refused, exit %d" % code, not srv.ready and code != 0, out[-600:])
            t.check("read-only mount: message names the cause", "read-only file system" in out.lower(), out[-600:])
    else:
        print("# skip read-only bind mount: not root")
    # Unprivileged owner, directory and files made read-only (root would
    # ignore the mode bits).
    if os.geteuid() == 0 and shutil.which("setpriv"):
        nobody = 65534
        os.chmod(TMP, 0o755)
        for root, dirs, files in os.walk(data):
            for f in files:
                os.chown(os.path.join(root, f), nobody, nobody)
                os.chmod(os.path.join(root, f), 0o444)
        os.chown(data, nobody, nobody)
        os.chmod(data, 0o555)
        srv = Proc(data, "ro-chmod", user=nobody)
        if srv.ready:
            # Started: then it must serve reads and refuse writes clearly.
            st, _, _ = srv.http("GET", "/events/1")
            t.eq("read-only files: reads work", 200, st)
            st, ct, body = post(srv, event(2, 10))
            t.check("read-only files: writes refused with 507", st == 507, repr(body))
            srv.stop()
        else:
            code = srv.p.wait(timeout=15)
            out = srv.output()
            t.check("read-only files: start-up refused, exit %d" % code, code != 0, out[-600:])
            t.check("read-only files: message names the cause", "permission denied" in out.lower() or
                    "read-only" in out.lower(), out[-600:])
        os.chmod(data, 0o755)
    else:
        print("# skip chmod read-only start: needs root to drop to an unprivileged user")


try:
    part_tmpfs()
    part_rlimit()
    part_readonly()
finally:
    for m in reversed(mounts):
        subprocess.run(["umount", m])
    shutil.rmtree(TMP, ignore_errors=True)
if todo:
    print("# %d known bug(s) marked TODO (not counted): %s" % (len(todo), "; ".join(todo)))
t.finish()
