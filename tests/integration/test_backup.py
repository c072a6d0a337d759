# SPDX-License-Identifier: Apache-2.0
"""Backup/restore and export/import against the real server and redcar-ctl.

 - `redcar-ctl backup FILE` while a writer keeps appending: the writer is not
   stalled by the backup, and a server started on a directory holding the
   copy as redcar.db has every event up to the copy's seq (byte-identical),
   the same KV view and the same consumer cursor.
 - `export` -> `import` into a fresh server gives the identical log (seq,
   time and all); re-importing is all duplicates; bad lines are named.
 - The progress line appears under a pseudo-terminal and never in a pipe;
   -q prints nothing.
 - GET /backup itself: headers, a second concurrent backup, requirepass.
Prints the measured rates (backup MB/s, export and import events/s)."""
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()
CTL = os.environ["REDCAR_CTL"]
BATCH = {"Content-Type": "application/cloudevents-batch+json"}
ONE = {"Content-Type": "application/cloudevents+json"}
tmp = tempfile.mkdtemp(prefix="redcar-backup-test.")


def ctl(srv, *args, env=None, stdin=None):
    e = dict(os.environ)
    e.pop("REDCAR_PASSWORD", None)
    e.update(env or {})
    p = subprocess.run([CTL, "-e", srv.url] + list(args), capture_output=True, env=e,
                       stdin=stdin, timeout=300)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def seed(srv, n):
    """n events in batches: plain events, KV puts/hsets/rpushes and deletes."""
    for start in range(0, n, 1000):
        evs = []
        for i in range(start, min(n, start + 1000)):
            if i % 10 == 0:
                e = {"type": "io.redcar.kv.put", "subject": "key%d" % (i // 10 % 300),
                     "datacontenttype": "text/plain", "data": "v%d" % i}
            elif i % 97 == 0:
                e = {"type": "io.redcar.kv.hset", "subject": "hash%d" % (i % 7),
                     "data": {"f%d" % i: "x%d" % i}}
            elif i % 89 == 0:
                e = {"type": "io.redcar.kv.rpush", "subject": "list%d" % (i % 5),
                     "data": ["a%d" % i, "b%d" % i]}
            elif i % 1001 == 0:
                e = {"type": "io.redcar.kv.delete", "subject": "key%d" % (i % 300)}
            else:
                e = {"type": "com.example.order", "subject": "orders/%d" % (i % 50),
                     "data": {"n": i, "pad": "x" * 300, "exact": 1.0000000000000002}}
            e.update({"specversion": "1.0", "id": "seed-%d" % i, "source": "/seed"})
            evs.append(e)
        st, body = srv.json("POST", "/events", json.dumps(evs), BATCH)
        assert st == 201, (st, body)


def log_lines(srv, upto=None):
    """Every stored event as NDJSON lines (seq included), oldest first."""
    out, after = [], 0
    while True:
        st, h, b = srv.http("GET", "/events?after=%d&limit=10000" % after,
                            headers={"Accept": "application/x-ndjson"})
        assert st == 200, st
        lines = b.decode().splitlines()
        for ln in lines:
            seq = json.loads(ln)["seq"]
            if upto is not None and seq > upto:
                return out
            out.append(ln)
            after = seq
        if len(lines) < 10000:
            return out


def kv_view(srv):
    st, body = srv.json("GET", "/kv?limit=10000")
    assert st == 200, (st, body)
    items = body["items"] if isinstance(body, dict) else body
    view = {}
    for it in items:
        k = it["key"]
        _, _, v = srv.http("GET", "/kv/" + urllib.request.quote(k, safe=""))
        view[k] = v
    return view


class Writer(threading.Thread):
    """Appends one event at a time until stopped; records each latency."""

    def __init__(self, srv):
        super().__init__(daemon=True)
        self.srv, self.stop, self.lat, self.n, self.errors = srv, False, [], 0, 0

    def run(self):
        i = 0
        while not self.stop:
            ev = {"specversion": "1.0", "id": "live-%d" % i, "source": "/writer",
                  "type": "com.example.live", "data": {"i": i}}
            t0 = time.monotonic()
            st, _, _ = self.srv.http("POST", "/events", json.dumps(ev), ONE)
            self.lat.append((t0, time.monotonic() - t0))
            if st == 201:
                self.n += 1
            else:
                self.errors += 1
            i += 1


def restore(path, name):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shutil.copy(path, os.path.join(d, "redcar.db"))
    return Redcar(datadir=d)


def run_pty(args):
    """Run args with stderr on a pseudo-terminal; returns (rc, stderr bytes)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=60)
    os.close(master)
    return p.returncode, out


N = 60000
srv = Redcar()
servers = [srv]
try:
    seed(srv, N)
    st, c = srv.json("POST", "/cursors", json.dumps({"name": "audit", "start": "beginning"}))
    t.eq("cursor created", 201, st)
    st, b = srv.json("GET", "/cursors/audit/events?limit=1000")
    t.eq("cursor fetched 1000", 200, st)
    st, r = srv.json("POST", "/cursors/audit/ack", json.dumps({"seqs": [700]}))
    st, cur = srv.json("GET", "/cursors/audit")
    t.eq("cursor acked to 700, read to 1000", (700, 1000), (cur["ack_seq"], cur["read_seq"]))
    kv_before = kv_view(srv)
    t.check("seeded KV view is not trivial", len(kv_before) > 250, len(kv_before))

    # ---- backup while a writer runs ------------------------------------------------------
    w = Writer(srv)
    w.start()
    time.sleep(0.5)
    bfile = os.path.join(tmp, "full.db")
    n0, t0 = w.n, time.monotonic()
    rc, out, err = ctl(srv, "-w", "json", "backup", bfile)
    t1, n1 = time.monotonic(), w.n
    time.sleep(0.3)
    w.stop = True
    w.join()
    t.eq("backup: exit 0", 0, rc)
    summary = json.loads(out) if rc == 0 else {}
    size = os.path.getsize(bfile) if os.path.exists(bfile) else 0
    t.eq("backup: file size as reported", summary.get("bytes"), size)
    t.check("backup: no .part file left", not os.path.exists(bfile + ".part"))
    t.check("backup: no progress line in a pipe", "\r" not in err, repr(err[:200]))
    t.eq("backup: writer had no errors", 0, w.errors)
    during = [lat for (s, lat) in w.lat if t0 <= s <= t1]
    t.check("backup: appends kept committing during the backup", n1 - n0 >= 1,
            "%d appends in %.2fs" % (n1 - n0, t1 - t0))
    worst = max(during) if during else 0
    t.check("backup: no append stalled for the whole backup", worst < t1 - t0,
            "worst %.3fs of %.3fs" % (worst, t1 - t0))
    bseq = int(summary.get("seq", 0))
    t.check("backup: seq covers the seed and some live writes", bseq >= N, bseq)
    print("# backup: %.1f MB in %.2f s = %.0f MB/s (with a writer running: %d appends during "
          "it, worst append latency %.1f ms)" % (size / 1e6, t1 - t0, size / 1e6 / (t1 - t0),
                                                  n1 - n0, worst * 1000))
    st, info = srv.json("GET", "/info")
    t.check("live server went on after the snapshot", info["seq"] > bseq, (info["seq"], bseq))

    # ---- restore: a server on the copy -------------------------------------------------------
    rs = restore(bfile, "restored")
    servers.append(rs)
    st, rinfo = rs.json("GET", "/info")
    t.eq("restored: head seq is the backup's", bseq, rinfo["seq"])
    t.eq("restored: every event", bseq, rinfo["events"])
    a_lines = log_lines(srv, upto=bseq)
    b_lines = log_lines(rs)
    t.eq("restored: log identical up to the backup seq", len(a_lines), len(b_lines))
    t.check("restored: byte-identical events", a_lines == b_lines)
    t.check("restored: KV view identical", kv_view(rs) == kv_before)
    st, cur = rs.json("GET", "/cursors/audit")
    t.eq("restored: consumer cursor kept", (200, 700, 1000),
         (st, cur and cur.get("ack_seq"), cur and cur.get("read_seq")))
    st, r = rs.json("POST", "/events", json.dumps(
        {"specversion": "1.0", "id": "seed-1", "source": "/seed", "type": "com.example.order"}), ONE)
    t.eq("restored: dedup index restored too", (200, True), (st, r and r.get("duplicate")))

    # ---- export -> import ------------------------------------------------------------------
    efile = os.path.join(tmp, "log.ndjson")
    t0 = time.monotonic()
    rc, out, err = ctl(srv, "export", "-o", efile)
    dt = time.monotonic() - t0
    t.eq("export: exit 0", 0, rc)
    exported = open(efile).read().splitlines()
    st, info = srv.json("GET", "/info")
    t.eq("export: every event", info["seq"], len(exported))
    t.check("export: one summary line, no progress", err.count("\n") == 1 and "\r" not in err
            and err.startswith("export: %d events" % len(exported)), repr(err))
    print("# export: %d events in %.2f s = %.0f events/s" % (len(exported), dt, len(exported) / dt))

    fresh = Redcar()
    servers.append(fresh)
    t0 = time.monotonic()
    rc, out, err = ctl(fresh, "-w", "json", "import", efile)
    dt = time.monotonic() - t0
    t.eq("import: exit 0", 0, rc)
    s = json.loads(out) if rc == 0 else {}
    t.eq("import: all appended", (len(exported), len(exported), 0),
         (s.get("events"), s.get("appended"), s.get("duplicates")))
    print("# import: %d events in %.2f s = %.0f events/s" % (len(exported), dt, len(exported) / dt))
    t.check("import: the log is identical (seq, time, data)", log_lines(fresh) == exported)
    t.check("import: the KV view is identical", kv_view(fresh) == kv_view(srv))

    rc, out, err = ctl(fresh, "import", efile)
    t.eq("re-import: exit 0", 0, rc)
    t.check("re-import: all duplicates", "0 appended, %d duplicates" % len(exported) in err, err)
    st, finfo = fresh.json("GET", "/info")
    t.eq("re-import: nothing appended", len(exported), finfo["seq"])

    # import from stdin, with a small batch and an --from export
    rc, out, err = ctl(srv, "export", "--from", str(bseq - 4), "-q")
    t.eq("export --from: 5+ lines, -q silent", (0, ""), (rc, err))
    t.eq("export --from starts there", bseq - 4, json.loads(out.splitlines()[0])["seq"])
    p = subprocess.run([CTL, "-e", fresh.url, "import", "-", "--batch", "2"], input=out.encode(),
                       capture_output=True, timeout=60)
    t.check("import from stdin: all duplicates", p.returncode == 0 and
            b"0 appended, %d duplicates" % len(out.splitlines()) in p.stderr, p.stderr)

    # bad input is named by line
    bad = os.path.join(tmp, "bad.ndjson")
    with open(bad, "w") as f:
        f.write('{"specversion":"1.0","id":"ok1","source":"/b","type":"t"}\n\n')
        f.write('{"specversion":"1.0","id":"bad","source":"/b"}\n')
    rc, out, err = ctl(fresh, "import", bad)
    t.check("import: an invalid event fails (4), naming line 3", rc == 4 and "line 3" in err,
            repr((rc, err)))
    with open(bad, "w") as f:
        f.write('{"specversion":"1.0","id":"ok1","source":"/b","type":"t"}\nnot json\n')
    rc, out, err = ctl(fresh, "import", bad)
    t.check("import: a line that is not an object fails (1), naming line 2",
            rc == 1 and "line 2" in err, repr((rc, err)))
    rc, out, err = ctl(fresh, "import", os.path.join(tmp, "missing.ndjson"))
    t.check("import: missing file is a usage error", rc == 1 and "cannot open" in err, err)
    rc, out, err = ctl(srv, "backup", bfile)
    t.check("backup: never overwrites without --force", rc == 1 and "exists" in err, err)

    # ---- progress on a terminal, not in pipes --------------------------------------------------
    pfile = os.path.join(tmp, "p.ndjson")
    rc, tty_err = run_pty([CTL, "-e", srv.url, "export", "-o", pfile])
    tty_err = tty_err.decode(errors="replace")
    t.check("tty: export draws a progress line (\\r, rate, ETA)", rc == 0 and "\r" in tty_err and
            "ev/s" in tty_err and "ETA" in tty_err and "%" in tty_err, repr(tty_err[:300]))
    t.check("tty: the summary follows", "export: " in tty_err, repr(tty_err[-200:]))
    rc, tty_err = run_pty([CTL, "-e", fresh.url, "import", pfile])
    tty_err = tty_err.decode(errors="replace")
    t.check("tty: import draws bytes progress", rc == 0 and "\r" in tty_err and "B/s" in tty_err,
            repr(tty_err[:300]))
    rc, tty_err = run_pty([CTL, "-e", srv.url, "backup", "--force", os.path.join(tmp, "p.db")])
    tty_err = tty_err.decode(errors="replace")
    t.check("tty: backup draws bytes progress", rc == 0 and "\r" in tty_err and "MB" in tty_err,
            repr(tty_err[:300]))
    rc, tty_err = run_pty([CTL, "-e", srv.url, "export", "-q", "-o", pfile])
    t.eq("tty: -q prints nothing", (0, b""), (rc, tty_err))

    # ---- GET /backup directly --------------------------------------------------------------------
    st, h, body = srv.http("GET", "/backup")
    t.eq("GET /backup: 200 application/vnd.sqlite3", (200, "application/vnd.sqlite3"),
         (st, h.get("Content-Type")))
    t.eq("GET /backup: size header matches", int(h.get("Redcar-Backup-Size", -1)), len(body))
    t.check("GET /backup: an SQLite file", body[:16] == b"SQLite format 3\x00")
    st, h, _ = srv.http("POST", "/backup", b"{}", {"Content-Type": "application/json"})
    t.eq("POST /backup: 405", 405, st)
    leftovers = [f for f in os.listdir(srv.dir) if f.startswith(".backup-")]
    t.eq("no temporary files left in the data dir", [], leftovers)
    # two at once: one is refused with 503 while the other copies/streams
    results = []

    def grab():
        results.append(srv.http("GET", "/backup")[0])
    ths = [threading.Thread(target=grab) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    t.check("concurrent backups: each 200 or 503, at least one 200",
            set(results) <= {200, 503} and 200 in results, results)

    # ---- requirepass -----------------------------------------------------------------------------
    sec = Redcar("--requirepass", "s3cret")
    servers.append(sec)
    st, _, _ = sec.http("GET", "/backup")
    t.eq("requirepass: GET /backup without token is 401", 401, st)
    st, _, _ = sec.http("GET", "/backup", headers={"Authorization": "Bearer wrong"})
    t.eq("requirepass: wrong token is 401", 401, st)
    rc, out, err = ctl(sec, "backup", os.path.join(tmp, "sec.db"))
    t.check("requirepass: ctl without REDCAR_PASSWORD fails (4)", rc == 4, repr((rc, err)))
    rc, out, err = ctl(sec, "backup", os.path.join(tmp, "sec.db"),
                       env={"REDCAR_PASSWORD": "s3cret"})
    t.eq("requirepass: ctl with REDCAR_PASSWORD works", 0, rc)
finally:
    for s in servers:
        s.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
