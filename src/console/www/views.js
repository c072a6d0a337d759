// The console's views. Each has enter(params) and leave(); the router in
// app.js shows one section at a time. Only the public HTTP API is used.
import { getJSON, getText, stream, enc, AuthError } from "./api.js";
import { $, el, row, num, mono, attrs, shortTime, pretty } from "./dom.js";
import { LineChart } from "./chart.js";

const MAX_ROWS = 500;

export function setStatus(state, text) {
  const s = $("#status");
  s.dataset.state = state;
  s.textContent = text;
}

// ---- live tail: GET /events/stream with filters -------------------------------

export const tail = {
  ctl: null,
  last: 0,
  paused: false,
  filters: {},

  init() {
    $("#tail-filter").addEventListener("submit", (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      this.filters = {};
      for (const [k, v] of f) if (v.trim()) this.filters[k] = v.trim();
      this.restart(true);
    });
    $("#tail-clear").addEventListener("click", () => {
      $("#tail-filter").reset();
      this.filters = {};
      this.restart(true);
    });
    $("#tail-pause").addEventListener("click", (e) => {
      this.paused = !this.paused;
      e.target.setAttribute("aria-pressed", String(this.paused));
      e.target.textContent = this.paused ? "Resume" : "Pause";
    });
    this.restart(true);
  },

  enter() {},
  leave() {},

  // fresh: clear the table and replay the last 50 matching events.
  async restart(fresh) {
    if (this.ctl) this.ctl.abort();
    const ctl = (this.ctl = new AbortController());
    const body = $("#tail-table tbody");
    if (fresh) {
      body.replaceChildren();
      this.last = 0;
    }
    const q = new URLSearchParams(this.filters);
    const desc = Object.entries(this.filters).map(([k, v]) => `${k}=${v}`).join(", ");
    try {
      if (fresh) {
        const info = await getJSON("/info", { signal: ctl.signal });
        this.last = Math.max(0, info.seq - 50);
      }
      q.set("after", String(this.last));
      $("#tail-info").textContent = `Following the log${desc ? " where " + desc : ""}; newest first.`;
      await stream("/events/stream?" + q, (m) => this.add(m), ctl.signal, () => setStatus("live", "live"));
      throw new Error("stream ended");
    } catch (e) {
      if (ctl.signal.aborted) return;
      setStatus(e instanceof AuthError ? "auth" : "retry", e instanceof AuthError ? "token needed" : "reconnecting");
      if (!(e instanceof AuthError)) setTimeout(() => this.ctl === ctl && this.restart(false), 2000);
    }
  },

  add(m) {
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    this.last = Math.max(this.last, ev.seq || Number(m.id) || 0);
    if (this.paused) return;
    const body = $("#tail-table tbody");
    const tr = row(
      [num(ev.seq), mono(shortTime(ev.time)), ev.type, ev.source, ev.subject ?? "", mono(ev.id)],
      { class: "link fresh", dataset: { seq: String(ev.seq) } },
    );
    tr.addEventListener("click", () => (location.hash = `#/event/${ev.seq}`));
    body.prepend(tr);
    while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  },
};

// ---- one event: GET /events/{seq} as structured JSON ---------------------------

