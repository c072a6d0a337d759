# SPDX-License-Identifier: Apache-2.0
"""Nothing acknowledged is lost: SIGKILL the real redcar at random moments
while clients append over both doors, restart it on the same data directory
and check the log and the KV view against what the clients were told.

Clients (one thread each): HTTP single structured events, HTTP batches,
RESP SET/DEL of their own keys, RESP MULTI/EXEC of several SETs. Every
operation a client sends is retried (same source+id for HTTP; same keys,
a new value per attempt for RESP) until it is acknowledged, so at any kill
each client has at most one "in doubt" operation.

After each kill, before the restart: PRAGMA integrity_check on a read-only
connection, and the stored head. After the restart (clients paused):
  - head unchanged by the restart, seqs gapless 1..head, (source, id) unique;
  - every acknowledged HTTP event is stored exactly once, at the acked seq;
  - batches and MULTI/EXEC attempts are all-or-nothing, even unacknowledged;
  - every RESP key holds what its last acknowledged write said (or, while a
    write is in doubt, either state);
  - GET /kv (value and mod_seq) equals a replay of the log's
    io.redcar.kv.put/delete events;
  - re-sending acknowledged events answers 200 duplicate with the same seq.
Both fsync modes run (each must survive a process kill).
Env: REDCAR_CRASH_CYCLES (kill cycles per fsync mode, default 13)."""
import http.client
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import redis

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Tally  # noqa: E402

CYCLES = int(os.environ.get("REDCAR_CRASH_CYCLES", "13"))
SEED = int(os.environ.get("REDCAR_CRASH_SEED", str(int(time.time()))))
t = Tally()
stats = {"kills": 0, "events_checked": 0, "acked_http": 0, "acked_resp": 0, "retries": 0,
         "retried_dup": 0, "resent_dup": 0, "head": 0}


class NotAcked(Exception):
    """The server answered, but not with an acknowledgement (kept for the report)."""


