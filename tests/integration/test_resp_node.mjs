// SPDX-License-Identifier: Apache-2.0
// The RESP door driven by Node's two Redis clients against the real server.
// ioredis: connect, strings with expiry, counters, MGET/MSET, hashes, lists,
// a 1,000-command pipeline, MULTI/EXEC and a WATCH conflict, pub/sub with
// SUBSCRIBE and PSUBSCRIBE (including an event POSTed over HTTP whose subject
// matches the pattern, and CLIENT CEFORMAT json), keyspace notifications,
// scanStream and error replies. node-redis (v5): the same basics over RESP2
// and RESP3 (HELLO 3: maps, nulls, push messages for pub/sub). Both clients
// come from tests/node (scripts/node-deps.sh installs them when missing).
// Every wait is bounded and a watchdog stops the server if the test stalls.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { connect as netConnect } from "node:net";
import { join } from "node:path";

const BIN = process.env.REDCAR_BIN;
const SRC = process.env.REDCAR_SRC || join(import.meta.dirname ?? ".", "../..");
const NT = join(SRC, "tests", "node");
if (!BIN) throw new Error("REDCAR_BIN must point at the redcar binary");
execFileSync(join(SRC, "scripts", "node-deps.sh"), { stdio: "inherit" });
const require = createRequire(join(NT, "package.json"));
const Redis = require("ioredis");
const { createClient, RESP_TYPES } = require("redis");
const nodeRedisVersion = require("redis/package.json").version;

let passed = 0, failed = 0;
const ok = (what) => { passed++; console.log(`ok - ${what}`); };
const fail = (what) => { failed++; console.log(`FAIL - ${what}`); };
const show = (v) => JSON.stringify(v, (_, x) => (x instanceof Map ? { Map: [...x] } : typeof x === "bigint" ? `${x}n` : x));
const eq = (what, want, got) =>
  show(want) === show(got) ? ok(what) : fail(`${what}: expected ${show(want)} got ${show(got)}`);
// `fn` must reject with an error whose message contains `text`.
async function rejects(what, fn, text) {
  try {
    await fn();
    fail(`${what}: no error`);
  } catch (e) {
    String(e?.message ?? e).includes(text) ? ok(what) : fail(`${what}: error ${show(String(e?.message ?? e))} lacks ${show(text)}`);
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Resolve when `pred()` holds, or after `ms` with whatever it then says.
// Generous: it only waits that long when the test is failing anyway, and a
// loaded CI machine can take seconds to deliver a message.
async function until(pred, ms = 20000) {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(10);
  return pred();
}
const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms))]);

// ---- start the server on free ports with a temporary data dir ----------------
const tmp = mkdtempSync(join(tmpdir(), "redcar-resp-node-"));
const log = join(tmp, "redcar.log");
writeFileSync(log, "");
const server = spawn(BIN, ["-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", join(tmp, "data"), "-o", log], {
  stdio: "inherit",
});
let url, port;
for (let i = 0; i < 1200 && !url; i++) { // up to 60 s on a loaded machine
  const m = readFileSync(log, "utf8");
  const h = /http: listening on 127\.0\.0\.1:(\d+)/.exec(m);
  const r = /resp: listening on 127\.0\.0\.1:(\d+)/.exec(m);
  if (h && r && m.includes("ready")) {
    url = `http://127.0.0.1:${h[1]}`;
    port = Number(r[1]);
  } else await sleep(50);
}
let stopped = false;
const stop = async () => {
  if (stopped) return null;
  stopped = true;
  const running = server.exitCode === null && server.signalCode === null;
  if (running) {
    server.kill("SIGTERM");
    const t = setTimeout(() => server.kill("SIGKILL"), 10000);
    await new Promise((r) => (server.exitCode !== null || server.signalCode !== null ? r() : server.once("exit", r)));
    clearTimeout(t);
  }
  rmSync(tmp, { recursive: true, force: true });
  return running ? (server.exitCode ?? server.signalCode) : `exited early (${server.exitCode ?? server.signalCode})`;
};
// A stalled client must not hang CTest (its TIMEOUT is 600 s): stop the
// server by PID and fail. Generous, for a loaded CI machine.
const watchdog = setTimeout(async () => {
  console.log("FAIL - watchdog: test did not finish in 480 s");
  console.log(`${passed} passed, ${failed + 1} failed`);
  await stop();
  process.exit(1);
}, 480000);

