# SPDX-License-Identifier: Apache-2.0
"""Every limit, each with a small configured value, against the real redcar.

For each limit the test starts redcar with a small value of the setting,
drives it over raw sockets (so nothing in a client library hides what the
server actually sent), checks the documented behaviour and then checks that
the server still serves other clients on both doors:

  http-max-body                     413 from Content-Length, and while a chunked body streams
  http-max-headers                  431 problem+json past the count (default 100)
  http-max-header-size              431 problem+json past the size (default 8 KB: a 4 KB cookie
                                    and 40 headers pass); far past it MHD's own 431 or a close
  http-timeout                      an idle connection is closed; clients gone mid-request
                                    are released at once (no CLOSE_WAIT)
  http-request-timeout              a slowloris that sends one header (or body) byte per
                                    second is closed at the whole-request deadline
  http-maxclients                   503 problem+json past the cap (maxclients is RESP only)
  proto-max-bulk-len                -ERR Protocol error: invalid bulk length, then closed
  proto-max-multibulk               -ERR Protocol error: invalid multibulk length, then closed
  (inline) 64 KB                    -ERR Protocol error: too big inline request
  client-query-buffer-limit         a client buffering more input than this is closed
  (pipeline) in-flight cap          a deep pipeline is answered completely and in order
  maxclients                        -ERR max number of clients reached (RESP)
  client-output-buffer-limit-pubsub a slow RESP subscriber and a slow SSE stream are cut off
  client-output-buffer-limit-normal a RESP client that pipelines big GETs and never reads is cut off
  timeout                           an idle RESP client is closed (not a subscriber, not an active one)
  max-batch                         413 naming max-batch
  max-event-size                    413 naming max-event-size (single, batch, PUT /kv);
                                    RESP SET/MSET/XADD/PUBLISH -ERR naming it, nothing stored
"""
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from rcserver import Redcar, Tally  # noqa: E402

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


# ---- raw clients ---------------------------------------------------------------------

