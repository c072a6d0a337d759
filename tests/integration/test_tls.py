# SPDX-License-Identifier: Apache-2.0
"""TLS on both doors, against the real server and real clients.

The test makes its own PKI with openssl in a temporary directory: a CA, a
server certificate for 127.0.0.1/localhost, a client certificate from the
same CA, and a second ("rogue") CA with its own client certificate.

 - https + tls-port on port 0: curl --cacert (GET /health, POST /events,
   GET /events), redis-cli --tls --cacert, Python redis with ssl=True (SET/GET,
   a 3 MB value, a 3000-command pipeline, MULTI/EXEC), PUBLISH/SUBSCRIBE
   across the doors (HTTPS POST -> TLS subscriber, plain RESP -> TLS, TLS ->
   plain), CONFIG GET tls-port shows the bound port; a pipeline deep enough to
   pause the client's input while GnuTLS holds some of it.
 - redcar-ctl on the https endpoint: --cacert (info, put/get, tail, backup)
   and REDCAR_CACERT work; without the CA or with another CA it exits 5
   naming the certificate problem and --cacert; an unreadable --cacert file
   is a usage error (1); -k works and warns on stderr.
 - A client trusting another CA fails verification (curl, redis-cli, redis-py).
 - Plaintext on the TLS ports (RESP and HTTP) is refused and the server stays up.
 - redcar-ctl info over https: each listener row (http, https, resp,
   resp_tls) shows that listener's address, not the door that answered.
 - tls-auth-clients yes: no certificate and a rogue certificate are refused on
   both doors, the CA-signed one is served; optional: no certificate is
   served, a rogue one refused.
 - redcar-ctl with client certificates: --cert/--key (info, put/get, tail,
   backup), a combined cert+key file, REDCAR_CERT/REDCAR_KEY, --cert winning
   over them; refused without a certificate or with a rogue one (exit 5, naming
   --cert/--key, for info, tail and backup); a key that is not the
   certificate's (exit 5); missing, unreadable or wrong-kind files, an
   encrypted key, --key without --cert, REDCAR_KEY without REDCAR_CERT:
   usage errors (exit 1) naming the option or variable.
 - TLS only (-a "" -r ""): only the TLS listeners exist; redcar-ctl info shows
   http and resp as "-" (null in /info) and the TLS addresses in their rows.
 - Start-up refusals with a clear message: a missing certificate file, a key
   that does not match, a file that is not PEM, tls-auth-clients yes
   without a CA.
"""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Redcar, Tally  # noqa: E402

t = Tally()
BIN = os.environ["REDCAR_BIN"]
tmp = tempfile.mkdtemp(prefix="redcar-tls-test.")
servers = []


def run(*args, **kw):
    return subprocess.run(list(args), capture_output=True, timeout=60, **kw)


