# SPDX-License-Identifier: Apache-2.0
"""Start the real redcar for a Python integration test: free loopback ports,
a temporary data directory, stopped by PID. Also a tiny HTTP helper and the
"N passed, N failed" tally the CI reads, and wait_for(), which tests use
instead of fixed sleeps: they wait on the condition they mean."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def wait_for(fn, pred=bool, timeout=30.0, step=0.05):
    """Poll fn() until pred(value) holds or timeout seconds pass (bounded:
    a loaded machine gets the whole timeout, a passing test returns at once).
    Returns (held, last value); the value tells a failing check what was seen."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if pred(v):
            return True, v
        if time.time() >= deadline:
            return False, v
        time.sleep(step)


class Redcar:
    def __init__(self, *args, datadir=None):
        self.bin = os.environ["REDCAR_BIN"]
        self.tmp = tempfile.mkdtemp(prefix="redcar-py.")
        self.dir = datadir or os.path.join(self.tmp, "data")
        self.args = list(args)
        self.proc = None
        self.start()

    def start(self):
        self.log = os.path.join(self.tmp, "redcar.log")
        open(self.log, "w").close()
        self.proc = subprocess.Popen([self.bin, "-a", "127.0.0.1:0", "-r", "127.0.0.1:0",
                                      "-d", self.dir, "-o", self.log] + self.args)
        deadline = time.time() + 60  # a loaded CI machine can take seconds
        text = ""
        while time.time() < deadline:
            text = open(self.log).read()
            if "ready" in text:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("redcar exited:\n" + text)
            time.sleep(0.05)
        # A listener turned off (-a "" or -r "") has no line: its port is None.
        def port(door):
            m = re.findall(door + r": listening on 127\.0\.0\.1:(\d+)", text)
            return int(m[-1]) if m else None
        self.http_port, self.resp_port = port("http"), port("resp")
        self.https_port, self.tls_port = port("https"), port("resp-tls")  # --https, --tls-port
        self.url = "http://127.0.0.1:%s" % self.http_port

    def wait_log(self, regex, timeout=30.0):
        """Wait until the server's log has a line matching regex (re.search,
        multiline); returns the match, or None at the deadline."""
        held, m = wait_for(lambda: re.search(regex, open(self.log).read(), re.M), timeout=timeout)
        return m

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def http(self, method, path, body=None, headers=None):
        """Returns (status, headers, body bytes); never raises on HTTP errors."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method, path, body=None, headers=None):
        st, h, b = self.http(method, path, body, headers)
        return st, json.loads(b) if b else None


class Tally:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print("ok - " + what)
        else:
            self.failed += 1
            print("FAIL - %s %s" % (what, detail))

    def eq(self, what, expected, actual):
        self.check(what, expected == actual, "expected %r got %r" % (expected, actual))

    def wait(self, what, fn, pred=bool, timeout=30.0):
        """wait_for() that counts a timeout as a failure naming what was awaited
        and the last value seen; returns the last value either way."""
        held, v = wait_for(fn, pred, timeout)
        if not held:
            self.check("within %g s: %s" % (timeout, what), False, "timed out; last seen %r" % (v,))
        return v

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        sys.exit(1 if self.failed else 0)
