// SPDX-License-Identifier: Apache-2.0
// The official CloudEvents JavaScript SDK against the real server: emit in
// binary and structured mode (its HTTP helpers and its emitter over
// httpTransport) and as a batch, then read every event back with the SDK's
// own parser, structured, binary (Accept: the data's media type) and batch.
// The SDK comes from tests/node (scripts/node-deps.sh installs it when missing).
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.REDCAR_BIN;
const SRC = process.env.REDCAR_SRC || join(import.meta.dirname ?? ".", "../..");
const NT = join(SRC, "tests", "node");
if (!BIN) throw new Error("REDCAR_BIN must point at the redcar binary");
execFileSync(join(SRC, "scripts", "node-deps.sh"), { stdio: "inherit" });
const require = createRequire(join(NT, "package.json"));
const { CloudEvent, HTTP, emitterFor, httpTransport, Mode } = require("cloudevents");

let passed = 0, failed = 0;
const ok = (what) => { passed++; console.log(`ok - ${what}`); };
const fail = (what) => { failed++; console.log(`FAIL - ${what}`); };
const eq = (what, want, got) =>
  JSON.stringify(want) === JSON.stringify(got) ? ok(what) : fail(`${what}: expected ${JSON.stringify(want)} got ${JSON.stringify(got)}`);

// ---- start the server on free ports with a temporary data dir ----------------
const tmp = mkdtempSync(join(tmpdir(), "redcar-sdk-"));
const log = join(tmp, "redcar.log");
writeFileSync(log, "");
const server = spawn(BIN, ["-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", join(tmp, "data"), "-o", log], {
  stdio: "inherit",
});
let url;
for (let i = 0; i < 200 && !url; i++) {
  const m = readFileSync(log, "utf8");
  const port = /http: listening on 127\.0\.0\.1:(\d+)/.exec(m);
  if (port && m.includes("ready")) url = `http://127.0.0.1:${port[1]}`;
  else await new Promise((r) => setTimeout(r, 50));
}
const stop = async () => {
  server.kill("SIGTERM");
  await new Promise((r) => (server.exitCode !== null ? r() : server.once("exit", r)));
  rmSync(tmp, { recursive: true, force: true });
};

async function post(message) {
  const res = await fetch(`${url}/events`, { method: "POST", headers: message.headers, body: message.body });
  return { status: res.status, json: await res.json() };
}
async function get(path, headers = {}) {
  const res = await fetch(`${url}${path}`, { headers });
  const hdrs = {};
  res.headers.forEach((v, k) => (hdrs[k] = v));
  return { status: res.status, headers: hdrs, body: await res.text() };
}

