# SPDX-License-Identifier: Apache-2.0
"""Run every example under examples/ against a real redcar and check what it
did: its output and, through the API, its effects on the log and the KV view.

Each example gets the server's addresses through the same environment
variables a user would set (REDCAR_URL, REDCAR_REDIS_URL) and runs with a
bounded timeout, so a hanging example fails instead of hanging CI. An example
whose server feature is not in this build (Redis Streams, push
subscriptions) is reported as "skip - <why>", never as a pass."""
import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rcserver import Redcar, Tally  # noqa: E402

import redis  # noqa: E402

SRC = os.environ.get("REDCAR_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
EX = os.path.join(SRC, "examples")
PY = sys.executable  # the interpreter running this test, which has python3-redis
RUN = "%d-%d" % (int(time.time()), os.getpid())

t = Tally()
skipped = []


def skip(what, why):
    skipped.append(what)
    print("skip - %s: %s" % (what, why))


def env_for(srv, **extra):
    env = dict(os.environ, REDCAR_URL=srv.url, REDCAR_REDIS_URL="redis://127.0.0.1:%d" % srv.resp_port)
    env.update(extra)
    return env


def run(cmd, env, timeout=60, cwd=None):
    """Run to completion; (exit code, stdout+stderr). A timeout is exit code -9."""
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return -9, (e.stdout or b"").decode("utf-8", "replace") + "\n[timed out after %ss]" % timeout


class Background:
    """A long-running example (a worker, a receiver): its lines arrive on a
    queue so the test can wait for "ready" lines with a deadline."""

    def __init__(self, cmd, env):
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self.q = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            self.q.put(line)
        self.q.put(None)

    def wait_for(self, text, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if line is None:
                return False
            if text in line:
                return True
        return False

    def finish(self, timeout=30):
        """Wait for the exit (killing it past the timeout); (exit code, output)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        time.sleep(0.1)  # let the pump thread take the last lines
        return rc, "\n".join(self.lines)


def events(srv, **query):
    st, body = srv.json("GET", "/events?" + urllib.parse.urlencode(dict(query, limit=1000)))
    return body if st == 200 else []


def show(out):
    """An example's output, indented, for the log of a failing run."""
    return "\n    " + out.replace("\n", "\n    ")


# ---- each example ---------------------------------------------------------------

def test_readmes():
    for name in ("curl", "python-pubsub", "node-emitter", "event-sourcing", "streams-worker", "webhook"):
        t.check("examples/%s/README.md exists" % name, os.path.isfile(os.path.join(EX, name, "README.md")))


def test_curl(srv):
    rc, out = run(["bash", os.path.join(EX, "curl", "walkthrough.sh")], env_for(srv, RUN=RUN, SSE_SECONDS="4"),
                  timeout=60)
    t.eq("curl: walkthrough exits 0", 0, rc)
    for text in ("201 Created", '"duplicate":true', '"items":[', "409 Conflict",
                 "id: must be a non-empty string", "hello again", "Redcar-Version: 2",
                 "Redcar-Next: /events?after=", "event: com.example.order.created",
                 '"id":"live-%s"' % RUN, "walkthrough done"):
        t.check("curl: output shows %r" % text, text in out, show(out[-3000:]))
    orders = events(srv, subject_prefix="orders/%s-" % RUN)
    t.eq("curl: six order events in the log (the retry and the 409 appended nothing)",
         ["com.example.order.created", "com.example.order.created", "com.example.order.shipped",
          "com.example.order.shipped", "com.example.order.paid", "com.example.order.created"],
         [e["type"] for e in orders])
    st, _, body = srv.http("GET", "/kv/greeting-%s" % RUN)
    t.eq("curl: KV value", (200, b"hello again"), (st, body))


def test_python_pubsub(srv):
    env = env_for(srv)
    worker = Background([PY, os.path.join(EX, "python-pubsub", "worker.py"), "--count", "6", "--seconds", "30"],
                        env)
    t.check("pubsub: worker subscribed", worker.wait_for("listening on orders/*", 10), "\n".join(worker.lines))
    run_id = "pubsub-" + RUN
    rc, out = run([PY, os.path.join(EX, "python-pubsub", "producer.py"), "--orders", "6", "--run", run_id], env,
                  timeout=30)
    t.eq("pubsub: producer exits 0", 0, rc)
    t.eq("pubsub: each PUBLISH reached the worker", 3, out.count("-> 1 subscriber(s)"))
    wrc, wout = worker.finish(30)
    t.eq("pubsub: worker exits 0 after 6 orders", 0, wrc)
    totals = [line for line in wout.splitlines() if line.startswith("totals ")]
    got = json.loads(totals[-1][len("totals "):]) if totals else None
    t.eq("pubsub: worker totals",
         {"orders": 6, "revenue": 199.5, "by_customer": {"ada": 85.5, "grace": 47.5, "linus": 66.5}},
         got and {k: got[k] for k in ("orders", "revenue", "by_customer")})
    t.check("pubsub: worker saw both doors (HTTP source and redcar://resp)",
            "via /examples/producer" in wout and "via redcar://resp" in wout, show(wout))
    stored = events(srv, subject_prefix="orders/%s-" % run_id)
    t.eq("pubsub: the log holds the six orders",
         ["io.redcar.message", "com.example.order.created"] * 3, [e["type"] for e in stored])
    t.check("pubsub: last_seq is the last order's seq", bool(stored) and got and got["last_seq"] == stored[-1]["seq"])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_restart_in_place():
    """Running workers ride out a restart of the server on the same addresses:
    the pub/sub worker resubscribes, the consumer-group worker reconnects and
    carries on from the group's durable position."""
    srv = Redcar("-a", "127.0.0.1:%d" % free_port(), "-r", "127.0.0.1:%d" % free_port())
    try:
        env = env_for(srv)
        streams = streams_available(srv)
        order = [PY, os.path.join(EX, "python-pubsub", "producer.py"), "--orders", "1"]
        jobs = [PY, os.path.join(EX, "streams-worker", "producer.py"), "--jobs", "2"]
        pubsub = Background([PY, os.path.join(EX, "python-pubsub", "worker.py"), "--count", "2",
                             "--seconds", "40"], env)
        t.check("restart: pub/sub worker subscribed", pubsub.wait_for("listening on", 10), "\n".join(pubsub.lines))
        if streams:
            group = Background([PY, os.path.join(EX, "streams-worker", "worker.py"), "--consumer", "w1",
                                "--count", "4"], env)
            t.check("restart: group worker started", group.wait_for("created group", 10), "\n".join(group.lines))
            run(jobs, env, timeout=30)
            t.check("restart: first jobs handled", group.wait_for("n=2 ->", 10), "\n".join(group.lines))
        run(order + ["--run", "before-" + RUN], env, timeout=30)
        t.check("restart: first order handled", pubsub.wait_for("orders 1,", 10), "\n".join(pubsub.lines))

        srv.stop()
        srv.start()
        t.check("restart: pub/sub worker resubscribed", pubsub.wait_for("listening on", 15),
                "\n".join(pubsub.lines))
        run(order + ["--run", "after-" + RUN], env, timeout=30)
        rc, out = pubsub.finish(20)
        t.check("restart: pub/sub worker handled both orders across the restart",
                rc == 0 and "connection lost" in out and '"orders": 2' in out, show(out))
        if streams:
            run(jobs + ["--start", "3"], env, timeout=30)
            rc, out = group.finish(30)
            t.check("restart: group worker reconnected and handled jobs 3 and 4 once each",
                    rc == 0 and "connection lost" in out and "handled 4 jobs" in out
                    and [line.split("n=")[1].split()[0] for line in out.splitlines() if " n=" in line]
                    == ["1", "2", "3", "4"], show(out))
        else:
            skip("streams-worker restart", "this redcar has no Redis Streams commands")
    finally:
        srv.close()


def test_node_emitter(srv):
    if not shutil.which("node"):
        skip("node-emitter", "node is not installed")
        return
    # The example imports "cloudevents" the way an application would; run a
    # copy next to the test suite's node_modules so that import resolves.
    rc, out = run([os.path.join(SRC, "scripts", "node-deps.sh")], dict(os.environ), timeout=300)
    if rc != 0:
        t.check("node: npm packages installed", False, show(out))
        return
    tmp = tempfile.mkdtemp(prefix="redcar-ex-node.")
    try:
        shutil.copy(os.path.join(EX, "node-emitter", "emit.mjs"), tmp)
        os.symlink(os.path.join(SRC, "tests", "node", "node_modules"), os.path.join(tmp, "node_modules"))
        rc, out = run(["node", os.path.join(tmp, "emit.mjs")], env_for(srv, RUN=RUN), timeout=60)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t.eq("node: emit.mjs exits 0", 0, rc)
    for text in ("binary ", "structured ", "duplicate=true", "emitter ", "batch ", "read back 5 events",
                 "binary read seq", "room=greenhouse"):
        t.check("node: output shows %r" % text, text in out, show(out))
    stored = events(srv, source="/examples/node-emitter/%s" % RUN)
    t.eq("node: five events stored (the retry appended nothing)",
         ["reading-%s-1" % RUN, "alert-%s-1" % RUN, "reading-%s-2" % RUN, "reading-%s-3" % RUN,
          "reading-%s-4" % RUN], [e["id"] for e in stored])
    if len(stored) == 5:
        t.eq("node: binary mode kept the data and the extension", ({"celsius": 21.5}, "greenhouse"),
             (stored[0].get("data"), stored[0].get("room")))
        t.eq("node: structured text data", ("text/plain", "too warm"),
             (stored[1].get("datacontenttype"), stored[1].get("data")))


def test_event_sourcing(srv):
    env = env_for(srv)
    acct = "race-%s" % RUN
    script = os.path.join(EX, "event-sourcing", "account.py")
    rc, out = run([PY, script, "race", acct], env, timeout=60)
    t.eq("es: race exits 0", 0, rc)
    t.eq("es: exactly one writer hit a 409 and reloaded", 1, out.count("409 conflict"))
    t.check("es: the loser is refused after reloading", "rejected after reload: insufficient funds" in out, show(out))
    t.check("es: final state", "balance=30" in out, show(out))
    stored = events(srv, subject="accounts/%s" % acct)
    t.eq("es: history is opened, deposited 100, one withdrawal of 70",
         [("com.example.bank.opened", None), ("com.example.bank.deposited", 100),
          ("com.example.bank.withdrawn", 70)],
         [(e["type"], (e.get("data") or {}).get("amount")) for e in stored])

    # A command retried with the same id is stored once.
    acct2 = "idem-%s" % RUN
    run([PY, script, "open", acct2, "bob"], env, timeout=30)
    rc1, out1 = run([PY, script, "deposit", acct2, "25", "cmd-%s" % RUN], env, timeout=30)
    rc2, out2 = run([PY, script, "deposit", acct2, "25", "cmd-%s" % RUN], env, timeout=30)
    t.eq("es: retried command answers duplicate", (0, 0, True), (rc1, rc2, "duplicate" in out2))
    rc, out = run([PY, script, "withdraw", acct2, "1000"], env, timeout=30)
    t.check("es: overdraft refused with a non-zero exit", rc != 0 and "insufficient funds" in out, show(out))
    rc, out = run([PY, script, "show", acct2], env, timeout=30)
    t.check("es: show rebuilds balance 25", rc == 0 and "balance=25" in out, show(out))
    t.eq("es: two events for the retried account", 2, len(events(srv, subject="accounts/%s" % acct2)))


def streams_available(srv):
    # A bare connection: the raw COMMAND INFO reply (nil for an unknown
    # command), without redis-py's reply parsing.
    conn = redis.Connection(port=srv.resp_port, socket_timeout=5)
    try:
        conn.send_command("COMMAND", "INFO", "XADD", "XREADGROUP", "XACK", "XGROUP", "XPENDING")
        info = conn.read_response()
    finally:
        conn.disconnect()
    return isinstance(info, list) and all(info)


def test_streams_worker(srv):
    if not streams_available(srv):
        skip("streams-worker", "this redcar has no Redis Streams commands (XADD/XREADGROUP/XACK/XGROUP)")
        return
    worker = [PY, os.path.join(EX, "streams-worker", "worker.py"), "--stream", "jobs-" + RUN,
              "--group", "squarers", "--consumer", "w1"]
    producer = [PY, os.path.join(EX, "streams-worker", "producer.py"), "--stream", "jobs-" + RUN]
    rc, out = run(producer + ["--jobs", "8"], env_for(srv), timeout=30)
    t.eq("streams: producer added 8 jobs", (0, 8), (rc, out.count("added ")))
    ids = [line.split()[1] for line in out.splitlines() if line.startswith("added ")]

    # Run 1 dies while handling job 3, before its XACK.
    rc, out = run(worker + ["--crash-after", "3"], env_for(srv), timeout=30)
    t.check("streams: first run crashes on job 3", rc == 3 and "crash while handling" in out, show(out))

    # Restart the server too: the group and its pending entries are in the store.
    srv.stop()
    srv.start()
    # The group is the durable consumer xs.<stream>.<group>: its pending list
    # (jobs 3..8, all read in one batch by w1) came back with the server.
    st, pend = srv.json("GET", "/cursors/xs.jobs-%s.squarers/pending" % RUN)
    t.eq("streams: pending entries survived the server restart", (200, 6, {"w1"}),
         (st, pend and pend["total"], pend and {p["member"] for p in pend["pending"]}))
    rc, out = run(worker + ["--idle-exit", "2"], env_for(srv), timeout=60)
    t.eq("streams: second run exits 0", 0, rc)
    t.check("streams: resumed the group", "resuming" in out, show(out))
    t.check("streams: job 3 handed back as pending", ("pending %s" % ids[2]) in out if len(ids) > 2 else False,
            show(out))
    done = [line.split()[1] for line in out.splitlines() if line.startswith(("job ", "pending "))]
    t.eq("streams: second run handled jobs 3..8, not the acknowledged 1 and 2", ids[2:], done)

    r = redis.Redis(port=srv.resp_port, socket_timeout=5, decode_responses=True)
    try:
        t.eq("streams: every job has its result", [str(n * n) for n in range(1, 9)],
             [r.get("results/%s" % i) for i in ids])
        t.eq("streams: nothing pending", 0, r.xpending("jobs-" + RUN, "squarers")["pending"])
    finally:
        r.close()

    # New jobs after another worker restart: only they are handled.
    rc, out = run(producer + ["--jobs", "2", "--start", "9"], env_for(srv), timeout=30)
    rc, out = run(worker + ["--idle-exit", "2"], env_for(srv), timeout=60)
    t.check("streams: third run handles only the 2 new jobs", rc == 0 and "handled 2 jobs" in out, show(out))


def push_available(srv):
    st, _, _ = srv.http("GET", "/subscriptions")
    return st == 200


def test_webhook(srv):
    if not push_available(srv):
        skip("webhook", "this redcar has no push subscriptions (GET /subscriptions is not 200)")
        return
    prefix = "orders/%s-hook/" % RUN
    rx = Background([PY, os.path.join(EX, "webhook", "receiver.py"), "--port", "0", "--register",
                     "--prefix", prefix, "--count", "3", "--seconds", "30"], env_for(srv))
    t.check("webhook: receiver registered", rx.wait_for("registered subscription", 15), "\n".join(rx.lines))
    ce = {"Content-Type": "application/cloudevents+json"}
    srv.http("POST", "/events", json.dumps({"specversion": "1.0", "id": "hook-%s-1" % RUN, "source": "/t",
                                            "type": "com.example.order.created", "subject": prefix + "1",
                                            "data": {"total": 1}}), ce)
    srv.http("POST", "/events", json.dumps({"specversion": "1.0", "id": "hook-%s-x" % RUN, "source": "/t",
                                            "type": "com.example.other", "subject": "elsewhere/%s" % RUN}), ce)
    srv.http("POST", "/events", b"plain", {"ce-specversion": "1.0", "ce-id": "hook-%s-2" % RUN, "ce-source": "/t",
                                           "ce-type": "com.example.order.paid", "ce-subject": prefix + "2",
                                           "Content-Type": "text/plain"})
    r = redis.Redis(port=srv.resp_port, socket_timeout=5)
    try:
        r.publish(prefix + "3", json.dumps({"total": 3}))
    finally:
        r.close()
    rc, out = rx.finish(40)
    t.eq("webhook: receiver exits 0 after 3 events", 0, rc)
    t.eq("webhook: got exactly the matching events",
         ["hook-%s-1" % RUN, "hook-%s-2" % RUN],
         sorted(w.split("id=")[1].split()[0] for w in out.splitlines()
                if w.startswith("event ") and "hook-" in w))
    t.check("webhook: the Redis PUBLISH was pushed too", "subject=%s3" % prefix in out, show(out))
    t.check("webhook: unregistered on exit", "deleted subscription" in out, show(out))


def main():
    srv = Redcar()
    try:
        test_readmes()
        for name, fn in (("curl", test_curl), ("python-pubsub", test_python_pubsub),
                         ("restart in place", lambda _: test_restart_in_place()),
                         ("node-emitter", test_node_emitter), ("event-sourcing", test_event_sourcing),
                         ("streams-worker", test_streams_worker), ("webhook", test_webhook)):
            print("# %s" % name, flush=True)
            try:
                fn(srv)
            except Exception as e:  # one broken example must not hide the others' results
                t.check("%s: ran without a test error" % name, False, "%s: %s" % (type(e).__name__, e))
                if srv.proc is None:
                    srv.start()
    finally:
        srv.close()
    if skipped:
        print("skipped: %s" % ", ".join(skipped))
    t.finish()


if __name__ == "__main__":
    main()