const clients = [];
const ioredis = (opts = {}) => {
  const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => null,
                        commandTimeout: 10000, lazyConnect: true, ...opts });
  c.on("error", () => {}); // failures surface through the commands
  clients.push(c);
  return c;
};
const nodeRedis = async (opts = {}) => {
  const c = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 5000 }, ...opts });
  c.on("error", () => {});
  clients.push(c);
  await withTimeout(c.connect(), 10000, "node-redis connect");
  return c;
};
const postEvent = async (ev) => {
  const res = await fetch(`${url}/events`, {
    method: "POST", headers: { "content-type": "application/cloudevents+json" }, body: JSON.stringify(ev),
  });
  return { status: res.status, json: await res.json() };
};

// ============================ ioredis ============================================
async function testIoredis() {
  const r = ioredis();
  await withTimeout(r.connect(), 10000, "ioredis connect");
  eq("ioredis: connected and ready", "ready", r.status);
  eq("ioredis: ping", "PONG", await r.ping());
  eq("ioredis: ping message", "hi", await r.ping("hi"));

  // strings, expiry, counters
  eq("ioredis: set EX", "OK", await r.set("s", "v", "EX", 100));
  eq("ioredis: get", "v", await r.get("s"));
  const ttl = await r.ttl("s");
  eq("ioredis: ttl after EX", true, ttl >= 99 && ttl <= 100);
  // PX long enough that the GET right after the SET sees the key even on a
  // loaded machine; then wait for the expiry itself (bounded).
  eq("ioredis: set PX then expires", ["OK", "x"], [await r.set("short", "x", "PX", 1500), await r.get("short")]);
  let gone = "x";
  for (const end = Date.now() + 20000; gone !== null && Date.now() < end;) {
    await sleep(100);
    gone = await r.get("short");
  }
  eq("ioredis: expired key reads null", null, gone);
  eq("ioredis: get missing", null, await r.get("nokey"));
  eq("ioredis: set NX existing", null, await r.set("s", "w", "NX"));
  eq("ioredis: incr/incrby/decr", [1, 11, 10], [await r.incr("c"), await r.incrby("c", 10), await r.decr("c")]);
  eq("ioredis: incrbyfloat", "1.5", await r.incrbyfloat("f", 1.5));
  const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await r.set("bin", bin);
  eq("ioredis: binary value round trip", true, bin.equals(await r.getBuffer("bin")));
  const uni = "ünïcödé ✓ 🚀";
  await r.set("uni", uni);
  eq("ioredis: UTF-8 value", uni, await r.get("uni"));
  eq("ioredis: mset", "OK", await r.mset({ m1: "1", m2: "2" }));
  eq("ioredis: mget", ["1", "2", null], await r.mget("m1", "m2", "m3"));
  eq("ioredis: exists/del", [2, 2, 0], [await r.exists("m1", "m2"), await r.del("m1", "m2", "m3"), await r.exists("m1")]);
  eq("ioredis: type", ["string", "none"], [await r.type("s"), await r.type("nokey")]);

  // hashes
  eq("ioredis: hset object", 2, await r.hset("h", { a: "1", b: "2" }));
  eq("ioredis: hset update", 0, await r.hset("h", "a", "10"));
  eq("ioredis: hgetall", { a: "10", b: "2" }, await r.hgetall("h"));
  eq("ioredis: hgetall missing", {}, await r.hgetall("nohash"));
  eq("ioredis: hget/hmget", ["10", ["10", "2", null]], [await r.hget("h", "a"), await r.hmget("h", "a", "b", "c")]);
  eq("ioredis: hincrby/hlen/hdel", [5, 3, 1], [await r.hincrby("h", "n", 5), await r.hlen("h"), await r.hdel("h", "n")]);

  // lists
  eq("ioredis: lpush", 3, await r.lpush("l", "a", "b", "c"));
  eq("ioredis: rpush", 4, await r.rpush("l", "z"));
  eq("ioredis: lrange", ["c", "b", "a", "z"], await r.lrange("l", 0, -1));
  eq("ioredis: lrange negative", ["a", "z"], await r.lrange("l", -2, -1));
  eq("ioredis: lpop/rpop/llen", ["c", "z", 2], [await r.lpop("l"), await r.rpop("l"), await r.llen("l")]);

  // errors
  await rejects("ioredis: WRONGTYPE on a hash key", () => r.get("h"),
                "WRONGTYPE Operation against a key holding the wrong kind of value");
  await rejects("ioredis: WRONGTYPE lpush on a hash key", () => r.lpush("h", "x"), "WRONGTYPE");
  await rejects("ioredis: unknown command", () => r.call("FOO", "a", "b"),
                "ERR unknown command 'FOO', with args beginning with: 'a' 'b'");
  await rejects("ioredis: wrong arity", () => r.call("GET"), "wrong number of arguments for 'get' command");
  await rejects("ioredis: incr non-integer", () => r.incr("s"), "value is not an integer or out of range");
  eq("ioredis: connection usable after errors", "PONG", await r.ping());

  // a pipeline of 1,000 commands, results in order
  const p = r.pipeline();
  for (let i = 0; i < 500; i++) {
    p.set(`p:${i}`, `v${i}`);
    p.get(`p:${i}`);
  }
  const t0 = performance.now();
  const res = await p.exec();
  const ms = performance.now() - t0;
  eq("ioredis: pipeline 1000 replies", 1000, res.length);
  eq("ioredis: pipeline no errors", 0, res.filter(([e]) => e).length);
  eq("ioredis: pipeline results in order", Array.from({ length: 500 }, (_, i) => ["OK", `v${i}`]).flat(),
     res.map(([, v]) => v));
  // A read waits until the same client's earlier writes are durable (read your
  // writes), so SET/GET pairs cost one commit each; SETs alone share commits.
  const p2 = r.pipeline();
  for (let i = 0; i < 1000; i++) p2.set(`q:${i}`, "x");
  const t1 = performance.now();
  const res2 = await p2.exec();
  const ms2 = performance.now() - t1;
  eq("ioredis: pipeline of 1000 SETs", 1000, res2.filter(([e, v]) => !e && v === "OK").length);
  console.log(`# ioredis pipeline of 500 SET/GET pairs: ${ms.toFixed(1)} ms; 1000 SETs: ${ms2.toFixed(1)} ms`);
  // a failing command in the middle of a pipeline does not disturb the rest
  const mixed = await r.pipeline().set("pm", "1").hget("pm", "x").incr("pm").exec();
  eq("ioredis: pipeline error in the middle", [null, "WRONGTYPE", null, 2],
     [mixed[0][0], mixed[1][0]?.message.split(" ")[0], mixed[2][0], mixed[2][1]]);

  // MULTI/EXEC
  const tx = await r.multi().set("tx", "1").incr("tx").get("tx").hset("txh", "f", "v").rpush("txl", "a").exec();
  eq("ioredis: multi/exec", [[null, "OK"], [null, 2], [null, "2"], [null, 1], [null, 1]], tx);
  await rejects("ioredis: exec without multi", () => r.call("EXEC"), "EXEC without MULTI");
  // WATCH: another client changes the key, EXEC answers null
  const other = ioredis();
  await other.connect();
  eq("ioredis: watch", "OK", await r.watch("w"));
  await other.set("w", "theirs");
  eq("ioredis: WATCH conflict gives null", null, await r.multi().set("w", "mine").exec());
  eq("ioredis: conflicting write kept", "theirs", await r.get("w"));
  await r.watch("w");
  eq("ioredis: WATCH without conflict runs", [[null, "OK"]], await r.multi().set("w", "mine").exec());
  eq("ioredis: watched write applied", "mine", await r.get("w"));

  // scanStream over a known key set
  const want = [];
  for (let i = 0; i < 57; i++) want.push(`scan:${i}`);
  await r.mset(Object.fromEntries(want.map((k) => [k, "1"])));
  const seen = new Set();
  await withTimeout(new Promise((resolve, reject) => {
    const st = r.scanStream({ match: "scan:*", count: 10 });
    st.on("data", (keys) => keys.forEach((k) => seen.add(k)));
    st.on("end", resolve);
    st.on("error", reject);
  }), 10000, "scanStream");
  eq("ioredis: scanStream finds every key once", want.slice().sort(), [...seen].sort());
  const all = new Set();
  await withTimeout(new Promise((resolve, reject) => {
    const st = r.scanStream({ count: 7 });
    st.on("data", (keys) => keys.forEach((k) => all.add(k)));
    st.on("end", resolve);
    st.on("error", reject);
  }), 10000, "scanStream all");
  eq("ioredis: scanStream covers dbsize", await r.dbsize(), all.size);

  // ---- pub/sub ----------------------------------------------------------------
  const sub = ioredis();
  await sub.connect();
  const msgs = [], pmsgs = [];
  sub.on("message", (channel, message) => msgs.push([channel, message]));
  sub.on("pmessage", (pattern, channel, message) => pmsgs.push([pattern, channel, message]));
  eq("ioredis: subscribe count", 2, await sub.subscribe("news", "alerts"));
  eq("ioredis: psubscribe count", 3, await sub.psubscribe("orders.*"));
  eq("ioredis: publish to one subscriber", 1, await r.publish("news", "hello"));
  eq("ioredis: publish matching pattern", 1, await r.publish("orders.eu", "o-1"));
  eq("ioredis: publish with no subscriber", 0, await r.publish("nobody", "x"));
  await until(() => msgs.length >= 1 && pmsgs.length >= 1);
  eq("ioredis: message arrives", [["news", "hello"]], msgs);
  eq("ioredis: pmessage arrives", [["orders.*", "orders.eu", "o-1"]], pmsgs);
  eq("ioredis: pubsub numsub", ["news", 1, "nobody", 0], await r.pubsub("NUMSUB", "news", "nobody"));
  eq("ioredis: pubsub numpat", 1, await r.pubsub("NUMPAT"));
  eq("ioredis: pubsub channels", ["alerts", "news"], (await r.pubsub("CHANNELS")).sort());

  // PUBLISH appended an io.redcar.message event to the log
  const logged = await (await fetch(`${url}/events?type=io.redcar.message&subject=news`)).json();
  eq("ioredis: PUBLISH appended an io.redcar.message event",
     [1, "news", "hello"], [logged.length, logged[0]?.subject, logged[0]?.data ?? logged[0]?.data_base64]);

  // an event POSTed over HTTP whose subject matches the pattern reaches the subscriber
  const ev = { specversion: "1.0", id: "node-http-1", source: "/tests/node", type: "io.example.order",
               subject: "orders.us", datacontenttype: "application/json", data: { n: 42 } };
  const posted = await postEvent(ev);
  eq("ioredis: POST /events 201", 201, posted.status);
  await until(() => pmsgs.length >= 2);
  eq("ioredis: HTTP event arrives as pmessage", ["orders.*", "orders.us", { n: 42 }],
     pmsgs[1] && [pmsgs[1][0], pmsgs[1][1], JSON.parse(pmsgs[1][2])]);
  // a plain channel subscriber receives an HTTP event whose subject equals the channel
  await postEvent({ ...ev, id: "node-http-2", subject: "alerts", datacontenttype: "text/plain", data: "fire" });
  await until(() => msgs.length >= 2);
  eq("ioredis: HTTP event arrives as message", ["alerts", "fire"], msgs[1]);

  // CLIENT CEFORMAT json: the whole CloudEvent, with its seq
  const subj = ioredis();
  await subj.connect();
  eq("ioredis: client ceformat json", "OK", await subj.call("CLIENT", "CEFORMAT", "json"));
  await rejects("ioredis: client ceformat bad value", () => subj.call("CLIENT", "CEFORMAT", "xml"),
                "CLIENT CEFORMAT takes 'data' or 'json'");
  const jmsgs = [];
  subj.on("pmessage", (_p, channel, message) => jmsgs.push([channel, message]));
  await subj.psubscribe("orders.*");
  const posted3 = await postEvent({ ...ev, id: "node-http-3", subject: "orders.jp", data: { n: 7 } });
  await r.publish("orders.de", "plain");
  // both subscribers of orders.*: subj (json) and sub (data, its 4th pmessage)
  await until(() => jmsgs.length >= 2 && pmsgs.length >= 4);
  const ce = jmsgs[0] && JSON.parse(jmsgs[0][1]);
  eq("ioredis: CEFORMAT json delivers the whole event",
     ["orders.jp", "1.0", "node-http-3", "/tests/node", "io.example.order", { n: 7 }, posted3.json.seq],
     ce && [jmsgs[0][0], ce.specversion, ce.id, ce.source, ce.type, ce.data, Number(ce.seq)]);
  const pe = jmsgs[1] && JSON.parse(jmsgs[1][1]);
  eq("ioredis: CEFORMAT json on PUBLISH", ["io.redcar.message", "orders.de", true],
     pe && [pe.type, pe.subject, (pe.data ?? "") === "plain" || Buffer.from(pe.data_base64 ?? "", "base64").toString() === "plain"]);
  eq("ioredis: data subscriber got the PUBLISH too", ["orders.*", "orders.de", "plain"], pmsgs.at(-1));

  // unsubscribe: no more deliveries
  // two clients on the same pattern: NUMPAT counts distinct patterns (Redis >= 6.2)
  eq("ioredis: numpat counts distinct patterns", 1, await r.pubsub("NUMPAT"));
  await sub.unsubscribe("news", "alerts");
  eq("ioredis: publish after unsubscribe", 0, await r.publish("news", "late"));
  await sub.punsubscribe();
  await subj.punsubscribe();
  eq("ioredis: numpat after punsubscribe", 0, await r.pubsub("NUMPAT"));

  // keyspace notifications
  const ks = ioredis();
  await ks.connect();
  const kse = [];
  ks.on("pmessage", (_p, channel, message) => kse.push([channel, message]));
  eq("ioredis: config set notify-keyspace-events", "OK", await r.config("SET", "notify-keyspace-events", "KEA"));
  await ks.psubscribe("__keyspace@0__:ks*", "__keyevent@0__:*");
  await r.set("ks1", "v");
  await r.hset("ks2", "f", "v");
  await r.del("ks1");
  await until(() => kse.length >= 6);
  const ksSorted = kse.map((x) => x.join(" ")).sort();
  eq("ioredis: keyspace notifications", [
    "__keyevent@0__:del ks1", "__keyevent@0__:hset ks2", "__keyevent@0__:set ks1",
    "__keyspace@0__:ks1 del", "__keyspace@0__:ks1 set", "__keyspace@0__:ks2 hset"], ksSorted);
  await r.config("SET", "notify-keyspace-events", "");

  // QUIT closes cleanly
  eq("ioredis: quit", "OK", await other.quit());
}