try {
  if (!url) throw new Error("server did not start:\n" + readFileSync(log, "utf8"));

  // ---- binary mode with HTTP.binary ----------------------------------------
  const bin = new CloudEvent({
    id: "sdk-bin-1", source: "/sdk/test", type: "io.example.binary", subject: "a subject/with spaces",
    datacontenttype: "application/json", data: { hello: "world", n: 1 }, traceid: "abc123",
  });
  let r = await post(HTTP.binary(bin));
  eq("binary POST 201", 201, r.status);
  const binSeq = r.json.seq;
  eq("binary not duplicate", false, r.json.duplicate);

  // ---- structured mode with HTTP.structured ----------------------------------
  const st = new CloudEvent({
    id: "sdk-st-1", source: "/sdk/test", type: "io.example.structured",
    datacontenttype: "text/plain", data: "plain text ✓",
  });
  r = await post(HTTP.structured(st));
  eq("structured POST 201", 201, r.status);
  const stSeq = r.json.seq;
  r = await post(HTTP.structured(st));
  eq("structured duplicate 200", [200, true, stSeq], [r.status, r.json.duplicate, r.json.seq]);

  // ---- the SDK's emitter over its HTTP transport, both modes --------------------
  const emitBinary = emitterFor(httpTransport(`${url}/events`), { mode: Mode.BINARY });
  const emitStructured = emitterFor(httpTransport(`${url}/events`), { mode: Mode.STRUCTURED });
  await emitBinary(new CloudEvent({ id: "sdk-em-1", source: "/sdk/emitter", type: "io.example.emitted", data: { via: "binary" } }));
  await emitStructured(new CloudEvent({ id: "sdk-em-2", source: "/sdk/emitter", type: "io.example.emitted", data: { via: "structured" } }));
  ok("emitter sent binary and structured");

  // ---- a batch, media type application/cloudevents-batch+json -----------------------
  const batch = [1, 2, 3].map((i) => new CloudEvent({ id: `sdk-b-${i}`, source: "/sdk/batch", type: "io.example.batch", data: { i } }));
  r = await post({ headers: { "content-type": "application/cloudevents-batch+json" }, body: JSON.stringify(batch) });
  eq("batch POST 201", 201, r.status);
  eq("batch items", 3, r.json.items.length);

  // ---- read back, structured, parsed by the SDK -----------------------------------
  let g = await get(`/events/${binSeq}`);
  eq("GET structured 200", 200, g.status);
  let ev = HTTP.toEvent({ headers: g.headers, body: g.body });
  eq("structured readback attributes", ["sdk-bin-1", "/sdk/test", "io.example.binary", "a subject/with spaces", "abc123"],
     [ev.id, ev.source, ev.type, ev.subject, ev.traceid]);
  eq("structured readback data", { hello: "world", n: 1 }, ev.data);
  eq("structured readback seq", binSeq, Number(ev.seq));

  // ---- read back in binary mode (Accept: the data's media type) ------------------------
  g = await get(`/events/${stSeq}`, { accept: "text/plain" });
  eq("GET binary 200", 200, g.status);
  ev = HTTP.toEvent({ headers: g.headers, body: g.body });
  eq("binary readback", ["sdk-st-1", "io.example.structured", "plain text ✓", String(stSeq)],
     [ev.id, ev.type, ev.data, String(ev.seq)]);

  // ---- the whole log as a batch, parsed by the SDK --------------------------------------
  g = await get("/events?limit=100");
  const all = HTTP.toEvent({ headers: g.headers, body: g.body });
  eq("batch readback count", 7, all.length);
  eq("batch readback ids", ["sdk-bin-1", "sdk-st-1", "sdk-em-1", "sdk-em-2", "sdk-b-1", "sdk-b-2", "sdk-b-3"], all.map((e) => e.id));
  eq("batch readback seqs", [1, 2, 3, 4, 5, 6, 7], all.map((e) => Number(e.seq)));
  eq("emitted binary data", { via: "binary" }, all[2].data);
  eq("emitted structured data", { via: "structured" }, all[3].data);

  // ---- the SDK does not percent-encode header values (HTTP binding 3.1.3.2):
  // non-ASCII then reaches the server as Latin-1 bytes, which are not UTF-8
  // and are refused with a problem naming the header.
  const latin = HTTP.binary(new CloudEvent({ id: "sdk-latin", source: "/sdk", type: "t", subject: "naïve", data: "x" }));
  let lr = await fetch(`${url}/events`, { method: "POST", headers: latin.headers, body: latin.body });
  eq("unencoded non-ASCII header 400", [400, true], [lr.status, /ce-subject/.test((await lr.json()).detail)]);
  latin.headers["ce-subject"] = encodeURIComponent("naïve");
  lr = await fetch(`${url}/events`, { method: "POST", headers: latin.headers, body: latin.body });
  eq("percent-encoded non-ASCII header 201", 201, lr.status);
  const back = HTTP.toEvent(await get(`/events/${(await lr.json()).seq}`).then((x) => ({ headers: x.headers, body: x.body })));
  eq("percent-decoded subject", "naïve", back.subject);

  // ---- an invalid event from the SDK's own message gets a problem document --------------
  const bad = HTTP.binary(new CloudEvent({ id: "sdk-bad", source: "/sdk", type: "t", data: "x" }, false));
  delete bad.headers["ce-source"];
  const res = await fetch(`${url}/events`, { method: "POST", headers: bad.headers, body: bad.body });
  const prob = await res.json();
  eq("invalid binary 400 names source", [400, true], [res.status, /source/.test(prob.detail)]);
} catch (e) {
  fail(`exception: ${e.stack || e}`);
} finally {
  await stop();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