export const event = {
  init() {},
  async enter([seq]) {
    const n = Number(seq);
    $("#ev-seq").textContent = seq;
    const prev = $("#ev-prev"), next = $("#ev-next");
    prev.href = `#/event/${n - 1}`;
    prev.setAttribute("aria-disabled", String(n <= 1));
    next.href = `#/event/${n + 1}`;
    const err = $("#ev-error");
    err.hidden = true;
    $("#ev-attrs tbody").replaceChildren();
    $("#ev-data").textContent = "";
    try {
      const ev = await getJSON(`/events/${enc(seq)}`, { headers: { Accept: "application/cloudevents+json" } });
      const { data, data_base64, ...rest } = ev;
      attrs($("#ev-attrs tbody"), Object.entries(rest).map(([k, v]) => [k, typeof v === "object" ? JSON.stringify(v) : String(v)]));
      $("#ev-data").textContent = data_base64 !== undefined ? `(base64) ${data_base64}` : pretty(data);
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  },
  leave() {},
};

// ---- KV browser: GET /kv, /kv/{key}, /kv/{key}/history -------------------------

export const kv = {
  prefix: "",
  init() {
    $("#kv-filter").addEventListener("submit", (e) => {
      e.preventDefault();
      this.prefix = new FormData(e.target).get("prefix").trim();
      this.load();
    });
  },
  enter() {
    this.load();
  },
  leave() {},
  async load() {
    const q = new URLSearchParams({ limit: "200" });
    if (this.prefix) q.set("prefix", this.prefix);
    try {
      const r = await getJSON("/kv?" + q);
      const items = r.items || [];
      $("#kv-info").textContent = `${items.length} of ${r.count ?? items.length} keys${this.prefix ? ` starting with "${this.prefix}"` : ""}.`;
      $("#kv-table tbody").replaceChildren(
        ...items.map((it) => {
          const tr = row([mono(it.key), it.kind || "string", num(it.version), num(it.mod_seq),
            mono(it.value !== undefined ? pretty(it.value) : "")], { class: "link", dataset: { key: it.key } });
          tr.addEventListener("click", () => (location.hash = `#/key/${enc(it.key)}`));
          return tr;
        }),
      );
    } catch (e) {
      $("#kv-info").textContent = e.message;
    }
  },
};

export const key = {
  init() {},
  async enter([k]) {
    const name = decodeURIComponent(k);
    $("#key-name").textContent = name;
    const err = $("#key-error");
    err.hidden = true;
    $("#key-value").textContent = "";
    $("#key-meta tbody").replaceChildren();
    $("#key-history tbody").replaceChildren();
    try {
      const list = await getJSON("/kv?" + new URLSearchParams({ key: name, limit: "1" }));
      const it = (list.items || []).find((i) => i.key === name);
      if (!it) throw new Error(`no key "${name}"`);
      attrs($("#key-meta tbody"), [["kind", it.kind || "string"], ["version", String(it.version)],
        ["created at seq", String(it.create_seq)], ["last changed at seq", String(it.mod_seq)],
        ...(it.content_type ? [["content type", it.content_type]] : []),
        ...(it.expire_at ? [["expires", it.expire_at]] : [])]);
      if ((it.kind || "string") === "string") {
        $("#key-value").textContent = (await getText(`/kv/${enc(name)}`)).text;
      } else {
        $("#key-value").textContent = `(a ${it.kind}: its changes are in the history below)`;
      }
      const hist = await getJSON(`/kv/${enc(name)}/history`);
      $("#key-history tbody").replaceChildren(
        ...hist.slice(-200).reverse().map((ev) => {
          const tr = row([num(ev.seq), mono(shortTime(ev.time)), ev.type, mono(pretty(ev.data))], { class: "link" });
          tr.addEventListener("click", () => (location.hash = `#/event/${ev.seq}`));
          return tr;
        }),
      );
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  },
  leave() {},
};

// ---- cursors and consumer groups: GET /cursors, polled -------------------------

export const cursors = {
  timer: 0,
  init() {},
  enter() {
    this.load();
    this.timer = setInterval(() => this.load(), 2000);
  },
  leave() {
    clearInterval(this.timer);
  },
  async load() {
    try {
      const r = await getJSON("/cursors");
      const list = r.cursors || [];
      $("#cursor-table tbody").replaceChildren(
        ...list.map((c) => {
          const frac = c.head_seq ? Math.min(1, c.lag / c.head_seq) : 0;
          const bar = el("span");
          bar.style.width = `${Math.max(frac * 100, c.lag ? 4 : 0)}%`;
          const lag = el("td", { class: "num" }, el("div", { class: c.lag ? "lag" : "lag zero" },
            el("span", { class: "lagbar" }, bar), el("span", { class: "lagval" }, String(c.lag))));
          return row([mono(c.name), c.mode, num(c.read_seq), num(c.ack_seq), num(c.head_seq), lag,
            num(c.pending), num(c.delivered), num(c.acked), num(c.dead_lettered)], { dataset: { name: c.name } });
        }),
      );
      $("#cursor-info").textContent = list.length ? `Updated ${new Date().toLocaleTimeString()}.` : "No durable consumers yet.";
    } catch (e) {
      $("#cursor-info").textContent = e.message;
    }
  },
};

// ---- charts: GET /info once a second, always (so the history builds up) --------

export const charts = {
  rate: null,
  subs: null,
  prev: null,
  init() {
    this.rate = new LineChart($("#chart-rate"), { decimals: 1 });
    this.subs = new LineChart($("#chart-subs"));
    this.sample();
    setInterval(() => this.sample(), 1000);
    window.addEventListener("resize", () => this.draw());
  },
  enter() {
    this.draw();
  },
  leave() {},
  draw() {
    this.rate.draw();
    this.subs.draw();
  },
  async sample() {
    let info;
    try {
      info = await getJSON("/info");
    } catch {
      return;
    }
    const now = performance.now();
    if (this.prev) {
      const dt = (now - this.prev.t) / 1000;
      const rate = dt > 0 ? Math.max(0, info.seq - this.prev.seq) / dt : 0;
      this.rate.push(rate);
      $("#rate-now").textContent = rate.toFixed(1);
    }
    this.prev = { t: now, seq: info.seq };
    this.subs.push(info.subscribers);
    $("#subs-now").textContent = String(info.subscribers);
    const fig = (label, value) => el("div", { class: "figure" }, el("div", { class: "label" }, label),
      el("div", { class: "value" }, String(value)));
    $("#figures").replaceChildren(fig("head seq", info.seq), fig("events", info.events), fig("keys", info.keys),
      fig("subscribers", info.subscribers), fig("uptime", `${info.uptime_s}s`), fig("version", info.version));
  },
};