// ============================ node-redis =========================================
async function testNodeRedisBasics(resp) {
  const tag = `node-redis RESP${resp}`;
  const k = (s) => `nr${resp}:${s}`;
  const c = await nodeRedis(resp === 3 ? { RESP: 3 } : {});
  eq(`${tag}: ping`, "PONG", await c.ping());
  eq(`${tag}: set EX`, "OK", await c.set(k("s"), "v", { EX: 100 }));
  eq(`${tag}: get`, "v", await c.get(k("s")));
  eq(`${tag}: ttl`, true, (await c.ttl(k("s"))) > 98);
  eq(`${tag}: get missing is null`, null, await c.get(k("none")));
  eq(`${tag}: incr`, [1, 6], [await c.incr(k("c")), await c.incrBy(k("c"), 5)]);
  eq(`${tag}: mset/mget`, ["OK", ["1", "2", null]],
     [await c.mSet({ [k("m1")]: "1", [k("m2")]: "2" }), await c.mGet([k("m1"), k("m2"), k("m3")])]);
  eq(`${tag}: hset`, 2, await c.hSet(k("h"), { a: "1", b: "2" }));
  const hall = await c.hGetAll(k("h"));
  eq(`${tag}: hgetall`, { a: "1", b: "2" }, { ...hall });
  eq(`${tag}: hgetall missing`, {}, { ...(await c.hGetAll(k("nohash"))) });
  eq(`${tag}: lpush/lrange`, [3, ["c", "b", "a"]], [await c.lPush(k("l"), ["a", "b", "c"]), await c.lRange(k("l"), 0, -1)]);
  eq(`${tag}: exists/del`, [1, 1], [await c.exists(k("s")), await c.del(k("s"))]);
  const bin = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await c.set(k("bin"), bin);
  const back = await c.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).get(k("bin"));
  eq(`${tag}: binary value round trip`, true, Buffer.isBuffer(back) && bin.equals(back));

  await rejects(`${tag}: WRONGTYPE`, () => c.get(k("h")), "WRONGTYPE");
  await rejects(`${tag}: unknown command`, () => c.sendCommand(["FOO", "a"]), "unknown command 'FOO'");

  // pipeline and transaction
  const pl = c.multi();
  for (let i = 0; i < 500; i++) pl.set(k(`p${i}`), String(i)).get(k(`p${i}`));
  const pr = await pl.execAsPipeline();
  eq(`${tag}: pipeline 1000 in order`, Array.from({ length: 500 }, (_, i) => ["OK", String(i)]).flat(), pr);
  eq(`${tag}: multi/exec`, ["OK", 2, "2"], await c.multi().set(k("tx"), "1").incr(k("tx")).get(k("tx")).exec());
  const other = await nodeRedis();
  await c.watch(k("w"));
  await other.set(k("w"), "theirs");
  await rejects(`${tag}: WATCH conflict`, () => c.multi().set(k("w"), "mine").exec(), "watched keys has been changed");
  eq(`${tag}: conflicting write kept`, "theirs", await c.get(k("w")));

  // scan iterator
  const keys = [];
  for await (const batch of c.scanIterator({ MATCH: k("p1*"), COUNT: 50 })) keys.push(...batch);
  eq(`${tag}: scanIterator`, 111, new Set(keys).size); // p1, p10-p19, p100-p199

  // pub/sub on a duplicate connection
  const sub = c.duplicate();
  sub.on("error", () => {});
  clients.push(sub);
  await withTimeout(sub.connect(), 10000, "node-redis duplicate connect");
  const got = [];
  await sub.subscribe(k("ch"), (message, channel) => got.push(["message", channel, message]));
  await sub.pSubscribe(k("pat.*"), (message, channel) => got.push(["pmessage", channel, message]));
  eq(`${tag}: publish`, 1, await c.publish(k("ch"), "m1"));
  eq(`${tag}: publish pattern`, 1, await c.publish(k("pat.x"), "m2"));
  const posted = await postEvent({ specversion: "1.0", id: `nr${resp}-http`, source: "/tests/node-redis",
                                   type: "io.example.t", subject: k("pat.http"), datacontenttype: "text/plain",
                                   data: "over http" });
  eq(`${tag}: POST /events 201`, 201, posted.status);
  await until(() => got.length >= 3);
  eq(`${tag}: pub/sub messages`, [["message", k("ch"), "m1"], ["pmessage", k("pat.x"), "m2"],
                                   ["pmessage", k("pat.http"), "over http"]], got);
  await sub.unsubscribe(k("ch"));
  await sub.pUnsubscribe(k("pat.*"));
  eq(`${tag}: publish after unsubscribe`, 0, await c.publish(k("ch"), "late"));
  if (resp === 3) {
    // RESP3 lets the same connection run commands while subscribed
    await sub.subscribe(k("ch3"), (message, channel) => got.push(["message", channel, message]));
    eq(`${tag}: command while subscribed`, "PONG", await sub.ping());
    await c.publish(k("ch3"), "m3");
    await until(() => got.length >= 4);
    eq(`${tag}: push message after a command`, ["message", k("ch3"), "m3"], got[3]);
  }
  return c;
}

