# SPDX-License-Identifier: Apache-2.0
"""Soak: thousands of connections over both doors for a while, then check
that the server gave everything back and that the log is consistent.

One Python process (asyncio streams) drives the real redcar on loopback:

  rolling load   REDCAR_SOAK_CONC clients at any moment, each one connection
                 doing a few operations of one kind and then leaving (a tenth
                 of them abruptly, some with a request or writes in flight):
                 HTTP single appends, HTTP batches, HTTP reads (list, by seq,
                 KV, health), SSE live streams, RESP SET/GET, RESP PUBLISH,
                 RESP SUBSCRIBE, and clients that send half a request and go.
  peak waves     every REDCAR_SOAK_PEAK_EVERY seconds REDCAR_SOAK_PEAK more
                 connections (half per door) open at once on top of it, each
                 answers one request, all are held, then all close.

Warm-up runs the same shape (rolling load and one peak wave) so that the
allocator's high-water mark and SQLite's caches are reached before the
baseline is taken: baseline = RSS and open fds with no client connected,
after a settle period. After the load, with all clients gone and another
settle period:

  fds  the same multiset as at baseline (sockets, pipes, eventfds, files),
       except that a pooled read connection may have opened its -wal file
       since (SQLite opens the WAL on a connection's first read).
  RSS  <= baseline + slack + cache growth, where slack = max(16 MB, 20 % of
       baseline) covers malloc arena fragmentation (several HTTP threads,
       the RESP loop and the writer each allocate) and cache growth =
       min(db growth, 64 MB) + min(db growth, 8 x 2 MB): the writer's page
       cache is PRAGMA cache_size=-65536 and each of the 8 pooled readers
       has SQLite's default 2 MB; a page cache only holds pages of the
       database, so it cannot grow by more than the database did. A leak
       of a few hundred bytes per connection or per request over tens of
       thousands of them exceeds this in the long version.
  log  seqs gapless from 1 to the head, (source, id) unique, every acknowledged
       HTTP append at its acknowledged seq, every acknowledged RESP SET and
       PUBLISH present exactly once, every in-doubt append at most once;
       every SSE stream saw consecutive seqs; every RESP subscriber saw only
       stored messages of its channel, in log order.
  and  no unexpected error on any client, the server still serves, and it
       stops cleanly on SIGTERM.

Prints throughput and p50/p99/p999 latency per operation kind and the tally.
Env: REDCAR_SOAK_SECONDS (load, default 35), REDCAR_SOAK_WARMUP (6),
REDCAR_SOAK_CONC (200), REDCAR_SOAK_PEAK (1500), REDCAR_SOAK_PEAK_EVERY (15),
REDCAR_SOAK_MIN_CONNS (2000), REDCAR_SOAK_FSYNC (normal), REDCAR_SOAK_SEED.
"""
import asyncio
import collections
import json
import os
import random
import resource
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

ENV = os.environ.get
SECONDS = float(ENV("REDCAR_SOAK_SECONDS", "35"))
WARMUP = float(ENV("REDCAR_SOAK_WARMUP", "6"))
CONC = int(ENV("REDCAR_SOAK_CONC", "200"))
PEAK = int(ENV("REDCAR_SOAK_PEAK", "1500"))
PEAK_EVERY = float(ENV("REDCAR_SOAK_PEAK_EVERY", "15"))
MIN_CONNS = int(ENV("REDCAR_SOAK_MIN_CONNS", "2000"))
FSYNC = ENV("REDCAR_SOAK_FSYNC", "normal")
SEED = int(ENV("REDCAR_SOAK_SEED", str(int(time.time()))))
OP_TIMEOUT = 30.0
CHANNELS = 8
MB = 1024 * 1024

t = Tally()


class Redcar(Redcar):  # noqa: F811
    """rcserver's Redcar, but a start that fails stops the process it spawned
    (otherwise it outlives the test, holding the CTest pipe open)."""

    def start(self):
        try:
            super().start()
        except Exception:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            raise
rnd = random.Random(SEED)


class ClientError(Exception):
    """An answer the client did not expect (counted, never fatal to the run)."""