def connect(port, rcvbuf=None, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:  # before connect, so the window never grows past it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def exchange(port, data, timeout=5, until=None):
    """Send data, read until EOF, timeout or `until` is in the answer.
    Returns (answer bytes, how it ended: 'eof' | 'reset' | 'timeout' | 'until')."""
    s = connect(port, timeout=timeout)
    out = b""
    end = "timeout"
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before it read everything; read what it said
        deadline = time.time() + timeout
        while time.time() < deadline:
            s.settimeout(max(0.05, deadline - time.time()))
            b = s.recv(65536)
            if not b:
                end = "eof"
                break
            out += b
            if until is not None and until in out:
                end = "until"
                break
    except socket.timeout:
        end = "timeout"
    except ConnectionResetError:
        end = "reset"
    finally:
        s.close()
    return out, end


def http_status(answer):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", answer)
    return int(m.group(1)) if m else None


def http_body(answer):
    return answer.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in answer else b""


def http_req(method, path, body=b"", headers=()):
    h = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % (method, path)
    for k, v in headers:
        h += "%s: %s\r\n" % (k, v)
    if body or method in ("POST", "PUT"):
        h += "Content-Length: %d\r\n" % len(body)
    return h.encode() + b"Connection: close\r\n\r\n" + body


def resp_cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_conns(srv):
    """The server's sockets that are not listening ones (TCP state 0A)."""
    listening = set()
    for name in ("tcp", "tcp6"):
        with open("/proc/%d/net/%s" % (srv.proc.pid, name)) as f:
            for line in list(f)[1:]:
                col = line.split()
                if col[3] == "0A":
                    listening.add(col[9])
    n = 0
    d = "/proc/%d/fd" % srv.proc.pid
    for f in os.listdir(d):
        try:
            target = os.readlink(os.path.join(d, f))
        except OSError:
            continue
        n += target.startswith("socket:[") and target[8:-1] not in listening
    return n


def serving(srv, what):
    """The server still answers other clients on both doors."""
    a, _ = exchange(srv.http_port, http_req("GET", "/health"), until=b"}")
    r, _ = exchange(srv.resp_port, b"PING\r\n", until=b"\r\n")
    t.check("%s: server keeps serving (HTTP /health 200, RESP PING)" % what,
            http_status(a) == 200 and r == b"+PONG\r\n", "http %r resp %r" % (a[:40], r[:40]))


def ce(i, size=10, **extra):
    e = {"specversion": "1.0", "id": "lim-%s" % i, "source": "/limits", "type": "t.limit",
         "data": "x" * size}
    e.update(extra)
    return e


# ---- HTTP ----------------------------------------------------------------------------

def test_http_body():
    s = Redcar("--http-max-body", "1kb")
    try:
        small = json.dumps(ce("b-small", 100)).encode()
        a, _ = exchange(s.http_port, http_req("POST", "/events", small,
                                              [("Content-Type", "application/cloudevents+json")]))
        t.eq("http-max-body: a body under the cap is accepted", 201, http_status(a))
        big = json.dumps(ce("b-big", 2000)).encode()
        a, _ = exchange(s.http_port, http_req("POST", "/events", big,
                                              [("Content-Type", "application/cloudevents+json")]))
        t.eq("http-max-body: Content-Length over the cap -> 413", 413, http_status(a))
        t.check("http-max-body: the 413 names http-max-body", b"http-max-body" in http_body(a), a[-200:])
        # chunked: no Content-Length, the cap is enforced while the body streams
        chunk = b"x" * 700
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(4)) + b"0\r\n\r\n"
        req = (b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body)
        a, _ = exchange(s.http_port, req)
        t.eq("http-max-body: a chunked body growing past the cap -> 413", 413, http_status(a))
        # far past the cap (cap + 1 MB of discard slack): cut off, never buffered
        a, end = exchange(s.http_port, b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: "
                          b"application/cloudevents+json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          b"".join(b"10000\r\n" + b"y" * 65536 + b"\r\n" for _ in range(40)), timeout=5)
        t.check("http-max-body: a chunked body far past the cap is answered 413 or cut off",
                http_status(a) == 413 or end in ("eof", "reset"), "%r %s" % (a[:60], end))
        st, _, b = s.http("GET", "/events?limit=10")
        t.check("http-max-body: only the small event was stored",
                st == 200 and [e["id"] for e in json.loads(b)] == ["lim-b-small"], b[:200])
        serving(s, "http-max-body")
    finally:
        s.close()


def problem(answer):
    try:
        return json.loads(http_body(answer))
    except ValueError:
        return {}


def test_http_headers():
    """http-max-headers and http-max-header-size, checked as soon as the
    headers are in (431 problem+json); libmicrohttpd's pool is sized from
    them, so only a header block far past the settings meets MHD's own
    bound (its 431, or a close)."""
    s = Redcar()
    try:
        one = b"x" * 40000
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("X-Big", one.decode())]))
        t.check("headers: one 40 KB header -> 431 (or 400)", http_status(a) in (431, 400), a[:80])
        many = [("X-H%d" % i, "v") for i in range(2000)]
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=many))
        t.check("headers: 2000 headers -> 431 (or 400)", http_status(a) in (431, 400), a[:80])
        a, _ = exchange(s.http_port, http_req("GET", "/" + "u" * 40000))
        t.check("headers: a 40 KB request target -> 414", http_status(a) in (414, 431, 400), a[:80])
        def status(n):
            hs = [("X-%d" % i, "v") for i in range(n)]
            return http_status(exchange(s.http_port, http_req("GET", "/health", headers=hs),
                                        until=b"}")[0])
        # http_req adds Host and Connection: 98 more make the default 100
        t.eq("http-max-headers: 100 header fields (the default cap) pass", 200, status(98))
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("X-%d" % i, "v") for i in range(99)]))
        t.check("http-max-headers: 101 header fields -> 431 problem+json naming http-max-headers",
                http_status(a) == 431 and b"application/problem+json" in a and
                "http-max-headers" in problem(a).get("detail", ""), a[:300])
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("Cookie", "c" * 4096)] +
                                              [("X-Header-%d" % i, "value-%d" % i) for i in range(40)]),
                        until=b"}")
        t.eq("headers: a ~6 KB header block (a 4 KB cookie and 40 headers) is accepted by default",
             200, http_status(a))
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("Cookie", "c" * 8200)]))
        t.check("http-max-header-size: an 8.2 KB cookie (past the 8 KB default) -> 431 problem+json",
                http_status(a) == 431 and "http-max-header-size" in problem(a).get("detail", ""), a[:300])
        serving(s, "headers")
    finally:
        s.close()
    s = Redcar("--http-max-headers", "10", "--http-max-header-size", "20kb")
    try:
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("X-%d" % i, "v") for i in range(8)]),
                        until=b"}")
        t.eq("http-max-headers 10: 10 header fields pass", 200, http_status(a))
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("X-%d" % i, "v") for i in range(9)]))
        t.check("http-max-headers 10: 11 -> 431 problem+json", http_status(a) == 431 and
                "http-max-headers (10)" in problem(a).get("detail", ""), a[:300])
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("Cookie", "c" * 16000)]), until=b"}")
        t.eq("http-max-header-size 20kb: a 16 KB cookie passes", 200, http_status(a))
        a, _ = exchange(s.http_port, http_req("GET", "/health", headers=[("Cookie", "c" * 21000)]))
        t.check("http-max-header-size 20kb: a 21 KB cookie -> 431 problem+json", http_status(a) == 431 and
                "http-max-header-size (20480)" in problem(a).get("detail", ""), a[:300])
        serving(s, "http-max-headers/http-max-header-size")
    finally:
        s.close()