// RESP3 specifics seen through node-redis: HELLO reply, typed replies, raw pushes.
async function testNodeRedisResp3(c) {
  const tag = "node-redis RESP3";
  const hello = await c.sendCommand(["HELLO", "3"]);
  const h = hello instanceof Map ? Object.fromEntries(hello) : hello;
  eq(`${tag}: HELLO 3 map`, [3, "redis", true], [h.proto, h.server, typeof h.version === "string"]);
  const asMap = c.withTypeMapping({ [RESP_TYPES.MAP]: Map });
  await c.hSet("nr3:hm", { x: "1" });
  const m = await asMap.hGetAll("nr3:hm");
  eq(`${tag}: HGETALL is a RESP3 map`, true, m instanceof Map && m.get("x") === "1");
  const cfg = await asMap.configGet("maxclients"); // sendCommand ignores the type mapping
  eq(`${tag}: CONFIG GET is a map`, true, cfg instanceof Map && cfg.has("maxclients"));
  eq(`${tag}: null reply`, null, await c.sendCommand(["GET", "nr3:missing"]));
  eq(`${tag}: hello without version keeps RESP3`, 3,
     ((x) => (x instanceof Map ? x.get("proto") : x.proto))(await c.sendCommand(["HELLO"])));
  const ceformat = await c.sendCommand(["CLIENT", "CEFORMAT"]);
  eq(`${tag}: client ceformat default`, "data", ceformat);
}

