# SPDX-License-Identifier: Apache-2.0
"""Shared helpers for the RESP integration tests: start the real redcar on
free loopback ports with a temporary data directory, stop it by PID, and a
tiny RESP2/RESP3 reader for raw-socket tests."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def ensure_system_python(modules=("redis",)):
    """pyenv shims hide Debian's python3-redis: re-run under /usr/bin/python3."""
    try:
        for m in modules:
            __import__(m)
    except ImportError:
        if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        raise


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def find_bin():
    b = os.environ.get("REDCAR_BIN")
    if b and os.path.exists(b):
        return b
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in ("build-resp/redcar", "build/redcar"):
        p = os.path.join(here, "..", "..", cand)
        if os.path.exists(p):
            return p
    raise SystemExit("REDCAR_BIN not set and no build/redcar found")


class Server:
    def __init__(self, *extra, fsync="normal"):
        self.dir = tempfile.mkdtemp(prefix="redcar-resp-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        args = [find_bin(), "-r", f"127.0.0.1:{self.port}", "-a", "127.0.0.1:0",
                "-d", os.path.join(self.dir, "data"), "--fsync", fsync] + list(extra)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60  # a loaded CI machine can take seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.dump()
                raise SystemExit(f"redcar exited with {self.proc.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise SystemExit("redcar did not start listening")

    def dump(self):
        self.log.flush()
        self.log.seek(0)
        sys.stderr.write(self.log.read())

    def logtext(self):
        self.log.flush()
        with open(os.path.join(self.dir, "log")) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise SystemExit("redcar did not stop on SIGTERM")
        rc = self.proc.returncode
        if rc != 0:  # sanitizer reports and crashes end up here
            self.dump()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc != 0:
            raise SystemExit(f"redcar exited with status {rc}")
        return rc

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        if et is not None:
            self.dump()
        self.stop()


class Conn:
    """A raw socket that speaks RESP, for protocol-level tests."""

    def __init__(self, port, timeout=5):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.send(out)

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        l, self.buf = self.buf.split(b"\r\n", 1)
        return l

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def read(self):
        """One reply. Errors come back as ('err', text); pushes as ('push', [...])."""
        l = self.line()
        t, rest = l[:1], l[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return ("err", rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.exact(n)
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            items = [self.read() for _ in range(n)]
            return ("push", items) if t == b">" else items
        if t == b"%":
            n = int(rest)
            return {self._key(self.read()): self.read() for _ in range(n)}
        if t == b"_":
            return None
        if t == b"#":
            return rest == b"t"
        if t == b",":
            return float(rest)
        if t == b"=":
            return self.exact(int(rest))[4:]
        raise AssertionError(f"bad reply type {l!r}")

    @staticmethod
    def _key(k):
        return k.decode() if isinstance(k, bytes) else k

    def closed(self, timeout=3):
        """True when the server closed the connection (after what it sent)."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


# ---- the checks the redis-py based tests share ---------------------------------------
_failed = [0]


def check(name, got, want):
    if got != want:
        _failed[0] += 1
        print(f"FAIL {name}: got {got!r} want {want!r}")
    else:
        print(f"ok   {name}")


def raises(name, fn, text):
    """fn must raise redis.ResponseError whose text contains `text`."""
    import redis
    try:
        fn()
    except redis.ResponseError as e:
        if text in str(e):
            print(f"ok   {name}")
            return
        _failed[0] += 1
        print(f"FAIL {name}: error {e!s} lacks {text!r}")
        return
    _failed[0] += 1
    print(f"FAIL {name}: no error")


def failed():
    return _failed[0]