class Server:
    """The redcar process under test; restarted on the same data directory."""

    def __init__(self, fsync):
        self.bin = os.environ["REDCAR_BIN"]
        self.tmp = tempfile.mkdtemp(prefix="redcar-crash.")
        self.dir = os.path.join(self.tmp, "data")
        self.fsync = fsync
        self.proc = None
        self.gen = 0
        self.starts = 0

    def start(self):
        self.starts += 1
        self.log = os.path.join(self.tmp, "redcar.%d.log" % self.starts)
        open(self.log, "w").close()
        self.proc = subprocess.Popen([self.bin, "-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", self.dir,
                                      "-o", self.log, "--fsync", self.fsync])
        deadline = time.time() + 20
        text = ""
        while time.time() < deadline:
            text = open(self.log).read()
            if "ready" in text:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("redcar exited on restart %d:\n%s" % (self.starts, text))
            time.sleep(0.02)
        else:
            raise RuntimeError("redcar not ready:\n" + text)
        self.http_port = int(re.findall(r"http: listening on 127\.0\.0\.1:(\d+)", text)[-1])
        self.resp_port = int(re.findall(r"resp: listening on 127\.0\.0\.1:(\d+)", text)[-1])
        self.gen += 1

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def close(self):
        self.kill(signal.SIGTERM)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def request(self, method, path, body=None, ctype=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            headers = {"Content-Type": ctype} if ctype else {}
            c.request(method, path, body=body, headers=headers)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()


class Gate:
    """Clients run only while open; the supervisor closes it, kills the
    server and waits until every client is back at the gate."""

    def __init__(self):
        self.cond = threading.Condition()
        self.open = False
        self.stop = False
        self.busy = 0

    def enter(self):
        with self.cond:
            while not self.open and not self.stop:
                self.cond.wait()
            if self.stop:
                return False
            self.busy += 1
            return True

    def leave(self):
        with self.cond:
            self.busy -= 1
            self.cond.notify_all()

    def set(self, is_open, stop=False):
        with self.cond:
            self.open = is_open
            self.stop = stop
            self.cond.notify_all()

    def drain(self, timeout=30):
        deadline = time.time() + timeout
        with self.cond:
            while self.busy and time.time() < deadline:
                self.cond.wait(0.1)
            return self.busy == 0


class Client(threading.Thread):
    """One client: keeps one operation pending until it is acknowledged."""

    def __init__(self, name, srv, gate, rnd):
        super().__init__(daemon=True)
        self.name, self.srv, self.gate, self.rnd = name, srv, gate, rnd
        self.pending = None     # the operation in doubt, retried until acked
        self.attempts = 0       # attempts of the pending operation
        self.unexpected = []    # answers that were neither an ack nor a lost connection
        self.lock = threading.Lock()  # guards the records against the verifier
        self.n = 0

    def run(self):
        while self.gate.enter():
            try:
                with self.lock:
                    if self.pending is None:
                        self.n += 1
                        self.pending = self.new_op()
                        self.attempts = 0
                    op = self.pending
                    self.attempts += 1
                    if self.attempts > 1:
                        stats["retries"] += 1
                try:
                    result = self.send(op)
                except NotAcked as e:
                    with self.lock:
                        self.unexpected.append(str(e))
                    time.sleep(0.05)
                    continue
                except (OSError, http.client.HTTPException, redis.exceptions.ConnectionError,
                        redis.exceptions.TimeoutError):
                    # Lost connection: the op is in doubt until a retry is acked.
                    self.on_lost()
                    time.sleep(0.01)
                    continue
                with self.lock:
                    self.acked(op, result)
                    self.pending = None
            finally:
                self.gate.leave()

    def on_lost(self):
        pass


def ce(source, eid, rnd):
    size = rnd.choice([8, 40, 200, 2000])
    return {"specversion": "1.0", "id": eid, "source": source, "type": "test.crash",
            "data": {"pad": "x" * size}}


class HttpSingle(Client):
    def __init__(self, *a):
        super().__init__(*a)
        self.acks = {}      # (source, id) -> seq
        self.retried = set()
        self.events = {}    # (source, id) -> event json, for re-sending

    def new_op(self):
        return ce("/crash/" + self.name, "e%d" % self.n, self.rnd)

    def send(self, ev):
        st, body = self.srv.request("POST", "/events", json.dumps(ev), "application/cloudevents+json")
        if st not in (200, 201):
            raise NotAcked("%s: HTTP %d %s" % (self.name, st, body[:200]))
        return st, json.loads(body)

    def acked(self, ev, result):
        st, body = result
        k = (ev["source"], ev["id"])
        self.acks[k] = body["seq"]
        self.events[k] = ev
        stats["acked_http"] += 1
        if self.attempts > 1:
            self.retried.add(k)
            if st == 200:
                stats["retried_dup"] += 1
        elif st != 201 or body.get("duplicate"):
            self.unexpected.append("first attempt of %r answered %d %r" % (k, st, body))

    def in_doubt(self):
        return [(self.pending["source"], self.pending["id"])] if self.pending else []


class HttpBatch(Client):
    def __init__(self, *a):
        super().__init__(*a)
        self.acks = {}
        self.batches = []   # (events, seqs) acknowledged
        self.retried = set()

    def new_op(self):
        k = self.rnd.randint(2, 20)
        return [ce("/crash/" + self.name, "b%d.%d" % (self.n, i), self.rnd) for i in range(k)]

    def send(self, evs):
        st, body = self.srv.request("POST", "/events", json.dumps(evs), "application/cloudevents-batch+json")
        if st not in (200, 201):
            raise NotAcked("%s: HTTP %d %s" % (self.name, st, body[:200]))
        return st, json.loads(body)

    def acked(self, evs, result):
        st, body = result
        seqs = [it["seq"] for it in body["items"]]
        dups = {it["duplicate"] for it in body["items"]}
        if len(dups) != 1:
            self.unexpected.append("batch %s partly duplicate: %r" % (evs[0]["id"], body))
        for ev, s in zip(evs, seqs):
            self.acks[(ev["source"], ev["id"])] = s
            if self.attempts > 1:
                self.retried.add((ev["source"], ev["id"]))
        self.batches.append((evs, seqs))
        stats["acked_http"] += len(evs)
        if self.attempts > 1 and st == 200:
            stats["retried_dup"] += 1

    def in_doubt(self):
        return [(e["source"], e["id"]) for e in self.pending] if self.pending else []


class RespClient(Client):
    """SET of fresh keys, DEL of some of them, or MULTI/EXEC of 2-5 SETs.
    Each attempt writes a distinct value so the log shows which attempt
    committed."""

    def __init__(self, *a, multi=False):
        super().__init__(*a)
        self.multi = multi
        self.r = None
        self.r_gen = 0
        self.state = {}       # key -> value (None = deleted), per acknowledged writes
        self.attempts_log = []  # every MULTI attempt: [(key, value), ...]
        self.live = []

    def conn(self):
        if self.r is None or self.r_gen != self.srv.gen:
            self.r = redis.Redis(host="127.0.0.1", port=self.srv.resp_port, socket_timeout=10,
                                 socket_connect_timeout=5, retry_on_timeout=False)
            self.r_gen = self.srv.gen
        return self.r

    def on_lost(self):
        self.r = None

    def new_op(self):
        if self.multi:
            return ("multi", ["%s:m%d.%d" % (self.name, self.n, i) for i in range(self.rnd.randint(2, 5))])
        if self.live and self.rnd.random() < 0.2:
            return ("del", [self.live.pop(self.rnd.randrange(len(self.live)))])
        return ("set", ["%s:k%d" % (self.name, self.n)])

    def value(self, key):
        return "%s@%d" % (key, self.attempts)

    def send(self, op):
        kind, keys = op
        r = self.conn()
        try:
            if kind == "set":
                ok = r.set(keys[0], self.value(keys[0]))
                if ok is not True:
                    raise NotAcked("%s: SET answered %r" % (self.name, ok))
                return [self.value(keys[0])]
            if kind == "del":
                n = r.delete(keys[0])
                if n not in (0, 1):
                    raise NotAcked("%s: DEL answered %r" % (self.name, n))
                return [None]
            vals = [(k, self.value(k)) for k in keys]
            with self.lock:
                self.attempts_log.append(vals)
            p = r.pipeline(transaction=True)
            for k, v in vals:
                p.set(k, v)
            res = p.execute()
            if res != [True] * len(keys):
                raise NotAcked("%s: EXEC answered %r" % (self.name, res))
            return [v for _, v in vals]
        except redis.exceptions.ResponseError as e:
            raise NotAcked("%s: %s %r" % (self.name, kind, e))

    def acked(self, op, result):
        kind, keys = op
        for k, v in zip(keys, result):
            self.state[k] = v
        if kind == "set":
            self.live.append(keys[0])
        stats["acked_resp"] += len(keys)

    def doubt_keys(self):
        """Keys whose state is in doubt, with the values the pending op may have written."""
        if not self.pending:
            return {}
        kind, keys = self.pending
        if kind == "del":
            return {keys[0]: {None}}
        return {k: {"%s@%d" % (k, a) for a in range(1, self.attempts + 1)} for k in keys}


def read_log(srv):
    """The whole log, by paging after=&limit=."""
    out, after = [], 0
    while True:
        st, body = srv.request("GET", "/events?after=%d&limit=10000" % after, timeout=60)
        if st != 200:
            raise RuntimeError("GET /events answered %d %s" % (st, body[:200]))
        page = json.loads(body)
        out.extend(page)
        if len(page) < 10000:
            return out
        after = page[-1]["seq"]


def read_kv(srv):
    """The whole KV view, a page at a time (key= is the inclusive start of the next page)."""
    out, start, page = {}, None, 50000
    while True:
        path = "/kv?limit=%d" % page
        if start is not None:
            path += "&key=" + urllib.parse.quote(start, safe="")
        st, body = srv.request("GET", path, timeout=60)
        if st != 200:
            raise RuntimeError("GET /kv answered %d %s" % (st, body[:200]))
        items = json.loads(body)["items"]
        for it in items:
            out[it["key"]] = (it.get("value"), it.get("mod_seq"))
        if len(items) < page:
            return out
        start = items[-1]["key"]


def offline_check(srv, label):
    """With the server dead: integrity_check on a read-only connection, and the head."""
    db = os.path.join(srv.dir, "redcar.db")
    try:
        con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db), uri=True, timeout=10)
        try:
            ic = con.execute("PRAGMA integrity_check").fetchall()
            head, count = con.execute("SELECT coalesce(max(seq), 0), count(*) FROM events").fetchone()
        finally:
            con.close()
    except sqlite3.Error as e:
        t.check("%s: open read-only after kill" % label, False, repr(e))
        return None
    if ic != [("ok",)]:
        t.check("%s: integrity_check" % label, False, repr(ic[:5]))
    return head, count


