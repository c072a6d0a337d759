// SPDX-License-Identifier: Apache-2.0
// The web console end to end: a real redcar on free ports, Debian's
// chromium driven headless by playwright-core. Loads the page, sees an
// event POSTed with fetch appear live, filters the tail, opens the detail
// view, browses a KV key and its history, sees a consumer group and a
// cursor with their lag, sees the charts take samples; then the same page
// against a server with a password asks for a token and follows the tail
// with it. Checks the static files' headers (types, ETag/304, CSP) and that
// the page raised no error and no CSP violation. A screenshot of each view
// goes to $REDCAR_BUILD/artifacts/console/.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.REDCAR_BIN;
const SRC = process.env.REDCAR_SRC || join(import.meta.dirname ?? ".", "../..");
const BUILD = process.env.REDCAR_BUILD || join(SRC, "build");
if (!BIN) throw new Error("REDCAR_BIN must point at the redcar binary");
execFileSync(join(SRC, "scripts", "node-deps.sh"), { stdio: "inherit" });
const require = createRequire(join(SRC, "tests", "node", "package.json"));
const { chromium } = require("playwright-core");

const ART = join(BUILD, "artifacts", "console");
mkdirSync(ART, { recursive: true });

let passed = 0, failed = 0;
const ok = (what) => { passed++; console.log(`ok - ${what}`); };
const fail = (what) => { failed++; console.log(`FAIL - ${what}`); };
const check = (what, cond, detail = "") => (cond ? ok(what) : fail(`${what} ${detail}`));

// The whole test is bounded: past this, everything started is stopped.
const servers = [];
let browser;
const guard = setTimeout(async () => {
  console.log("FAIL - time limit reached");
  await cleanup();
  process.exit(1);
}, 180_000);