def pki():
    """CA, server and client certificates (EC P-256, valid 2 days)."""
    def f(name):
        return os.path.join(tmp, name)

    def key_req(name, cn):
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f(name + ".key"), "-out", f(name + ".csr"), "-subj", "/CN=" + cn).check_returncode()

    def ca(name):
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f(name + ".key"), "-out", f(name + ".crt"), "-days", "2",
            "-subj", "/CN=Redcar test " + name).check_returncode()

    def sign(name, ca_name, ext):
        with open(f(name + ".ext"), "w") as e:
            e.write(ext)
        run("openssl", "x509", "-req", "-in", f(name + ".csr"), "-CA", f(ca_name + ".crt"),
            "-CAkey", f(ca_name + ".key"), "-CAcreateserial", "-out", f(name + ".crt"), "-days", "2",
            "-extfile", f(name + ".ext")).check_returncode()

    ca("ca")
    ca("rogue")
    key_req("server", "localhost")
    sign("server", "ca", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    key_req("client", "client")
    sign("client", "ca", "extendedKeyUsage=clientAuth\n")
    key_req("rclient", "rogue client")
    sign("rclient", "rogue", "extendedKeyUsage=clientAuth\n")
    with open(f("garbage.pem"), "w") as g:
        g.write("this is not a certificate\n")
    with open(f("client-both.pem"), "w") as g:  # certificate and key in one file, as curl --cert takes it
        g.write(open(f("client.crt")).read() + open(f("client.key")).read())
    run("openssl", "pkey", "-in", f("client.key"), "-aes256", "-passout", "pass:secret",
        "-out", f("client-enc.key")).check_returncode()
    return f


def curl(port, path, *extra, ca="ca.crt", method=None, data=None, headers=()):
    cmd = ["curl", "-sS", "--max-time", "10", "-o", os.path.join(tmp, "curl.out"), "-w", "%{http_code}"]
    if ca:
        cmd += ["--cacert", P(ca)]
    if method:
        cmd += ["-X", method]
    if data is not None:
        cmd += ["--data-binary", data]
    for h in headers:
        cmd += ["-H", h]
    cmd += list(extra) + ["https://127.0.0.1:%d%s" % (port, path)]
    r = run(*cmd)
    body = open(os.path.join(tmp, "curl.out"), "rb").read() if os.path.exists(os.path.join(tmp, "curl.out")) else b""
    if os.path.exists(os.path.join(tmp, "curl.out")):
        os.unlink(os.path.join(tmp, "curl.out"))
    return r.returncode, r.stdout.decode(), body, r.stderr.decode()


def cli(port, *args, ca="ca.crt", cert=None):
    cmd = ["redis-cli", "--tls", "-h", "127.0.0.1", "-p", str(port)]
    if ca:
        cmd += ["--cacert", P(ca)]
    if cert:
        cmd += ["--cert", P(cert + ".crt"), "--key", P(cert + ".key")]
    r = run(*(cmd + list(args)), stdin=subprocess.DEVNULL)
    return r.returncode, (r.stdout + r.stderr).decode().strip()


def rpy(port, cert=None, ca="ca.crt", **kw):
    extra = {"ssl_certfile": P(cert + ".crt"), "ssl_keyfile": P(cert + ".key")} if cert else {}
    return redis.Redis(host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=P(ca), socket_timeout=10,
                       **extra, **kw)


def ctl(port, *args, env=None):
    """redcar-ctl against the https door; REDCAR_* from the caller's
    environment are dropped so only what the test passes counts."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("REDCAR_")}
    e.update(env or {})
    r = run(os.environ["REDCAR_CTL"], "-e", "https://127.0.0.1:%d" % port, "--timeout", "10", *args,
            env=e, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def refused(fn):
    """True when fn raises a connection or TLS error (the server said no)."""
    try:
        fn()
        return False
    except (redis.exceptions.ConnectionError, ssl.SSLError, OSError):
        return True


def tls_server(*extra):
    # max-event-size (1mb by default, both doors) is raised for the 3 MB value below
    s = Redcar("--https", "127.0.0.1:0", "--tls-port", "127.0.0.1:0", "--tls-cert-file", P("server.crt"),
               "--tls-key-file", P("server.key"), "--max-event-size", "8mb", "-l", "debug", *extra)
    servers.append(s)
    return s


def alive(s):
    return s.proc.poll() is None and rpy(s.tls_port).ping()


def server_state(s):
    """What a failing check needs to tell a server bug from a test or
    machine problem: is the process still running (else its exit status:
    negative is the signal), does its TLS port still accept, and the end of
    its log (debug level: every close says why)."""
    rc = s.proc.poll() if s.proc else "stopped by the test"
    try:
        socket.create_connection(("127.0.0.1", s.tls_port), timeout=5).close()
        port = "accepts"
    except OSError as e:
        port = "refuses (%r)" % e
    tail = open(s.log, errors="replace").read().splitlines()[-25:]
    return "server %s; tls-port %s; log tail:\n    %s" % (
        "running" if rc is None else "exited with %r" % (rc,), port, "\n    ".join(tail))


def refuses_to_start(what, args, words):
    """The server exits non-zero at once, and stderr names the problem."""
    log = os.path.join(tmp, "refused.log")
    r = run(BIN, "-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", os.path.join(tmp, "refused-data"), "-o", log,
            "--https", "127.0.0.1:0", *args)
    err = r.stderr.decode()
    t.check(what + ": exits non-zero", r.returncode != 0, "rc=%d" % r.returncode)
    t.check(what + ": says why on stderr", all(w in err for w in words), repr(err))
    t.check(what + ": never says ready", "ready" not in open(log).read())


try:
    P = pki()

    # ---- TLS on both doors, no client certificates --------------------------------
    s = tls_server()
    t.check("log names both TLS listeners with their bound ports", s.https_port and s.tls_port,
            "https %r resp-tls %r" % (s.https_port, s.tls_port))

    rc, code, body, _ = curl(s.https_port, "/health")
    t.eq("curl --cacert GET /health over HTTPS", (0, "200"), (rc, code))
    rc, code, body, _ = curl(s.https_port, "/health", ca=None)
    t.check("curl without the CA fails verification", rc == 60, "rc=%d" % rc)
    rc, code, body, _ = curl(s.https_port, "/health", ca="rogue.crt")
    t.check("curl trusting another CA fails verification", rc == 60, "rc=%d" % rc)
    r = run("curl", "-sS", "--max-time", "10", "--cacert", P("ca.crt"), "https://localhost:%d/health" % s.https_port)
    t.check("the certificate also serves the name localhost", r.returncode == 0 and b"ok" in r.stdout, r.stderr)

    # redcar-ctl: the same rules as curl, exit 5 (cannot connect) when the certificate is not trusted.
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "info")
    t.check("redcar-ctl --cacert info over HTTPS", rc == 0 and re.search(r"^health\s+ok$", out, re.M),
            (rc, out[:200], err))
    t.eq("redcar-ctl --cacert put over HTTPS", 0, ctl(s.https_port, "--cacert", P("ca.crt"), "put", "ck", "cv")[0])
    rc, out, err = ctl(s.https_port, "get", "ck", env={"REDCAR_CACERT": P("ca.crt")})
    t.eq("redcar-ctl with REDCAR_CACERT get over HTTPS", (0, "cv"), (rc, out.strip()))
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "tail", "--from", "1", "--count", "1", "-w", "json")
    t.check("redcar-ctl --cacert tail (SSE) over HTTPS", rc == 0 and out.count("\n") == 1, (rc, out[:200], err))
    bak = os.path.join(tmp, "ctl-backup.db")
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "backup", bak, "-q")
    t.check("redcar-ctl --cacert backup over HTTPS", rc == 0 and os.path.getsize(bak) > 0, (rc, err))
    rc, out, err = ctl(s.https_port, "info")
    t.check("redcar-ctl without the CA: exit 5", rc == 5, (rc, err))
    t.check("redcar-ctl without the CA: says the certificate is not trusted and names --cacert",
            "certificate" in err and "--cacert" in err, err)
    rc, out, err = ctl(s.https_port, "--cacert", P("rogue.crt"), "info")
    t.check("redcar-ctl trusting another CA: exit 5 naming the certificate", rc == 5 and "certificate" in err,
            (rc, err))
    rc, out, err = ctl(s.https_port, "info", env={"REDCAR_CACERT": P("rogue.crt")})
    t.check("REDCAR_CACERT with another CA: exit 5", rc == 5, (rc, err))
    rc, out, err = ctl(s.https_port, "--cacert", P("rogue.crt"), "info", env={"REDCAR_CACERT": P("ca.crt")})
    t.check("--cacert wins over REDCAR_CACERT", rc == 5, (rc, err))
    rc, out, err = ctl(s.https_port, "--cacert", P("nope.crt"), "info")
    t.check("redcar-ctl --cacert with a missing file: usage error naming it", rc == 1 and "nope.crt" in err,
            (rc, err))
    rc, out, err = ctl(s.https_port, "info", env={"REDCAR_CACERT": P("nope.crt")})
    t.check("REDCAR_CACERT naming a missing file: usage error naming the variable",
            rc == 1 and "REDCAR_CACERT" in err, (rc, err))
    # info over HTTPS: every listener row is that listener's own address.
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "info")
    rows = dict(re.findall(r"^(\S+)\s+(.*?)\s*$", out, re.M))
    t.eq("redcar-ctl info over HTTPS: each listener row shows its own address",
         {"http": "127.0.0.1:%d" % s.http_port, "https": "127.0.0.1:%d" % s.https_port,
          "resp": "127.0.0.1:%d" % s.resp_port, "resp_tls": "127.0.0.1:%d" % s.tls_port},
         {k: rows.get(k) for k in ("http", "https", "resp", "resp_tls")})
    st, _, b = s.http("GET", "/info")
    j = json.loads(b)
    t.eq("/info over plain HTTP names the same listeners",
         ("127.0.0.1:%d" % s.http_port, "127.0.0.1:%d" % s.https_port), (j.get("http"), j.get("https")))
    rc, out, err = ctl(s.https_port, "-k", "get", "ck")
    t.eq("redcar-ctl -k skips verification", (0, "cv"), (rc, out.strip()))
    t.check("redcar-ctl -k warns on stderr that verification is off", "not verified" in err, err)

    ev = {"specversion": "1.0", "id": "tls-1", "source": "/tls", "type": "com.example.tls",
          "subject": "secure/1", "datacontenttype": "application/json", "data": {"n": 1}}
    sub = rpy(s.tls_port).pubsub()
    sub.psubscribe("secure/*")
    sub.get_message(timeout=5)
    rc, code, body, _ = curl(s.https_port, "/events", method="POST", data=json.dumps(ev),
                             headers=["Content-Type: application/cloudevents+json"])
    t.eq("curl POST /events over HTTPS answers 201", (0, "201"), (rc, code))
    rc, code, body, _ = curl(s.https_port, "/events")
    t.check("curl GET /events over HTTPS has the event", rc == 0 and code == "200" and b"tls-1" in body, body[:200])
    msg = sub.get_message(timeout=5)
    t.check("HTTPS POST reaches a subscriber on the TLS RESP port",
            msg and msg.get("channel") == b"secure/1" and b'"n"' in msg.get("data", b""), repr(msg))
    st, _, b = s.http("GET", "/events")
    t.check("the plain HTTP door reads the same log", st == 200 and b"tls-1" in b)
    r_sse = run("curl", "-sS", "-N", "--max-time", "2", "--cacert", P("ca.crt"),
                "https://127.0.0.1:%d/events/stream?from=1" % s.https_port)
    t.check("SSE over HTTPS replays the event", b"tls-1" in r_sse.stdout, r_sse.stdout[:200])

    t.eq("redis-cli --tls SET", (0, "OK"), cli(s.tls_port, "SET", "k", "over tls"))
    t.eq("redis-cli --tls GET", (0, "over tls"), cli(s.tls_port, "GET", "k"))
    rc, out = cli(s.tls_port, "PING", ca="rogue.crt")
    t.check("redis-cli trusting another CA fails verification", rc != 0 or "PONG" not in out, out)

    r = rpy(s.tls_port)
    t.check("redis-py ssl=True SET", r.set("py", "value") is True)
    t.eq("redis-py ssl=True GET", b"value", r.get("py"))
    t.eq("plain RESP sees the same key", b"value", redis.Redis(port=s.resp_port).get("py"))
    big = os.urandom(3 * 1024 * 1024 + 17)
    r.set("big", big)
    t.check("a 3 MB value round-trips over TLS", r.get("big") == big)
    pl = r.pipeline(transaction=False)
    for i in range(3000):
        pl.set("p%d" % i, "v%d" % i)
    for i in range(3000):
        pl.get("p%d" % i)
    res = pl.execute()
    t.check("a 6000-command pipeline over TLS answers in order",
            all(x is True for x in res[:3000]) and res[3000:] == [b"v%d" % i for i in range(3000)])
    # More writes in flight than a client may have (its input pauses while
    # GnuTLS still holds some of it, which the socket no longer signals).
    pl = r.pipeline(transaction=False)
    for i in range(12000):
        pl.set("q%d" % (i % 100), "x" * 100 + str(i))
    pl.get("q99")
    res = pl.execute()
    t.check("a 12000-write pipeline over TLS (input paused and resumed) answers every command",
            len(res) == 12001 and all(x is True for x in res[:12000]) and res[-1] == b"x" * 100 + b"11999")
    tx = r.pipeline(transaction=True)
    tx.incr("ctr").incr("ctr")
    t.eq("MULTI/EXEC over TLS", [1, 2], tx.execute())
    t.check("CONFIG GET tls-port shows the bound port",
            r.config_get("tls-port").get("tls-port", "").endswith(":%d" % s.tls_port), r.config_get("tls-port"))
    t.check("CONFIG GET https shows the bound port",
            r.config_get("https").get("https", "").endswith(":%d" % s.https_port), r.config_get("https"))

    # PUBLISH across the doors, both ways.
    plain = redis.Redis(port=s.resp_port, socket_timeout=10)
    ps_plain = plain.pubsub()
    ps_plain.subscribe("to-plain")
    ps_plain.get_message(timeout=5)
    ps_tls = r.pubsub()
    ps_tls.subscribe("to-tls")
    ps_tls.get_message(timeout=5)
    t.eq("plain PUBLISH reaches one TLS subscriber", 1, plain.publish("to-tls", "hello tls"))
    m = ps_tls.get_message(timeout=5)
    t.eq("the TLS subscriber gets it", b"hello tls", m and m.get("data"))
    t.eq("TLS PUBLISH reaches one plain subscriber", 1, r.publish("to-plain", "hello plain"))
    m = ps_plain.get_message(timeout=5)
    t.eq("the plain subscriber gets it", b"hello plain", m and m.get("data"))

    # Many TLS clients at once, each with its own handshake.
    errors = []

    def worker(n):
        step = "connect, handshake and PING"  # redis-py connects on the first command
        try:
            c = rpy(s.tls_port)
            c.ping()
            for j in range(20):
                step = "write %d" % j
                c.set("w%d:%d" % (n, j), j)
            step = "read back"
            if c.get("w%d:19" % n) != b"19":
                errors.append("worker %d read back wrong" % n)
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append("worker %d at %s, %.2f s after the start: %r" % (n, step, time.time() - t0, e))

    t0 = time.time()
    ths = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    t.check("32 TLS clients at once, 20 writes each", not errors and not any(th.is_alive() for th in ths),
            "%d of 32 failed: %s\n  %s" % (len(errors), errors[:4], server_state(s)) if errors else "a worker hung")

    # Plaintext on the TLS ports: refused, and nothing else is disturbed.
    c = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
    c.sendall(b"*1\r\n$4\r\nPING\r\n")
    try:
        got = c.recv(4096)
    except ConnectionResetError:
        got = b""
    c.close()
    t.check("plaintext RESP on tls-port gets no +PONG", b"PONG" not in got, got)
    r_plain = run("redis-cli", "-p", str(s.tls_port), "PING", stdin=subprocess.DEVNULL)
    t.check("redis-cli without --tls on tls-port fails", b"PONG" not in r_plain.stdout, r_plain.stdout)
    r_http = run("curl", "-sS", "--max-time", "10", "http://127.0.0.1:%d/health" % s.https_port)
    t.check("plain http:// on the https port fails", r_http.returncode != 0 or b"ok" not in r_http.stdout)
    c = socket.create_connection(("127.0.0.1", s.tls_port), timeout=10)
    c.sendall(b"\x16\x03\x01\x00\x05hello")  # a broken ClientHello
    c.close()
    t.check("after plaintext and broken handshakes the server still serves TLS", alive(s))
    t.check("... and plain RESP", plain.ping())
    s.stop()
    t.check("TLS server stops cleanly", "stopped cleanly" in open(s.log).read())

    # ---- client certificates required ---------------------------------------------
    s = tls_server("--tls-ca-cert-file", P("ca.crt"), "--tls-auth-clients", "yes")
    rc, code, _, _ = curl(s.https_port, "/health")
    t.check("auth-clients yes: HTTPS without a client certificate is refused", rc != 0 and code != "200",
            "rc=%d code=%s" % (rc, code))
    rc, code, _, _ = curl(s.https_port, "/health", "--cert", P("rclient.crt"), "--key", P("rclient.key"))
    t.check("auth-clients yes: HTTPS with a rogue certificate is refused", rc != 0 and code != "200",
            "rc=%d code=%s" % (rc, code))
    rc, code, _, _ = curl(s.https_port, "/health", "--cert", P("client.crt"), "--key", P("client.key"))
    t.eq("auth-clients yes: HTTPS with the CA's client certificate is served", (0, "200"), (rc, code))
    rc, out = cli(s.tls_port, "PING")
    t.check("auth-clients yes: redis-cli without a certificate is refused", "PONG" not in out, out)
    rc, out = cli(s.tls_port, "PING", cert="rclient")
    t.check("auth-clients yes: redis-cli with a rogue certificate is refused", "PONG" not in out, out)
    t.eq("auth-clients yes: redis-cli with the client certificate", (0, "PONG"), cli(s.tls_port, "PING", cert="client"))
    t.check("auth-clients yes: redis-py without a certificate is refused", refused(lambda: rpy(s.tls_port).ping()))
    t.check("auth-clients yes: redis-py with a rogue certificate is refused",
            refused(lambda: rpy(s.tls_port, cert="rclient").ping()))
    t.check("auth-clients yes: redis-py with the client certificate",
            rpy(s.tls_port, cert="client").set("certified", 1) is True)
    t.check("auth-clients yes: the log says why a client was refused",
            "certificate" in open(s.log).read().lower())
    t.check("auth-clients yes: still serving after the refusals", rpy(s.tls_port, cert="client").ping())

    # redcar-ctl with a client certificate.
    CA = ("--cacert", P("ca.crt"))
    MINE = ("--cert", P("client.crt"), "--key", P("client.key"))
    rc, out, err = ctl(s.https_port, *CA, *MINE, "info")
    t.check("auth-clients yes: redcar-ctl --cert/--key info is served",
            rc == 0 and re.search(r"^health\s+ok$", out, re.M), (rc, out[:200], err))
    t.eq("auth-clients yes: redcar-ctl --cert/--key put", 0, ctl(s.https_port, *CA, *MINE, "put", "mk", "mv")[0])
    rc, out, err = ctl(s.https_port, *CA, *MINE, "get", "mk")
    t.eq("auth-clients yes: redcar-ctl --cert/--key get", (0, "mv"), (rc, out.strip()))
    rc, out, err = ctl(s.https_port, *CA, *MINE, "tail", "--from", "1", "--count", "2", "-w", "json")
    t.check("auth-clients yes: redcar-ctl --cert/--key tail (SSE)", rc == 0 and '"subject":"mk"' in out,
            (rc, out[:400], err))
    bak = os.path.join(tmp, "ctl-mtls-backup.db")
    rc, out, err = ctl(s.https_port, *CA, *MINE, "backup", bak, "-q")
    t.check("auth-clients yes: redcar-ctl --cert/--key backup", rc == 0 and os.path.getsize(bak) > 0, (rc, err))
    rc, out, err = ctl(s.https_port, *CA, "--cert", P("client-both.pem"), "get", "mk")
    t.eq("auth-clients yes: --cert alone with the key in the same file", (0, "mv"), (rc, out.strip()))
    rc, out, err = ctl(s.https_port, *CA, "get", "mk",
                       env={"REDCAR_CERT": P("client.crt"), "REDCAR_KEY": P("client.key")})
    t.eq("auth-clients yes: REDCAR_CERT/REDCAR_KEY", (0, "mv"), (rc, out.strip()))
    rc, out, err = ctl(s.https_port, *CA, "get", "mk", env={"REDCAR_CERT": P("client-both.pem")})
    t.eq("auth-clients yes: REDCAR_CERT alone with the key in the same file", (0, "mv"), (rc, out.strip()))
    rc, out, err = ctl(s.https_port, *CA, "--cert", P("rclient.crt"), "--key", P("rclient.key"), "get", "mk",
                       env={"REDCAR_CERT": P("client.crt"), "REDCAR_KEY": P("client.key")})
    t.check("auth-clients yes: --cert/--key win over REDCAR_CERT/REDCAR_KEY (the rogue pair is refused)",
            rc == 5, (rc, err))
    rc, out, err = ctl(s.https_port, *CA, "--cert", P("client-both.pem"), "get", "mk",
                       env={"REDCAR_CERT": P("rclient.crt"), "REDCAR_KEY": P("rclient.key")})
    t.eq("auth-clients yes: --cert never takes REDCAR_KEY", (0, "mv"), (rc, out.strip()))

    # Refused: exit 5 (the TLS failure code) and a message naming --cert/--key.
    for what, args in (("info", ("info",)), ("tail", ("tail", "--from", "1", "--count", "1")),
                       ("backup", ("backup", os.path.join(tmp, "refused.db"), "-q"))):
        rc, out, err = ctl(s.https_port, *CA, *args)
        t.check("auth-clients yes: redcar-ctl %s without a certificate: exit 5 naming --cert and --key" % what,
                rc == 5 and "--cert" in err and "--key" in err and "tls-auth-clients" in err, (rc, err))
    t.check("auth-clients yes: a refused backup leaves no file", not os.path.exists(os.path.join(tmp, "refused.db")))
    rc, out, err = ctl(s.https_port, *CA, "--cert", P("rclient.crt"), "--key", P("rclient.key"), "info")
    t.check("auth-clients yes: redcar-ctl with a rogue certificate: exit 5 naming --cert and the file",
            rc == 5 and "--cert" in err and "rclient.crt" in err, (rc, err))
    rc, out, err = ctl(s.https_port, *CA, "info", env={"REDCAR_CERT": P("rclient.crt"), "REDCAR_KEY": P("rclient.key")})
    t.check("auth-clients yes: REDCAR_CERT with a rogue certificate: exit 5", rc == 5 and "--cert" in err, (rc, err))
    rc, out, err = ctl(s.https_port, *CA, "--cert", P("client.crt"), "--key", P("rclient.key"), "info")
    t.check("redcar-ctl with a key that is not the certificate's: exit 5 naming --cert and --key",
            rc == 5 and "--cert" in err and "--key" in err, (rc, err))

    # Files checked before connecting: usage errors (exit 1) naming the option or variable.
    def usage(what, args, words, env=None):
        rc, out, err = ctl(s.https_port, *CA, *args, "info", env=env)
        t.check("redcar-ctl %s: exit 1 naming %s" % (what, ", ".join(words)),
                rc == 1 and all(w in err for w in words), (rc, err))
    usage("--cert naming a missing file", ("--cert", P("nope.crt"), "--key", P("client.key")), ["--cert", "nope.crt"])
    usage("--key naming a missing file", ("--cert", P("client.crt"), "--key", P("nope.key")), ["--key", "nope.key"])
    usage("--key naming something unreadable (a directory)", ("--cert", P("client.crt"), "--key", tmp),
          ["--key", "cannot read"])
    usage("--cert naming a key, not a certificate", ("--cert", P("client.key"), "--key", P("client.key")),
          ["--cert", "not a PEM certificate"])
    usage("--key naming a certificate, not a key", ("--cert", P("client.crt"), "--key", P("client.crt")),
          ["--key", "not a PEM private key"])
    usage("--cert naming garbage", ("--cert", P("garbage.pem"),), ["--cert", "garbage.pem"])
    usage("--cert without a key anywhere", ("--cert", P("client.crt")), ["--cert", "--key"])
    usage("--key without --cert", ("--key", P("client.key")), ["--key", "--cert"])
    usage("an encrypted key", ("--cert", P("client.crt"), "--key", P("client-enc.key")), ["--key", "encrypted"])
    usage("REDCAR_CERT naming a missing file", (), ["REDCAR_CERT", "nope.crt"],
          env={"REDCAR_CERT": P("nope.crt"), "REDCAR_KEY": P("client.key")})
    usage("REDCAR_KEY naming a missing file", (), ["REDCAR_KEY", "nope.key"],
          env={"REDCAR_CERT": P("client.crt"), "REDCAR_KEY": P("nope.key")})
    usage("REDCAR_KEY without REDCAR_CERT", (), ["REDCAR_KEY", "REDCAR_CERT"], env={"REDCAR_KEY": P("client.key")})
    usage("REDCAR_CERT without a key anywhere", (), ["REDCAR_CERT", "REDCAR_KEY"], env={"REDCAR_CERT": P("client.crt")})
    rc, out, err = ctl(s.https_port, *CA, *MINE, "get", "mk")
    t.eq("auth-clients yes: still serving after redcar-ctl's refusals", (0, "mv"), (rc, out.strip()))
    s.close()
    servers.remove(s)

    # ---- client certificates optional ---------------------------------------------
    s = tls_server("--tls-ca-cert-file", P("ca.crt"), "--tls-auth-clients", "optional")
    t.eq("auth-clients optional: HTTPS without a certificate is served", (0, "200"), curl(s.https_port, "/health")[:2])
    t.eq("auth-clients optional: HTTPS with the client certificate is served", (0, "200"),
         curl(s.https_port, "/health", "--cert", P("client.crt"), "--key", P("client.key"))[:2])
    rc, code, _, _ = curl(s.https_port, "/health", "--cert", P("rclient.crt"), "--key", P("rclient.key"))
    t.check("auth-clients optional: HTTPS with a rogue certificate is refused", rc != 0 and code != "200",
            "rc=%d code=%s" % (rc, code))
    t.eq("auth-clients optional: redcar-ctl without a certificate is served", 0,
         ctl(s.https_port, "--cacert", P("ca.crt"), "info")[0])
    t.eq("auth-clients optional: redcar-ctl --cert/--key is served", 0,
         ctl(s.https_port, "--cacert", P("ca.crt"), "--cert", P("client.crt"), "--key", P("client.key"), "info")[0])
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "--cert", P("rclient.crt"), "--key", P("rclient.key"),
                       "info")
    t.check("auth-clients optional: redcar-ctl with a rogue certificate: exit 5 naming --cert",
            rc == 5 and "--cert" in err, (rc, err))
    t.eq("auth-clients optional: redis-cli without a certificate", (0, "PONG"), cli(s.tls_port, "PING"))
    t.eq("auth-clients optional: redis-cli with the certificate", (0, "PONG"), cli(s.tls_port, "PING", cert="client"))
    rc, out = cli(s.tls_port, "PING", cert="rclient")
    t.check("auth-clients optional: redis-cli with a rogue certificate is refused", "PONG" not in out, out)
    s.close()
    servers.remove(s)

    # ---- TLS only ------------------------------------------------------------------------
    s = tls_server("-a", "", "-r", "")
    t.check("TLS only: no plain listeners", s.http_port is None and s.resp_port is None,
            "http %r resp %r" % (s.http_port, s.resp_port))
    t.eq("TLS only: HTTPS serves", (0, "200"), curl(s.https_port, "/health")[:2])
    t.eq("TLS only: RESP over TLS serves", (0, "PONG"), cli(s.tls_port, "PING"))
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "info")
    rows = dict(re.findall(r"^(\S+)\s+(.*?)\s*$", out, re.M))
    t.eq("TLS only: redcar-ctl info rows: http and resp off (-), https and resp_tls their own addresses",
         {"http": "-", "https": "127.0.0.1:%d" % s.https_port, "resp": "-", "resp_tls": "127.0.0.1:%d" % s.tls_port},
         {k: rows.get(k) for k in ("http", "https", "resp", "resp_tls")})
    rc, out, err = ctl(s.https_port, "--cacert", P("ca.crt"), "info", "-w", "json")
    j = json.loads(out)["info"] if rc == 0 else {}
    t.eq("TLS only: /info has http and resp null, https and resp_tls set",
         (None, "127.0.0.1:%d" % s.https_port, None, "127.0.0.1:%d" % s.tls_port),
         (j.get("http", "absent"), j.get("https"), j.get("resp", "absent"), j.get("resp_tls")))
    s.close()
    servers.remove(s)

    # ---- refusals at start-up ---------------------------------------------------------------
    refuses_to_start("missing certificate file",
                     ["--tls-cert-file", P("nope.crt"), "--tls-key-file", P("server.key")],
                     ["tls-cert-file", "nope.crt", "No such file"])
    refuses_to_start("key that does not match the certificate",
                     ["--tls-cert-file", P("server.crt"), "--tls-key-file", P("client.key")],
                     ["tls-cert-file", "tls-key-file"])
    refuses_to_start("certificate file that is not PEM",
                     ["--tls-cert-file", P("garbage.pem"), "--tls-key-file", P("server.key")],
                     ["tls-cert-file", "garbage.pem"])
    refuses_to_start("key file that is not PEM",
                     ["--tls-cert-file", P("server.crt"), "--tls-key-file", P("garbage.pem")],
                     ["tls-key-file", "garbage.pem"])
    refuses_to_start("no key file",
                     ["--tls-cert-file", P("server.crt")], ["tls-key-file"])
    refuses_to_start("tls-auth-clients yes without a CA",
                     ["--tls-cert-file", P("server.crt"), "--tls-key-file", P("server.key"),
                      "--tls-auth-clients", "yes"], ["tls-ca-cert-file"])
    r = run(BIN, "--tls-auth-clients", "maybe", "-d", os.path.join(tmp, "x"))
    t.check("tls-auth-clients accepts only no|optional|yes",
            r.returncode != 0 and b"no|optional|yes" in r.stderr, r.stderr)
finally:
    for s in servers:
        s.close()
    shutil.rmtree(tmp, ignore_errors=True)
t.finish()