def verify(srv, clients, label, pre_head):
    """Server up, clients paused. Returns the number of failures."""
    bad = []
    log = read_log(srv)
    head = log[-1]["seq"] if log else 0
    seqs = [e["seq"] for e in log]
    if seqs != list(range(1, head + 1)):
        missing = sorted(set(range(1, head + 1)) - set(seqs))[:10]
        bad.append("seqs not gapless 1..%d (missing %r, %d rows)" % (head, missing, len(seqs)))
    if pre_head is not None and pre_head != (head, len(log)):
        bad.append("restart changed the log: offline (head, count) %r, online (%d, %d)" %
                   (pre_head, head, len(log)))
    where = {}
    for e in log:
        where.setdefault((e["source"], e["id"]), []).append(e["seq"])
    dup = [k for k, v in where.items() if len(v) > 1]
    if dup:
        bad.append("(source, id) stored more than once: %r" % dup[:5])

    checked = 0
    for c in clients:
        with c.lock:
            if isinstance(c, (HttpSingle, HttpBatch)):
                for k, s in c.acks.items():
                    checked += 1
                    if where.get(k) != [s]:
                        bad.append("acked %r at seq %d, stored at %r" % (k, s, where.get(k)))
                doubt = c.in_doubt()
                n = sum(1 for k in doubt if k in where)
                if n not in (0, len(doubt)):
                    bad.append("in-doubt batch partly stored: %d of %d" % (n, len(doubt)))
            if isinstance(c, RespClient):
                c.attempts_snapshot = list(c.attempts_log)
    # Replay the log's KV events.
    replay, puts = {}, set()
    for e in log:
        if e["type"] == "io.redcar.kv.put":
            replay[e["subject"]] = (e.get("data"), e["seq"])
            puts.add((e["subject"], e.get("data")))
        elif e["type"] in ("io.redcar.kv.delete", "io.redcar.kv.expired"):
            replay.pop(e["subject"], None)
        elif e["type"].startswith("io.redcar.kv."):
            bad.append("unexpected kv event type %s" % e["type"])
    kv = read_kv(srv)
    if kv != replay:
        diff = sorted(set(kv.items()) ^ set(replay.items()))[:5]
        bad.append("GET /kv differs from a replay of the log (%d vs %d keys): %r" % (len(kv), len(replay), diff))
    for c in clients:
        if not isinstance(c, RespClient):
            continue
        with c.lock:
            doubt = c.doubt_keys()
            for k, v in c.state.items():
                checked += 1
                ok = {v} | doubt.get(k, set())
                got = kv.get(k, (None,))[0]
                if got not in ok:
                    bad.append("key %s: acked %r, in doubt %r, stored %r" % (k, v, doubt.get(k), got))
            for vals in c.attempts_snapshot:
                n = sum(1 for kv_ in vals if kv_ in puts)
                if n not in (0, len(vals)):
                    bad.append("MULTI/EXEC attempt partly applied: %d of %r" % (n, vals))
    stats["events_checked"] += checked
    stats["head"] = head
    t.check("%s: %d events, %d acked writes verified" % (label, head, checked), not bad, "\n  " + "\n  ".join(bad[:20]))
    return log