# ---- records -------------------------------------------------------------------------

class Records:
    def __init__(self):
        self.lat = collections.defaultdict(list)      # kind -> [seconds]
        self.http_acked = {}                          # (source, id) -> seq
        self.http_doubt = set()                       # (source, id) sent, answer not read
        self.set_acked = set()                        # (key, value)
        self.set_doubt = set()
        self.pub_acked = set()                        # (channel, message)
        self.pub_doubt = set()
        self.sse_runs = []                            # [seq, ...] per stream
        self.sub_runs = []                            # (channel, [message, ...]) per subscriber
        self.errors = collections.Counter()
        self.error_samples = []
        self.conns = collections.Counter()            # door -> connections opened
        self.aborted = 0
        self.n = 0
        self.head = 0                                 # highest acknowledged seq
        self.recording = True

    def uid(self):
        self.n += 1
        return self.n

    def time(self, kind, dt):
        if self.recording:
            self.lat[kind].append(dt)

    def error(self, kind, what):
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append("%s: %s" % (kind, what))


R = Records()


# ---- wire helpers ----------------------------------------------------------------------

class Conn:
    """One connection; counts itself, never leaks its socket."""

    def __init__(self, srv, door):
        self.srv, self.door = srv, door
        self.r = self.w = None

    async def __aenter__(self):
        port = self.srv.http_port if self.door == "http" else self.srv.resp_port
        t0 = time.perf_counter()
        self.r, self.w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), OP_TIMEOUT)
        R.time(self.door + ".connect", time.perf_counter() - t0)
        R.conns[self.door] += 1
        return self

    async def __aexit__(self, *exc):
        self.abort()
        return False

    def abort(self):
        if self.w is not None:
            try:
                self.w.transport.abort()  # at once, unread answers and all (an abrupt disconnect)
            except Exception:
                pass
            self.w = None