// RESP3 on the wire, without a client library between: after HELLO 3 pub/sub
// messages and keyspace notifications are push frames (>), not arrays (*).
async function testRawResp3() {
  const tag = "raw RESP3";
  const sock = netConnect({ host: "127.0.0.1", port });
  clients.push({ disconnect: () => sock.destroy(), status: "raw" });
  let buf = "";
  sock.setEncoding("latin1");
  sock.on("data", (d) => (buf += d));
  sock.on("error", () => {});
  await withTimeout(new Promise((r) => sock.once("connect", r)), 5000, "raw connect");
  const send = (...args) => sock.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""));
  const take = async (text, what) => {
    const found = await until(() => buf.includes(text));
    eq(`${tag}: ${what}`, true, found);
    if (!found) console.log(`# got ${JSON.stringify(buf.slice(0, 400))}`);
    buf = found ? buf.slice(buf.indexOf(text) + text.length) : "";
  };
  // RESP2 first: subscriber mode answers PING with an array and refuses GET
  send("SUBSCRIBE", "raw.ch2");
  await take("*3\r\n$9\r\nsubscribe\r\n$7\r\nraw.ch2\r\n:1\r\n", "RESP2 subscribe confirmation is an array");
  send("PING");
  await take("*2\r\n$4\r\npong\r\n$0\r\n\r\n", "RESP2 PING while subscribed");
  send("GET", "raw.none");
  await take("-ERR Can't execute 'get': only (P|S)SUBSCRIBE", "RESP2 GET while subscribed refused");
  send("UNSUBSCRIBE");
  await take("*3\r\n$11\r\nunsubscribe\r\n$7\r\nraw.ch2\r\n:0\r\n", "RESP2 unsubscribe all");
  send("HELLO", "3");
  await take("%7\r\n", "HELLO 3 answers a map");
  await take("$5\r\nproto\r\n:3\r\n", "HELLO 3 proto 3");
  send("SUBSCRIBE", "raw.ch");
  await take(">3\r\n$9\r\nsubscribe\r\n$6\r\nraw.ch\r\n:1\r\n", "subscribe confirmation is a push");
  send("PING");
  await take("+PONG\r\n", "PING while subscribed answers +PONG");
  send("GET", "raw.none");
  await take("_\r\n", "GET while subscribed answers the RESP3 null");
  const pub = ioredis();
  await pub.connect();
  await pub.publish("raw.ch", "hello");
  await take(">3\r\n$7\r\nmessage\r\n$6\r\nraw.ch\r\n$5\r\nhello\r\n", "message is a push frame");
  await pub.config("SET", "notify-keyspace-events", "K$");
  send("PSUBSCRIBE", "__keyspace@0__:raw.*");
  await take(">3\r\n$10\r\npsubscribe\r\n", "psubscribe confirmation");
  await pub.set("raw.k", "1");
  await take(">4\r\n$8\r\npmessage\r\n$20\r\n__keyspace@0__:raw.*\r\n$20\r\n__keyspace@0__:raw.k\r\n$3\r\nset\r\n",
             "keyspace notification is a push frame");
  await pub.config("SET", "notify-keyspace-events", "");
  sock.destroy();
}

