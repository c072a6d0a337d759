// The console's only door to the server: the public HTTP API, with the
// bearer token (when one is set) on every request.
const TOKEN_KEY = "redcar.token";

export const token = () => sessionStorage.getItem(TOKEN_KEY) || "";
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class AuthError extends Error {}

// A 401 means "ask for a token"; the page listens for this. An answer to a
// request sent with an older token says nothing about the current one.
function authNeeded(sent) {
  if (sent === token()) window.dispatchEvent(new CustomEvent("redcar:auth"));
}

export async function request(path, { method = "GET", headers = {}, body, signal } = {}) {
  const h = new Headers(headers);
  const t = token();
  if (t) h.set("Authorization", "Bearer " + t);
  const r = await fetch(path, { method, headers: h, body, signal, cache: "no-store" });
  if (r.status === 401) {
    authNeeded(t);
    throw new AuthError("authentication required");
  }
  return r;
}

// Problem details (RFC 9457) to one line.
async function problem(r) {
  try {
    const p = await r.json();
    return p.detail || p.title || `${r.status}`;
  } catch {
    return `${r.status} ${r.statusText}`;
  }
}

export async function getJSON(path, opts) {
  const r = await request(path, opts);
  if (!r.ok) throw new Error(await problem(r));
  return r.json();
}

export async function getText(path, opts) {
  const r = await request(path, opts);
  if (!r.ok) throw new Error(await problem(r));
  return { text: await r.text(), headers: r.headers };
}

// Server-Sent Events read with fetch(): EventSource cannot send an
// Authorization header, and the server takes the token only there.
// Calls onOpen() once the server accepted the stream, then
// onMessage({id, event, data}) per message; resolves when the server ends
// the stream, rejects on errors (and on abort through signal).
export async function stream(path, onMessage, signal, onOpen = () => {}) {
  const r = await request(path, { headers: { Accept: "text/event-stream" }, signal });
  if (!r.ok) throw new Error(await problem(r));
  onOpen();
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let msg = { data: [] };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (msg.data.length) onMessage({ id: msg.id, event: msg.event, data: msg.data.join("\n") });
        msg = { data: [] };
        continue;
      }
      if (line.startsWith(":")) continue; // comment / heartbeat
      const c = line.indexOf(":");
      const field = c < 0 ? line : line.slice(0, c);
      let v = c < 0 ? "" : line.slice(c + 1);
      if (v.startsWith(" ")) v = v.slice(1);
      if (field === "data") msg.data.push(v);
      else if (field === "id") msg.id = v;
      else if (field === "event") msg.event = v;
    }
  }
}

export const enc = encodeURIComponent;