def resend(srv, clients, rnd, label):
    """Re-sending acknowledged events answers 200 duplicate with the same seq."""
    bad, n = [], 0
    for c in clients:
        with c.lock:
            if isinstance(c, HttpSingle) and c.events:
                keys = rnd.sample(sorted(c.events), min(3, len(c.events)))
                retried = sorted(c.retried)
                keys += rnd.sample(retried, min(2, len(retried)))
                for k in keys:
                    st, body = srv.request("POST", "/events", json.dumps(c.events[k]), "application/cloudevents+json")
                    doc = json.loads(body) if st < 300 else body
                    n += 1
                    if st != 200 or doc.get("seq") != c.acks[k] or doc.get("duplicate") is not True:
                        bad.append("re-send %r: %d %r (acked seq %d)" % (k, st, doc, c.acks[k]))
            if isinstance(c, HttpBatch) and c.batches:
                for evs, seqs in rnd.sample(c.batches, min(2, len(c.batches))):
                    st, body = srv.request("POST", "/events", json.dumps(evs), "application/cloudevents-batch+json")
                    n += 1
                    doc = json.loads(body) if st < 300 else body
                    if st != 200 or [i["seq"] for i in doc["items"]] != seqs or \
                            not all(i["duplicate"] for i in doc["items"]):
                        bad.append("re-send batch %s: %d %r" % (evs[0]["id"], st, str(doc)[:200]))
    stats["resent_dup"] += n
    t.check("%s: %d re-sent acknowledged requests answered 200 duplicate, same seq" % (label, n), not bad,
            "; ".join(bad[:5]))