try {
  if (!url) throw new Error("server did not start:\n" + readFileSync(log, "utf8"));
  console.log(`# node-redis ${nodeRedisVersion}, ioredis ${require("ioredis/package.json").version}`);
  try {
    await testIoredis();
  } catch (e) {
    fail(`ioredis exception: ${e.stack || e}`);
  }
  try {
    await testNodeRedisBasics(2);
  } catch (e) {
    fail(`node-redis RESP2 exception: ${e.stack || e}`);
  }
  if (Number(nodeRedisVersion.split(".")[0]) >= 5) {
    try {
      const c3 = await testNodeRedisBasics(3);
      await testNodeRedisResp3(c3);
    } catch (e) {
      fail(`node-redis RESP3 exception: ${e.stack || e}`);
    }
  } else {
    console.log(`# node-redis ${nodeRedisVersion} has no RESP3 option; RESP3 not tested`);
  }
  try {
    await testRawResp3();
  } catch (e) {
    fail(`raw RESP3 exception: ${e.stack || e}`);
  }
  // the server is still healthy after every client above
  const res = await fetch(`${url}/healthz`).catch(() => null);
  if (res) eq("server still answers HTTP", true, res.status < 500);
} catch (e) {
  fail(`exception: ${e.stack || e}`);
} finally {
  for (const c of clients) {
    try {
      if (typeof c.destroy === "function") { if (c.isOpen) c.destroy(); } // node-redis
      else c.disconnect(); // ioredis and the raw socket
    } catch {
      /* already closed */
    }
  }
  clearTimeout(watchdog);
  // a clean exit also means no sanitizer report when the server is built with ASan/UBSan
  eq("server exits 0 on SIGTERM", 0, await stop());
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