async def http_read_answer(r):
    line = await r.readline()
    if not line:
        raise ClientError("connection closed before the status line")
    parts = line.split(b" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = await r.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await r.readline()).split(b";")[0], 16)
            if size == 0:
                await r.readline()
                break
            body += await r.readexactly(size)
            await r.readline()
    else:
        body = await r.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def http_bytes(method, path, body=b"", ctype=None):
    h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    if ctype:
        h += "Content-Type: %s\r\n" % ctype
    if body or method in ("POST", "PUT"):
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"\r\n" + body


async def http(c, kind, method, path, body=b"", ctype=None, ok=(200,)):
    t0 = time.perf_counter()
    c.w.write(http_bytes(method, path, body, ctype))
    status, headers, rbody = await asyncio.wait_for(http_read_answer(c.r), OP_TIMEOUT)
    R.time(kind, time.perf_counter() - t0)
    if status not in ok:
        raise ClientError("%s %s -> %d %r" % (method, path, status, rbody[:120]))
    return rbody


def resp_bytes(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


async def resp_read(r):
    line = await r.readline()
    if not line:
        raise ClientError("connection closed")
    tag, rest = line[:1], line[1:-2]
    if tag in (b"+", b":"):
        return rest
    if tag == b"-":
        raise ClientError(rest.decode(errors="replace"))
    if tag == b"$":
        n = int(rest)
        if n < 0:
            return None
        return (await r.readexactly(n + 2))[:-2]
    if tag in (b"*", b">"):
        n = int(rest)
        return [await resp_read(r) for _ in range(max(n, 0))]
    raise ClientError("unexpected reply %r" % line[:60])


async def resp(c, kind, *args):
    t0 = time.perf_counter()
    c.w.write(resp_bytes(*args))
    v = await asyncio.wait_for(resp_read(c.r), OP_TIMEOUT)
    R.time(kind, time.perf_counter() - t0)
    return v


# ---- client kinds ----------------------------------------------------------------------

def event(source, eid, size):
    return {"specversion": "1.0", "id": eid, "source": source, "type": "soak.event",
            "data": {"pad": "p" * size}}


async def k_http_append(srv):
    src = "/soak/h%d" % R.uid()
    async with Conn(srv, "http") as c:
        for i in range(rnd.randint(2, 8)):
            key = (src, "e%d" % i)
            body = json.dumps(event(src, key[1], rnd.choice([16, 64, 400]))).encode()
            if rnd.random() < 0.03:  # send, then leave without the answer: in doubt
                c.w.write(http_bytes("POST", "/events", body, "application/cloudevents+json"))
                await c.w.drain()
                R.http_doubt.add(key)
                R.aborted += 1
                return
            ans = json.loads(await http(c, "http.append", "POST", "/events", body,
                                        "application/cloudevents+json", ok=(201,)))
            R.http_acked[key] = ans["seq"]
            R.head = max(R.head, ans["seq"])


async def k_http_batch(srv):
    src = "/soak/b%d" % R.uid()
    async with Conn(srv, "http") as c:
        for j in range(rnd.randint(1, 3)):
            evs = [event(src, "b%d-%d" % (j, i), 32) for i in range(rnd.randint(2, 20))]
            ans = json.loads(await http(c, "http.batch", "POST", "/events", json.dumps(evs).encode(),
                                        "application/cloudevents-batch+json", ok=(201,)))
            if len(ans["items"]) != len(evs):
                raise ClientError("batch of %d answered %d items" % (len(evs), len(ans["items"])))
            for e, it in zip(evs, ans["items"]):
                R.http_acked[(src, e["id"])] = it["seq"]
                R.head = max(R.head, it["seq"])


async def k_http_read(srv):
    async with Conn(srv, "http") as c:
        for _ in range(rnd.randint(2, 6)):
            head = R.head
            what = rnd.random()
            if what < 0.4:
                body = await http(c, "http.list", "GET", "/events?after=%d&limit=20"
                                  % rnd.randint(0, max(head - 20, 0)))
                seqs = [e["seq"] for e in json.loads(body)]
                if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
                    raise ClientError("list not in seq order: %r" % seqs[:10])
            elif what < 0.7 and head:
                await http(c, "http.get", "GET", "/events/%d" % rnd.randint(1, head))
            elif what < 0.85:
                await http(c, "http.kv", "GET", "/kv/k%d" % rnd.randint(0, 99), ok=(200, 404))
            else:
                await http(c, "http.health", "GET", "/health")


async def k_sse(srv):
    async with Conn(srv, "http") as c:
        t0 = time.perf_counter()
        c.w.write(http_bytes("GET", "/events/stream"))
        line = await asyncio.wait_for(c.r.readline(), OP_TIMEOUT)
        if b" 200 " not in line:
            raise ClientError("SSE answered %r" % line)
        while (await asyncio.wait_for(c.r.readline(), OP_TIMEOUT)) not in (b"\r\n", b""):
            pass
        R.time("sse.open", time.perf_counter() - t0)
        seqs = []
        until = time.time() + rnd.uniform(0.5, 3)
        buf = b""

        async def chunk():  # the stream is chunked: undo it before looking at lines
            size = int((await c.r.readline()).split(b";")[0], 16)
            data = await c.r.readexactly(size + 2)
            if size == 0:
                raise ClientError("SSE stream ended by the server")
            return data[:-2]
        while time.time() < until:
            try:
                buf += await asyncio.wait_for(chunk(), max(0.01, until - time.time()))
            except asyncio.TimeoutError:
                break
            while b"\n" in buf:
                ln, buf = buf.split(b"\n", 1)
                if ln.startswith(b"id: "):
                    seqs.append(int(ln[4:]))
        R.sse_runs.append(seqs)


async def k_resp_kv(srv):
    async with Conn(srv, "resp") as c:
        for i in range(rnd.randint(2, 10)):
            key = "k%d" % rnd.randint(0, 99)
            val = "v%d" % R.uid()
            if rnd.random() < 0.05:  # pipelined writes in flight, then gone
                n = rnd.randint(2, 20)
                vals = ["v%d" % R.uid() for _ in range(n)]
                c.w.write(b"".join(resp_bytes("SET", key, v) for v in vals))
                await c.w.drain()
                R.set_doubt.update((key, v) for v in vals)
                R.aborted += 1
                return
            if rnd.random() < 0.7:
                if await resp(c, "resp.set", "SET", key, val) != b"OK":
                    raise ClientError("SET not OK")
                R.set_acked.add((key, val))
            else:
                await resp(c, "resp.get", "GET", key)


async def k_resp_pub(srv):
    async with Conn(srv, "resp") as c:
        for i in range(rnd.randint(2, 8)):
            ch = "soak.ch%d" % rnd.randint(0, CHANNELS - 1)
            msg = "m%d" % R.uid()
            await resp(c, "resp.publish", "PUBLISH", ch, msg)
            R.pub_acked.add((ch, msg))


async def k_resp_sub(srv):
    ch = "soak.ch%d" % rnd.randint(0, CHANNELS - 1)
    async with Conn(srv, "resp") as c:
        got = await resp(c, "resp.subscribe", "SUBSCRIBE", ch)
        if not isinstance(got, list) or got[0] != b"subscribe":
            raise ClientError("SUBSCRIBE answered %r" % got)
        msgs = []
        until = time.time() + rnd.uniform(0.5, 3)
        while time.time() < until:
            try:
                m = await asyncio.wait_for(resp_read(c.r), max(0.01, until - time.time()))
            except asyncio.TimeoutError:
                break
            if not (isinstance(m, list) and m[0] == b"message" and m[1] == ch.encode()):
                raise ClientError("subscriber got %r" % m)
            msgs.append(m[2].decode())
        R.sub_runs.append((ch, msgs))
        if rnd.random() < 0.5:
            await resp(c, "resp.unsubscribe", "UNSUBSCRIBE")  # else: just gone, still subscribed


async def k_half(srv):
    """Half a request, then gone."""
    door = rnd.choice(["http", "resp"])
    async with Conn(srv, door) as c:
        if door == "http":
            c.w.write(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n"
                      b"Content-Length: 300\r\n\r\n{\"specversion\":")
        else:
            c.w.write(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$100\r\nzz")
        await c.w.drain()
        R.aborted += 1


KINDS = [(k_http_append, 22), (k_http_batch, 6), (k_http_read, 14), (k_sse, 5),
         (k_resp_kv, 25), (k_resp_pub, 10), (k_resp_sub, 8), (k_half, 4)]
KIND_FNS = [k for k, _ in KINDS]
KIND_W = [w for _, w in KINDS]


async def one_client(srv):
    fn = rnd.choices(KIND_FNS, KIND_W)[0]
    try:
        await fn(srv)
    except (ClientError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
        R.error(fn.__name__, repr(e))


async def peak_wave(srv, n, hold):
    """n connections at once, each answers one request, all held, then all closed."""
    gate = asyncio.Event()
    opened = []

    async def one(i):
        door = "http" if i % 2 else "resp"
        try:
            async with Conn(srv, door) as c:
                if door == "http":
                    await http(c, "peak.http", "GET", "/health")
                else:
                    if await resp(c, "peak.resp", "PING") != b"PONG":
                        raise ClientError("PING")
                opened.append(i)
                await gate.wait()
        except (ClientError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            R.error("peak_wave", repr(e))

    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    deadline = time.time() + 60
    while len(opened) + R.errors["peak_wave"] < n and time.time() < deadline and \
            not all(x.done() for x in tasks):
        await asyncio.sleep(0.05)
    held = len(opened)
    fds = fd_count(srv)
    await asyncio.sleep(hold)
    gate.set()
    await asyncio.gather(*tasks)
    return held, fds


async def load(srv, seconds, peaks):
    stop_at = time.time() + seconds
    peak_stats = []

    async def worker():
        while time.time() < stop_at:
            await one_client(srv)

    async def peaker():
        nxt = time.time() + min(3.0, PEAK_EVERY)
        while time.time() < stop_at and len(peak_stats) < peaks:
            await asyncio.sleep(max(0, nxt - time.time()))
            if time.time() >= stop_at - 5:  # a wave takes a few seconds: not at the very end
                break
            peak_stats.append(await peak_wave(srv, PEAK, 1.0))
            nxt += PEAK_EVERY

    await asyncio.gather(peaker(), *[worker() for _ in range(CONC)])
    return peak_stats


# ---- the server's resources ----------------------------------------------------------------

def rss_kb(srv):
    with open("/proc/%d/status" % srv.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_kinds(srv):
    out = collections.Counter()
    d = "/proc/%d/fd" % srv.proc.pid
    for f in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, f))
        except OSError:
            continue
        for p in ("socket:", "pipe:"):
            if target.startswith(p):
                target = p[:-1]
        out[target] += 1
    return out


def fd_count(srv):
    return len(os.listdir("/proc/%d/fd" % srv.proc.pid))


def sanitized(srv):
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        maps = f.read()
    return "libasan" in maps or "libtsan" in maps


def db_bytes(srv):
    n = 0
    for suf in ("", "-wal"):
        try:
            n += os.path.getsize(os.path.join(srv.dir, "redcar.db" + suf))
        except OSError:
            pass
    return n


def open_conns(srv):
    """The server's sockets that are not listening ones (TCP state 0A)."""
    listening = set()
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (srv.proc.pid, name)) as f:
                for line in list(f)[1:]:
                    col = line.split()
                    if col[3] == "0A":
                        listening.add(col[9])
        except OSError:
            pass
    d = "/proc/%d/fd" % srv.proc.pid
    n = 0
    for f in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, f))
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] not in listening:
            n += 1
    return n