def run_mode(fsync, cycles, rnd):
    srv = Server(fsync)
    gate = Gate()
    clients = [HttpSingle("hs1", srv, gate, random.Random(rnd.random())),
               HttpSingle("hs2", srv, gate, random.Random(rnd.random())),
               HttpBatch("hb", srv, gate, random.Random(rnd.random())),
               RespClient("rs", srv, gate, random.Random(rnd.random())),
               RespClient("rm", srv, gate, random.Random(rnd.random()), multi=True)]
    try:
        srv.start()
        for c in clients:
            c.start()
        for cycle in range(1, cycles + 1):
            label = "fsync=%s cycle %d" % (fsync, cycle)
            gate.set(True)
            time.sleep(rnd.uniform(0.05, 1.2))
            gate.set(False)
            srv.kill()  # SIGKILL at a random moment, clients mid-request
            stats["kills"] += 1
            if not gate.drain():
                t.check("%s: clients returned after the kill" % label, False)
                break
            pre = offline_check(srv, label)
            srv.start()
            verify(srv, clients, label, pre)
            resend(srv, clients, rnd, label)
        # Let every in-doubt op get acked, stop cleanly, and verify once more.
        gate.set(True)
        time.sleep(0.3)
        gate.set(False)
        gate.drain()
        srv.kill(signal.SIGTERM)
        pre = offline_check(srv, "fsync=%s final" % fsync)
        srv.start()
        verify(srv, clients, "fsync=%s after clean stop" % fsync, pre)
        unexpected = [u for c in clients for u in c.unexpected]
        t.check("fsync=%s: every answer was an ack or a lost connection" % fsync, not unexpected,
                "; ".join(unexpected[:5]))
    finally:
        gate.set(False, stop=True)
        for c in clients:
            c.join(timeout=15)
        srv.close()


start = time.time()
rnd = random.Random(SEED)
print("# seed %d (REDCAR_CRASH_SEED), %d kill cycles per fsync mode" % (SEED, CYCLES))
for mode in ("always", "normal"):
    run_mode(mode, CYCLES, rnd)
print("# %d SIGKILLs survived, %d acked HTTP events, %d acked RESP writes, %d retries "
      "(%d answered duplicate), %d re-sends, %d acked-write checks, %.1fs" %
      (stats["kills"], stats["acked_http"], stats["acked_resp"], stats["retries"], stats["retried_dup"],
       stats["resent_dup"], stats["events_checked"], time.time() - start))
t.finish()