def drip(port, prefix, drip_bytes, max_s, result, key):
    """Send prefix, then one byte of drip_bytes per second; record when the
    server closed the connection (seconds from the first byte), or None."""
    try:
        c = connect(port, timeout=0.2)
    except OSError as e:
        result[key] = "connect: %s" % e
        return
    t0 = time.time()
    closed = None
    try:
        c.sendall(prefix)
        for ch in drip_bytes:
            if time.time() - t0 > max_s:
                break
            try:
                if c.recv(4096) == b"":
                    closed = time.time() - t0
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = time.time() - t0
                break
            try:
                c.send(bytes([ch]))
            except OSError:
                closed = time.time() - t0
                break
            time.sleep(0.8)
    finally:
        c.close()
    result[key] = closed


def test_http_timeouts():
    timeout_s = 2
    request_s = 3
    s = Redcar("--http-timeout", "%ds" % timeout_s, "--http-request-timeout", "%ds" % request_s)
    try:
        res = {}
        max_s = timeout_s * 4
        hdr = threading.Thread(target=drip, args=(s.http_port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                                                    b"a" * 100, max_s, res, "header"))
        body = threading.Thread(target=drip, args=(
            s.http_port, b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/cloudevents+json\r\n"
            b"Content-Length: 1000\r\n\r\n", b"{" + b" " * 999, max_s, res, "body"))
        hdr.start()
        body.start()
        # idle: connect and send nothing
        t0 = time.time()
        a, end = exchange(s.http_port, b"", timeout=timeout_s + 5)
        idle = time.time() - t0
        t.check("http-timeout: an idle connection is closed after about %ds" % timeout_s,
                end in ("eof", "reset") and timeout_s - 0.5 <= idle <= timeout_s + 2.5,
                "%s after %.1fs" % (end, idle))
        # a request left half-sent (no more bytes at all)
        t0 = time.time()
        a, end = exchange(s.http_port, b"GET /health HTTP/1.1\r\nHost: x\r\n", timeout=timeout_s + 5)
        half = time.time() - t0
        t.check("http-timeout: a half-sent request is closed after about %ds" % timeout_s,
                end in ("eof", "reset") and half <= timeout_s + 2.5, "%s after %.1fs" % (end, half))
        hdr.join()
        body.join()
        # clients that send part of a request and close at once (data and FIN
        # in one go): their slots must come back now, not at the timeout
        # (libmicrohttpd's epoll mode misses such a FIN; the door's sweeper
        # finds them, src/http/mhd.c)
        for kind, data in (("half a body", b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n{"),
                           ("headers, no body", b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n"),
                           ("half the headers", b"GET /health HTTP/1.1\r\nHost: x\r\n")):
            for i in range(50):
                c = connect(s.http_port)
                c.sendall(data)
                c.close()
            time.sleep(1)
            left = open_conns(s)
            t.eq("http: 50 clients that sent %s and closed at once are released within 1s (no "
                 "CLOSE_WAIT)" % kind, 0, left)
        for k in ("header", "body"):
            v = res.get(k)
            t.check("http-request-timeout: a slowloris dripping one %s byte per second is closed at "
                    "the %ds deadline" % (k, request_s),
                    isinstance(v, float) and request_s - 0.5 <= v <= request_s + 1.5,
                    "closed after %r s (the drip ran %ds)" % (v, max_s))
        serving(s, "http-timeout")
    finally:
        s.close()


def test_http_maxclients():
    """http-maxclients caps HTTP connections: one past the cap is answered
    503 problem+json (Retry-After) at once instead of waiting in the listen
    backlog; maxclients is RESP's alone."""
    s = Redcar("--http-maxclients", "3", "--maxclients", "1", "--http-threads", "1")
    held = []
    try:
        for i in range(3):
            c = connect(s.http_port)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            got = c.recv(4096)
            held.append(c)
        t.eq("http-maxclients 3 (maxclients 1): a 3rd HTTP connection is served", 200, http_status(got))
        a, end = exchange(s.http_port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
        t.check("http-maxclients: a 4th connection is answered 503 problem+json with Retry-After, "
                "then closed", http_status(a) == 503 and b"Retry-After: 1" in a and
                "http-maxclients" in problem(a).get("detail", "") and end == "eof", (a[:300], end))
        held.pop().close()
        time.sleep(0.3)
        a, _ = exchange(s.http_port, http_req("GET", "/health"), until=b"}")
        t.eq("http-maxclients: served again once a slot frees", 200, http_status(a))
    finally:
        for c in held:
            c.close()
        s.close()


# ---- RESP ----------------------------------------------------------------------------

def test_resp_protocol_limits():
    s = Redcar("--proto-max-bulk-len", "1kb", "--proto-max-multibulk", "8")
    try:
        a, end = exchange(s.resp_port, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n")
        t.eq("proto-max-bulk-len: a 2000-byte bulk over a 1 KB cap",
             b"-ERR Protocol error: invalid bulk length\r\n", a)
        t.check("proto-max-bulk-len: then the connection is closed", end in ("eof", "reset"), end)
        a, end = exchange(s.resp_port, resp_cmd("SET", "k", "v" * 1024), until=b"\r\n")
        t.eq("proto-max-bulk-len: a bulk of exactly the cap is accepted", b"+OK\r\n", a)
        a, end = exchange(s.resp_port, b"*9\r\n")
        t.eq("proto-max-multibulk: 9 arguments over a cap of 8",
             b"-ERR Protocol error: invalid multibulk length\r\n", a)
        t.check("proto-max-multibulk: then the connection is closed", end in ("eof", "reset"), end)
        a, _ = exchange(s.resp_port, resp_cmd("MSET", "a", "1", "b", "2", "c", "3", "d"), until=b"\r\n")
        t.check("proto-max-multibulk: 8 arguments are parsed (and get a command error, not a protocol error)",
                a.startswith(b"-ERR") and b"Protocol" not in a, a)
        a, end = exchange(s.resp_port, b"PING " + b"a" * 70000)
        t.eq("inline: a 70 KB inline request without a newline",
             b"-ERR Protocol error: too big inline request\r\n", a)
        a, end = exchange(s.resp_port, b"*-5\r\nPING\r\n", until=b"PONG")
        t.check("multibulk: a negative length is not a crash", a in (b"", b"+PONG\r\n") or a.startswith(b"-ERR"), a)
        serving(s, "proto limits")
    finally:
        s.close()


def test_resp_query_buffer():
    s = Redcar("--proto-max-bulk-len", "8mb", "--client-query-buffer-limit", "1mb")
    try:
        before = rss_kb(s.proc.pid)
        # one incomplete 3 MB bulk: the parser must hold it all, past the 1 MB limit
        a, end = exchange(s.resp_port, b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"q" * 2000000, timeout=5)
        t.check("client-query-buffer-limit: a client buffering 2 MB of one command is closed",
                end in ("eof", "reset"), "%s %r" % (end, a[:60]))
        logged = "query buffer limit" in open(s.log).read()
        t.check("client-query-buffer-limit: the server logs why", logged)
        # a 900 KB command under the limit is fine
        a, _ = exchange(s.resp_port, resp_cmd("ECHO", "e" * 900000), until=b"e\r\n", timeout=10)
        t.check("client-query-buffer-limit: a 900 KB command under the limit is answered",
                a.startswith(b"$900000\r\n") and len(a) == 900000 + 11, len(a))
        print("# RSS before %d kB, after %d kB" % (before, rss_kb(s.proc.pid)))
        serving(s, "client-query-buffer-limit")
    finally:
        s.close()


def test_resp_pipeline():
    """The RESP door caps writes in flight per client (MAX_INFLIGHT 4096 in
    src/resp/loop.c): past it the client's input pauses. A pipeline deeper
    than that must still be answered completely and in order."""
    s = Redcar("--fsync", "normal", "--client-output-buffer-limit-normal", "1mb")
    try:
        n = 12000
        c = connect(s.resp_port, timeout=20)
        data = b"".join(resp_cmd("SET", "p%d" % (i % 50), "v%d" % i) for i in range(n))
        data += resp_cmd("GET", "p%d" % ((n - 1) % 50))
        sender = threading.Thread(target=c.sendall, args=(data,))
        sender.start()
        want = b"+OK\r\n" * n
        got = b""
        deadline = time.time() + 30
        tail = ("v%d" % (n - 1)).encode()
        while time.time() < deadline and not got.endswith(tail + b"\r\n"):
            b = c.recv(65536)
            if not b:
                break
            got += b
        sender.join()
        c.close()
        t.check("pipeline: %d pipelined SETs are all answered +OK, in order" % n,
                got.startswith(want), "%d bytes" % len(got))
        t.check("pipeline: the GET behind them sees the last SET", got[len(want):] ==
                b"$%d\r\n%s\r\n" % (len(tail), tail), got[len(want):][:60])

        # a client that pipelines reads and never reads the replies is cut off
        # at client-output-buffer-limit-normal (1 MB here), memory stays bounded
        val = b"o" * (256 * 1024)
        exchange(s.resp_port, resp_cmd("SET", "big", val), until=b"\r\n")
        base = rss_kb(s.proc.pid)
        c = connect(s.resp_port, rcvbuf=4096, timeout=5)
        k = 1000  # 256 MB of replies if nothing bounded them
        c.sendall(resp_cmd("GET", "big") * k)
        time.sleep(1.5)
        grown = rss_kb(s.proc.pid) - base
        end, got = "timeout", 0
        try:
            while True:
                b = c.recv(1 << 20)
                if not b:
                    end = "eof"
                    break
                got += len(b)
        except socket.timeout:
            pass
        except ConnectionResetError:
            end = "reset"
        c.close()
        print("# %d unread GET replies of 256 KB: server RSS grew %d kB, client got %d bytes then %s"
              % (k, grown, got, end))
        t.check("client-output-buffer-limit-normal: a client that never reads its replies is disconnected",
                end in ("eof", "reset") and got < k * len(val), "%s after %d bytes" % (end, got))
        # ASan's quarantine holds freed buffers: allow more there, still far below 256 MB
        bound = 64 if "libasan" in open("/proc/%d/maps" % s.proc.pid).read() else 16
        t.check("client-output-buffer-limit-normal: server memory stays bounded (RSS grew < %d MB)" % bound,
                grown < bound * 1024, "RSS grew %d kB" % grown)
        t.check("client-output-buffer-limit-normal: the disconnect is logged",
                "client-output-buffer-limit-normal" in open(s.log).read())
        # a client that reads keeps its connection through a pipeline of replies
        # bigger than the limit in total (each reply is under it)
        c = connect(s.resp_port, timeout=10)
        c.sendall(resp_cmd("GET", "big") * 4)
        want = (b"$%d\r\n" % len(val) + val + b"\r\n") * 4
        got = b""
        try:
            while len(got) < len(want):
                b = c.recv(1 << 20)
                if not b:
                    break
                got += b
        except socket.timeout:
            pass
        c.close()
        t.check("client-output-buffer-limit-normal: a reading client gets 4 pipelined 256 KB replies",
                got == want, "%d of %d bytes" % (len(got), len(want)))
        serving(s, "pipeline")
    finally:
        s.close()


def test_resp_maxclients():
    s = Redcar("--maxclients", "3")
    held = []
    try:
        for i in range(3):
            c = connect(s.resp_port)
            c.sendall(b"PING\r\n")
            c.recv(100)
            held.append(c)
        a, end = exchange(s.resp_port, b"PING\r\n")
        t.eq("maxclients (RESP): the 4th client is refused", b"-ERR max number of clients reached\r\n", a)
        t.check("maxclients (RESP): and closed", end in ("eof", "reset"), end)
        held.pop().close()
        time.sleep(0.2)
        a, _ = exchange(s.resp_port, b"PING\r\n", until=b"\r\n")
        t.eq("maxclients (RESP): a slot freed by a disconnect is reusable", b"+PONG\r\n", a)
        for c in held:
            c.sendall(b"PING\r\n")
        t.check("maxclients (RESP): the clients already in keep working",
                all(c.recv(100) == b"+PONG\r\n" for c in held))
    finally:
        for c in held:
            c.close()
        s.close()


def test_resp_idle_timeout():
    """`timeout` (seconds, 0 = never, as Redis): an idle client is closed; a
    subscriber and a client that keeps talking are not."""
    s = Redcar("--timeout", "1", "--maxclients", "3")
    conns = []
    try:
        a, _ = exchange(s.resp_port, resp_cmd("CONFIG", "GET", "timeout"), until=b"1\r\n")
        t.check("timeout: CONFIG GET timeout answers 1", a.endswith(b"$1\r\n1\r\n"), a)
        idle = connect(s.resp_port, timeout=5)
        idle.sendall(b"PING\r\n")
        idle.recv(100)
        sub = connect(s.resp_port, timeout=5)
        sub.sendall(resp_cmd("SUBSCRIBE", "idle-ch"))
        sub.recv(100)
        busy = connect(s.resp_port, timeout=5)
        conns += [idle, sub, busy]
        busy_ok = True
        for _ in range(8):  # 4 s: well past the 1 s timeout and the sweep interval
            busy.sendall(b"PING\r\n")
            busy_ok = busy_ok and busy.recv(100) == b"+PONG\r\n"
            time.sleep(0.5)
        end = "open"
        try:
            idle.settimeout(1)
            b = idle.recv(100)
            end = "eof" if not b else "data %r" % b
        except socket.timeout:
            end = "open"
        except ConnectionResetError:
            end = "reset"
        t.check("timeout: an idle client is closed", end in ("eof", "reset"), end)
        t.check("timeout: a client that keeps sending commands stays connected", busy_ok)
        sub.sendall(resp_cmd("PING"))
        t.check("timeout: a subscriber is exempt (Redis: pub/sub clients are not timed out)",
                sub.recv(100).startswith(b"*2\r\n$4\r\npong"))
        # the freed slot is usable: maxclients 3 and two clients left
        a, _ = exchange(s.resp_port, b"PING\r\n", until=b"\r\n")
        t.eq("timeout: the idle client's slot is free again", b"+PONG\r\n", a)
        a, _ = exchange(s.resp_port, resp_cmd("CONFIG", "SET", "timeout", "0"), until=b"\r\n")
        t.eq("timeout: CONFIG SET timeout 0 (never)", b"+OK\r\n", a)
    finally:
        for c in conns:
            c.close()
        s.close()


def test_pubsub_output_limit():
    s = Redcar("--client-output-buffer-limit-pubsub", "64kb", "--fsync", "normal")
    try:
        sub = connect(s.resp_port, rcvbuf=4096, timeout=5)
        sub.sendall(b"SUBSCRIBE ch\r\n")
        time.sleep(0.1)
        sub.recv(100)
        fast = connect(s.resp_port, timeout=5)
        fast.sendall(b"SUBSCRIBE ch\r\n")
        time.sleep(0.1)
        fast.recv(100)
        pub = connect(s.resp_port, timeout=5)
        msg = resp_cmd("PUBLISH", "ch", "m" * 4000)
        fast_got = 0
        fast.settimeout(0.001)
        for i in range(2500):  # 10 MB: more than the kernel's socket buffers can absorb
            pub.sendall(msg)
            pub.recv(100)
            try:
                while True:
                    b = fast.recv(1 << 20)
                    if not b:
                        break
                    fast_got += len(b)
            except (socket.timeout, BlockingIOError):
                pass
        sub.settimeout(5)
        end, n = "timeout", 0
        try:
            while True:
                b = sub.recv(65536)
                if not b:
                    end = "eof"
                    break
                n += len(b)
        except socket.timeout:
            pass
        except ConnectionResetError:
            end = "reset"
        t.check("client-output-buffer-limit-pubsub: a RESP subscriber that does not read is disconnected",
                end in ("eof", "reset") and n < 9000000, "%s after %d bytes" % (end, n))
        t.check("client-output-buffer-limit-pubsub: the disconnect is logged",
                "client-output-buffer-limit-pubsub" in open(s.log).read())
        fast.settimeout(5)
        fast.sendall(b"PING\r\n")
        tail = b""
        try:
            while not tail.endswith(b"pong\r\n$0\r\n\r\n") and not tail.endswith(b"+PONG\r\n"):
                b = fast.recv(1 << 20)
                if not b:
                    break
                fast_got += len(b)
                tail = (tail + b)[-64:]
        except socket.timeout:
            pass
        t.check("client-output-buffer-limit-pubsub: a subscriber that keeps up stays connected",
                fast_got > 2500 * 4000, "%d bytes" % fast_got)
        for c in (sub, fast, pub):
            c.close()

        # the HTTP door: a slow SSE stream on the same limit
        sse = connect(s.http_port, rcvbuf=4096, timeout=5)
        sse.sendall(b"GET /events/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        head = sse.recv(4096)
        t.eq("client-output-buffer-limit-pubsub: SSE stream opens", 200, http_status(head))
        for j in range(25):
            batch = json.dumps([ce("sse-%d-%d" % (j, i), 4000) for i in range(100)])
            st, _, _ = s.http("POST", "/events", batch, {"Content-Type": "application/cloudevents-batch+json"})
        end, n = "timeout", 0
        try:
            while True:
                b = sse.recv(65536)
                if not b:
                    end = "eof"
                    break
                n += len(b)
        except socket.timeout:
            pass
        except ConnectionResetError:
            end = "reset"
        sse.close()
        t.check("client-output-buffer-limit-pubsub: a slow SSE stream is disconnected",
                end in ("eof", "reset") and n < 9000000, "%s after %d bytes" % (end, n))
        serving(s, "client-output-buffer-limit-pubsub")
    finally:
        s.close()


# ---- events ----------------------------------------------------------------------------

def test_batch_and_event_size():
    s = Redcar("--max-batch", "3", "--max-event-size", "1kb", "--fsync", "normal")
    BATCH = {"Content-Type": "application/cloudevents-batch+json"}
    ONE = {"Content-Type": "application/cloudevents+json"}
    try:
        st, _, b = s.http("POST", "/events", json.dumps([ce("mb-%d" % i) for i in range(3)]), BATCH)
        t.check("max-batch: a batch of 3 under max-batch 3 is stored", st in (200, 201), (st, b[:200]))
        st, _, b = s.http("POST", "/events", json.dumps([ce("mb4-%d" % i) for i in range(4)]), BATCH)
        t.check("max-batch: a batch of 4 -> 413 naming max-batch", st == 413 and b"max-batch" in b, (st, b[:200]))
        st, _, b = s.http("POST", "/events", json.dumps(ce("es-ok", 500)), ONE)
        t.eq("max-event-size: a 600-byte event is stored", 201, st)
        st, _, b = s.http("POST", "/events", json.dumps(ce("es-big", 2000)), ONE)
        t.check("max-event-size: a 2 KB structured event -> 413 naming max-event-size",
                st == 413 and b"max-event-size" in b, (st, b[:200]))
        st, _, b = s.http("POST", "/events", "d" * 2000,
                          {"ce-specversion": "1.0", "ce-id": "es-bin", "ce-source": "/limits",
                           "ce-type": "t.limit", "Content-Type": "text/plain"})
        t.check("max-event-size: a 2 KB binary-mode event -> 413 naming max-event-size",
                st == 413 and b"max-event-size" in b, (st, b[:200]))
        st, _, b = s.http("POST", "/events", json.dumps([ce("esb-0"), ce("esb-1", 2000)]), BATCH)
        t.check("max-event-size: a batch holding a 2 KB event -> 413 naming max-event-size and the index",
                st == 413 and b"max-event-size" in b and b"[1]" in b, (st, b[:200]))
        st, _, b = s.http("PUT", "/kv/big", "v" * 2000, {"Content-Type": "text/plain"})
        t.check("max-event-size: PUT /kv with a 2 KB value -> 413", st == 413 and b"max-event-size" in b,
                (st, b[:200]))
        st, _, b = s.http("GET", "/events?limit=100")
        ids = sorted(e["id"] for e in json.loads(b)) if st == 200 else b
        t.eq("max-batch/max-event-size: refused requests stored nothing",
             ["lim-es-ok", "lim-mb-0", "lim-mb-1", "lim-mb-2"], ids)

        # the encoded size of a batch member; the RESP door
        st, _, b = s.http("POST", "/events", json.dumps([ce("esx-0", 10, bigext="e" * 2000)]), BATCH)
        t.check("max-event-size: a batch member whose attributes make it 2 KB encoded -> 413 naming it",
                st == 413 and b"[0]" in b and b"max-event-size" in b, (st, b[:200]))
        refused = {}
        for name, cmd in (("SET", resp_cmd("SET", "rk", "v" * 3000)),
                          ("SET NX", resp_cmd("SET", "rk", "v" * 3000, "NX")),
                          ("MSET", resp_cmd("MSET", "rk2", "small", "rk3", "v" * 3000)),
                          ("XADD", resp_cmd("XADD", "rs", "*", "f", "v" * 3000)),
                          ("PUBLISH", resp_cmd("PUBLISH", "rc", "v" * 3000))):
            a, _ = exchange(s.resp_port, cmd, until=b"\r\n")
            refused[name] = a[:80]
        t.check("max-event-size: RESP SET/SET NX/MSET/XADD/PUBLISH of a 3 KB value -> -ERR naming it",
                all(v.startswith(b"-ERR") and b"max-event-size" in v for v in refused.values()), refused)
        a, _ = exchange(s.resp_port, resp_cmd("SET", "rk", "v" * 500), until=b"\r\n")
        t.eq("max-event-size: a RESP SET of 500 bytes is stored", b"+OK\r\n", a)
        a, _ = exchange(s.resp_port, resp_cmd("MULTI") + resp_cmd("SET", "rk", "w" * 3000) +
                        resp_cmd("EXEC"), until=b"size")
        t.check("max-event-size: inside MULTI/EXEC the big SET answers -ERR",
                b"-ERR" in a and b"max-event-size" in a, a[:200])
        a, _ = exchange(s.resp_port, resp_cmd("GET", "rk") + resp_cmd("EXISTS", "rk2", "rk3") +
                        resp_cmd("XLEN", "rs"), until=b":0\r\n:0\r\n")
        t.eq("max-event-size: refused RESP writes stored nothing",
             b"$500\r\n" + b"v" * 500 + b"\r\n:0\r\n:0\r\n", a)
        a, _ = exchange(s.resp_port, resp_cmd("CONFIG", "SET", "max-event-size", "8kb") +
                        resp_cmd("PUBLISH", "rc", "v" * 3000), until=b":0\r\n")
        t.eq("max-event-size: CONFIG SET raises it at once (same pipeline)", b"+OK\r\n:0\r\n", a)
        serving(s, "max-batch/max-event-size")
    finally:
        s.close()


def main():
    for fn in (test_http_body, test_http_headers, test_http_timeouts, test_http_maxclients,
               test_resp_protocol_limits, test_resp_query_buffer, test_resp_pipeline,
               test_resp_maxclients, test_resp_idle_timeout, test_pubsub_output_limit,
               test_batch_and_event_size):
        print("# " + fn.__name__)
        try:
            fn()
        except Exception as e:  # a crashed check is a failure, not the end of the run
            import traceback
            traceback.print_exc()
            t.check(fn.__name__ + " ran to the end", False, repr(e))
    t.finish()


if __name__ == "__main__":
    main()