async function startServer(args = []) {
  const tmp = mkdtempSync(join(tmpdir(), "redcar-console-"));
  const log = join(tmp, "redcar.log");
  writeFileSync(log, "");
  const proc = spawn(BIN, ["-a", "127.0.0.1:0", "-r", "127.0.0.1:0", "-d", join(tmp, "data"), "-o", log, ...args],
    { stdio: "inherit" });
  const s = { proc, tmp, log };
  servers.push(s);
  for (let i = 0; i < 200 && !s.url; i++) {
    const m = readFileSync(log, "utf8");
    const port = /http: listening on 127\.0\.0\.1:(\d+)/.exec(m);
    if (port && m.includes("ready")) s.url = `http://127.0.0.1:${port[1]}`;
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (!s.url) throw new Error("server did not start:\n" + readFileSync(log, "utf8"));
  return s;
}

async function stopServer(s) {
  if (s.proc.exitCode === null) {
    process.kill(s.proc.pid, "SIGTERM"); // by PID: only the process this test started
    await new Promise((r) => (s.proc.exitCode !== null ? r() : s.proc.once("exit", r)));
  }
  rmSync(s.tmp, { recursive: true, force: true });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  for (const s of servers.splice(0)) await stopServer(s);
}

async function post(url, ev, headers = {}) {
  const r = await fetch(`${url}/events`, {
    method: "POST",
    headers: { "Content-Type": "application/cloudevents+json", ...headers },
    body: JSON.stringify({ specversion: "1.0", source: "/shop", ...ev }),
  });
  return (await r.json()).seq;
}

async function shot(page, name) {
  const path = join(ART, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  console.log(`# screenshot ${path}`);
}

const rowText = (page, sel) => page.$$eval(sel, (rows) => rows.map((r) => r.textContent));

try {
  const srv = await startServer();
  const url = srv.url;

  // ---- the files and their headers ------------------------------------------
  let r = await fetch(`${url}/`, { redirect: "manual" });
  check("GET / redirects to /console/", r.status === 302 && r.headers.get("location") === "/console/", `${r.status}`);
  r = await fetch(`${url}/console/`);
  const etag = r.headers.get("etag");
  const csp = r.headers.get("content-security-policy") || "";
  check("GET /console/ is HTML", r.status === 200 && r.headers.get("content-type").startsWith("text/html"));
  check("index has a strong ETag", /^"[0-9a-f]{20}"$/.test(etag || ""), etag);
  check("CSP allows no inline script and no other origin",
    csp.includes("default-src 'none'") && csp.includes("script-src 'self'") && !csp.includes("unsafe"), csp);
  check("revalidated (Cache-Control: no-cache)", r.headers.get("cache-control") === "no-cache");
  r = await fetch(`${url}/console/`, { headers: { "If-None-Match": etag } });
  check("If-None-Match answers 304", r.status === 304, `${r.status}`);
  r = await fetch(`${url}/console/app.js`);
  check("app.js is JavaScript", r.headers.get("content-type").startsWith("text/javascript"));
  r = await fetch(`${url}/console/console.css`);
  check("console.css is CSS", r.headers.get("content-type").startsWith("text/css"));
  r = await fetch(`${url}/console/..%2Fredcar.db`);
  check("an unknown file is 404", r.status === 404, `${r.status}`);

  // ---- a consumer group and a cursor, before the page opens ------------------
  for (const body of [{ name: "billing", mode: "group" }, { name: "audit" }]) {
    r = await fetch(`${url}/cursors`, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
    check(`created consumer ${body.name}`, r.status === 201, `${r.status} ${await r.text()}`);
  }

  browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"], headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.setDefaultTimeout(15_000);

  await page.goto(`${url}/`);
  check("the browser lands on /console/", page.url().startsWith(`${url}/console/`), page.url());
  await page.waitForSelector('#status[data-state="live"]');
  ok("the live tail is connected");

  // ---- live tail --------------------------------------------------------------
  const seq1 = await post(url, { id: "o-1", type: "order.created", subject: "orders/1", data: { total: 42 } });
  await page.waitForSelector(`#tail-table tr[data-seq="${seq1}"]`);
  ok("an event POSTed after the page loaded appears live");
  for (let i = 2; i <= 6; i++) await post(url, { id: `o-${i}`, type: i % 2 ? "order.created" : "order.shipped", subject: `orders/${i}` });
  await page.waitForSelector(`#tail-table tr[data-seq="${seq1 + 5}"]`);
  await shot(page, "tail");

  // ---- filter -------------------------------------------------------------------
  await page.fill('#tail-filter input[name="type"]', "order.shipped");
  await page.click('#tail-filter button[type="submit"]');
  await page.waitForFunction(() => document.querySelector("#tail-info").textContent.includes("type=order.shipped"));
  const seqA = await post(url, { id: "o-7", type: "order.created", subject: "orders/7" });
  const seqB = await post(url, { id: "o-8", type: "order.shipped", subject: "orders/8" });
  await page.waitForSelector(`#tail-table tr[data-seq="${seqB}"]`);
  const types = await rowText(page, "#tail-table tbody tr td:nth-child(3)");
  check("the filtered tail shows only order.shipped", types.length >= 3 && types.every((t) => t === "order.shipped"),
    JSON.stringify(types));
  check("the filtered-out event is absent", !(await page.$(`#tail-table tr[data-seq="${seqA}"]`)));
  await shot(page, "tail-filtered");

  // ---- detail view ---------------------------------------------------------------
  await page.click(`#tail-table tr[data-seq="${seqB}"]`);
  await page.waitForFunction(() => document.querySelector("#ev-attrs").textContent.includes("o-8"));
  const attrs = await page.textContent("#ev-attrs");
  check("the detail view shows the event's attributes", attrs.includes("order.shipped") && attrs.includes("orders/8"), attrs);
  check("the URL names the event", page.url().endsWith(`#/event/${seqB}`), page.url());
  await page.goto(`${url}/console/#/event/${seq1}`);
  await page.waitForFunction(() => document.querySelector("#ev-data").textContent.includes("42"));
  ok("the detail view shows the data");
  await shot(page, "event");

  // ---- KV browser -------------------------------------------------------------------
  await fetch(`${url}/kv/user:1`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "alice" });
  await fetch(`${url}/kv/user:1`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "alice2" });
  await fetch(`${url}/kv/user:2`, { method: "PUT", headers: { "Content-Type": "text/plain" }, body: "bob" });
  await page.click('a[data-nav="kv"]');
  await page.waitForSelector('#kv-table tr[data-key="user:1"]');
  ok("the KV browser lists keys");
  await shot(page, "kv");
  await page.click('#kv-table tr[data-key="user:1"]');
  await page.waitForFunction(() => document.querySelector("#key-value").textContent === "alice2");
  ok("the key view shows the value");
  await page.waitForFunction(() => document.querySelectorAll("#key-history tbody tr").length === 2);
  ok("the key view shows its history (2 versions)");
  await shot(page, "key");

  // ---- cursors and groups -------------------------------------------------------------
  const head = (await (await fetch(`${url}/info`)).json()).seq;
  await page.click('a[data-nav="cursors"]');
  await page.waitForSelector('#cursor-table tr[data-name="billing"]');
  await page.waitForFunction((h) => document.querySelector('#cursor-table tr[data-name="audit"] .lagval')?.textContent === String(h), head);
  ok(`the cursor shows its lag (${head})`);
  const mode = await page.textContent('#cursor-table tr[data-name="billing"] td:nth-child(2)');
  check("the consumer group is listed as a group", mode === "group", mode);
  // The lag follows the consumer: acknowledge up to head-2.
  r = await fetch(`${url}/cursors/audit/events?limit=100`);
  await r.text();
  r = await fetch(`${url}/cursors/audit/ack`, { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ seqs: [head - 2] }) });
  check("ack through the API", r.ok, `${r.status} ${await r.text()}`);
  await page.waitForFunction(() => document.querySelector('#cursor-table tr[data-name="audit"] .lagval')?.textContent === "2");
  ok("the lag drops after an ack (polling)");
  await shot(page, "cursors");

  // ---- charts ---------------------------------------------------------------------------
  await page.click('a[data-nav="charts"]');
  const samples = Number(await page.getAttribute("#chart-rate", "data-samples"));
  const burst = [];
  for (let i = 0; i < 40; i++) burst.push(post(url, { id: `b-${i}`, type: "load.test" }));
  await Promise.all(burst);
  await page.waitForFunction((n) => Number(document.querySelector("#chart-rate").dataset.samples) >= n + 2, samples);
  await page.waitForFunction(() => Number(document.querySelector("#chart-rate").dataset.max) > 0);
  ok("the append-rate chart took samples and saw the burst");
  const subs = await page.getAttribute("#chart-subs", "data-last");
  check("the subscribers chart counts the page's own stream", Number(subs) >= 1, subs);
  await page.waitForTimeout(1200);
  await shot(page, "charts");

  check("no page errors and no CSP violations", problems.length === 0, JSON.stringify(problems));
  await page.close();

  // ---- with a password: the page asks for a token ---------------------------------------
  const sec = await startServer(["--requirepass", "s3cret"]);
  const p2 = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  p2.setDefaultTimeout(15_000);
  const problems2 = [];
  p2.on("pageerror", (e) => problems2.push(e.message));
  await p2.goto(`${sec.url}/console/`);
  await p2.waitForSelector("#token-dialog[open]");
  ok("with requirepass the console asks for a token");
  await shot(p2, "token");
  // Cancelled, the dialog stays closed although polling keeps getting 401s;
  // the Token button brings it back.
  await p2.click("#token-cancel");
  await p2.waitForTimeout(2500);
  check("a cancelled token dialog does not come back by itself", !(await p2.$("#token-dialog[open]")));
  await p2.click("#token-open");
  await p2.waitForSelector("#token-dialog[open]");
  await p2.fill("#token-input", "s3cret");
  await p2.click('#token-form button[type="submit"]');
  await p2.waitForSelector('#status[data-state="live"]');
  ok("with the token the tail connects (SSE read with fetch and the bearer header)");
  const sseq = await post(sec.url, { id: "s-1", type: "secure.thing" }, { Authorization: "Bearer s3cret" });
  await p2.waitForSelector(`#tail-table tr[data-seq="${sseq}"]`);
  ok("an event appears live on the authenticated tail");
  check("no page errors with auth", problems2.length === 0, JSON.stringify(problems2));
  await p2.close();
} catch (e) {
  fail(`unexpected: ${e.stack || e}`);
} finally {
  clearTimeout(guard);
  await cleanup();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