T0 = time.time()


def phase(what):
    print("# [%6.1fs] %s" % (time.time() - T0, what), flush=True)


async def settle(srv, seconds=30):
    """Wait until the server has closed every connection the clients closed,
    then 1 s more. Two kinds take a while, hence the short settings: an SSE
    stream parked with nothing to send notices only when a heartbeat write
    fails (up to 2 x --sse-heartbeat), and an HTTP client that sent part of a
    request and closed at once can sit in CLOSE_WAIT until --http-timeout
    (libmicrohttpd 0.9.75's epoll mode misses a FIN that arrives with data)."""
    deadline = time.time() + seconds
    while time.time() < deadline and open_conns(srv):
        await asyncio.sleep(0.25)
    left = open_conns(srv)
    await asyncio.sleep(1)
    return left


# ---- the log ---------------------------------------------------------------------------

async def read_log(srv):
    events = []
    async with Conn(srv, "http") as c:
        after = 0
        while True:
            page = json.loads(await http(c, "verify.list", "GET", "/events?after=%d&limit=10000" % after))
            if not page:
                break
            events.extend(page)
            after = page[-1]["seq"]
    return events


def check_log(events):
    seqs = [e["seq"] for e in events]
    t.check("log: seqs are gapless 1..head (%d events)" % len(seqs), seqs == list(range(1, len(seqs) + 1)),
            "first mismatch at %r" % next((i for i, s in enumerate(seqs) if s != i + 1), None))
    keys = collections.Counter((e["source"], e["id"]) for e in events)
    dups = [k for k, n in keys.items() if n > 1]
    t.check("log: (source, id) unique", not dups, dups[:5])
    by_seq = {e["seq"]: e for e in events}
    wrong = [(k, s) for k, s in R.http_acked.items()
             if s not in by_seq or (by_seq[s]["source"], by_seq[s]["id"]) != k]
    t.check("log: every acknowledged HTTP append (%d) is at its acknowledged seq" % len(R.http_acked),
            not wrong, wrong[:5])
    doubt = [k for k in R.http_doubt if keys.get(k, 0) > 1]
    t.check("log: in-doubt HTTP appends (%d) are stored at most once (%d stored)"
            % (len(R.http_doubt), sum(1 for k in R.http_doubt if k in keys)), not doubt, doubt[:5])
    puts = collections.Counter((e.get("subject"), e.get("data")) for e in events
                               if e["type"] == "io.redcar.kv.put")
    miss = [k for k in R.set_acked if puts.get(k, 0) != 1]
    t.check("log: every acknowledged RESP SET (%d) is stored exactly once" % len(R.set_acked), not miss,
            [(k, puts.get(k, 0)) for k in miss[:5]])
    miss = [k for k in R.set_doubt if puts.get(k, 0) > 1]
    t.check("log: in-doubt RESP SETs (%d) are stored at most once (%d stored)"
            % (len(R.set_doubt), sum(1 for k in R.set_doubt if k in puts)), not miss, miss[:5])
    msgs = {}
    mcount = collections.Counter()
    for e in events:
        if e["type"] == "io.redcar.message":
            msgs[(e.get("subject"), e.get("data"))] = e["seq"]
            mcount[(e.get("subject"), e.get("data"))] += 1
    miss = [k for k in R.pub_acked if mcount.get(k, 0) != 1]
    t.check("log: every acknowledged PUBLISH (%d) is stored exactly once" % len(R.pub_acked), not miss, miss[:5])
    # live streams: consecutive seqs, each one a stored event
    bad = [s[:8] for s in R.sse_runs if s and (s != list(range(s[0], s[0] + len(s))) or s[-1] > len(seqs))]
    t.check("SSE: each of %d streams saw consecutive seqs (%d events)"
            % (len(R.sse_runs), sum(map(len, R.sse_runs))), not bad, bad[:3])
    bad = []
    for ch, got in R.sub_runs:
        order = [msgs.get((ch, m)) for m in got]
        if None in order or order != sorted(order):
            bad.append((ch, got[:5], order[:5]))
    t.check("RESP subscribers: each of %d saw only stored messages of its channel, in log order (%d messages)"
            % (len(R.sub_runs), sum(len(g) for _, g in R.sub_runs)), not bad, bad[:3])


# ---- figures ---------------------------------------------------------------------------

def pct(sorted_v, p):
    if not sorted_v:
        return float("nan")
    return sorted_v[min(len(sorted_v) - 1, int(p * len(sorted_v)))]


def figures(elapsed):
    print("# %-18s %9s %9s %9s %9s %9s %9s" % ("operation", "count", "ops/s", "p50 ms", "p99 ms", "p999 ms", "max ms"))
    total = 0
    for kind in sorted(R.lat):
        v = sorted(R.lat[kind])
        total += len(v)
        print("# %-18s %9d %9.0f %9.2f %9.2f %9.2f %9.2f" % (kind, len(v), len(v) / elapsed,
              pct(v, .5) * 1e3, pct(v, .99) * 1e3, pct(v, .999) * 1e3, v[-1] * 1e3))
    print("# all operations: %d in %.1fs = %.0f ops/s; connections: %d HTTP + %d RESP = %.0f/s"
          % (total, elapsed, total / elapsed, R.conns["http"], R.conns["resp"],
             (R.conns["http"] + R.conns["resp"]) / elapsed))


# ---- main ------------------------------------------------------------------------------

async def run(srv):
    # warm-up: the same shape as the load, not measured
    R.recording = False
    await load(srv, WARMUP, peaks=1)
    phase("warm-up done, settling")
    left = await settle(srv)
    t.check("warm-up: the server closed every connection (%d left)" % left, left == 0)
    base_fds = fd_kinds(srv)
    base_rss = rss_kb(srv)
    base_db = db_bytes(srv)
    print("# baseline after %.0fs warm-up: RSS %d kB, %d fds %s, db %.1f MB"
          % (WARMUP, base_rss, sum(base_fds.values()), dict(base_fds.most_common(6)), base_db / MB))
    warm = sum(R.conns.values())
    for k in R.conns:
        R.conns[k] = 0
    R.recording = True

    # the load
    t0 = time.time()
    rss_samples = []

    async def sampler():
        while not done:
            rss_samples.append(rss_kb(srv))
            await asyncio.sleep(1)
    done = False
    samp = asyncio.ensure_future(sampler())
    peaks = await load(srv, SECONDS, peaks=10 ** 9)
    elapsed = time.time() - t0
    done = True
    await samp

    # quiet again
    phase("load done, settling")
    left = await settle(srv)
    phase("settled")
    t.check("load: the server closed every connection (%d left)" % left, left == 0)
    end_fds = fd_kinds(srv)
    end_rss = rss_kb(srv)
    growth = max(0, db_bytes(srv) - base_db)
    slack = max(16 * MB, base_rss * 1024 // 5)
    allow = slack + min(growth, 64 * MB) + min(growth, 8 * 2 * MB)
    conns = sum(R.conns.values())
    print("# warm-up connections %d; load connections %d over %.1fs; aborted mid-request %d"
          % (warm, conns, elapsed, R.aborted))
    for held, fds in peaks:
        print("# peak wave: %d connections held at once, server fds %d" % (held, fds))
    print("# RSS: baseline %d kB, max under load %d kB, after %d kB; db grew %.1f MB; bound %d kB "
          "(slack %d + cache growth %d)" % (base_rss, max(rss_samples or [0]), end_rss, growth / MB,
                                            base_rss + allow // 1024, slack // 1024, (allow - slack) // 1024))

    t.check("load: at least %d connections (%d)" % (MIN_CONNS, conns), conns >= MIN_CONNS)
    t.check("load: every peak wave held %d connections at once" % PEAK,
            peaks and all(h == PEAK for h, _ in peaks), peaks)
    t.check("load: no unexpected client error (%d)" % sum(R.errors.values()), not R.errors,
            "%r %r" % (dict(R.errors), R.error_samples[:10]))
    diff_plus = end_fds - base_fds
    diff_minus = base_fds - end_fds
    extra_wal = diff_plus.pop(os.path.join(srv.dir, "redcar.db-wal"), 0)
    readers = base_fds.get(os.path.join(srv.dir, "redcar.db"), 0)
    t.check("fds: back to the baseline (%d; %d pooled -wal opened since)" % (sum(end_fds.values()), extra_wal),
            not diff_plus and not diff_minus and end_fds.get(os.path.join(srv.dir, "redcar.db-wal"), 0) <= readers,
            "more %r fewer %r" % (dict(diff_plus), dict(diff_minus)))
    if rss_samples:
        step = max(1, len(rss_samples) // 10)
        print("# RSS under load, every %ds (kB): %s" % (step, " ".join(str(v) for v in rss_samples[::step])))
    if sanitized(srv):
        print("# RSS check skipped: the server runs under a sanitizer (its quarantine holds freed "
              "memory); LeakSanitizer reports at exit instead")
    else:
        t.check("RSS: %d kB <= baseline %d kB + %d kB" % (end_rss, base_rss, allow // 1024),
                end_rss * 1024 <= base_rss * 1024 + allow)
    check_log(await read_log(srv))
    phase("log checked")
    async with Conn(srv, "resp") as c:
        pong = await resp(c, "verify.ping", "PING")
    async with Conn(srv, "http") as c:
        await http(c, "verify.health", "GET", "/health")
    t.check("server still serves both doors", pong == b"PONG")
    R.recording = False
    figures(elapsed)


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * (CONC + PEAK) + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 2 * (CONC + PEAK) + 64:
        print("# open files limit %d is too low for CONC+PEAK=%d" % (want, CONC + PEAK))
        t.check("open files limit", False)
        t.finish()
    print("# soak: %.0fs load, %d concurrent clients, peaks of %d every %.0fs, fsync %s, seed %d"
          % (SECONDS, CONC, PEAK, PEAK_EVERY, FSYNC, SEED))
    srv = Redcar("--fsync", FSYNC, "--maxclients", str(max(10000, 2 * (CONC + PEAK))), "--sse-heartbeat", "1s",
                 "--http-timeout", "5s")
    try:
        asyncio.run(run(srv))
        log = open(srv.log).read()
        bad = [ln for ln in log.splitlines() if " ERROR " in ln or "AddressSanitizer" in ln or "runtime error" in ln]
        t.check("server log has no ERROR lines", not bad, bad[:5])
        srv.proc.send_signal(signal.SIGTERM)
        try:
            rc = srv.proc.wait(timeout=30)
        except Exception:
            rc = "timeout"
        t.eq("server stops cleanly on SIGTERM", 0, rc)
    finally:
        srv.close()
    t.finish()


if __name__ == "__main__":
    main()
