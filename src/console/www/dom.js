// Tiny DOM helpers: everything from the server goes in as text, never HTML.
export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c instanceof Node ? c : String(c));
  return e;
}

export function row(cells, props = {}) {
  return el("tr", props, ...cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));
}

export const num = (v) => el("td", { class: "num" }, v ?? "");
export const mono = (v) => el("td", { class: "mono" }, v ?? "");

export function attrs(tbody, pairs) {
  tbody.replaceChildren(...pairs.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v))));
}

export function shortTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString(undefined, { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function pretty(data) {
  if (data === undefined) return "(no data)";
  return typeof data === "string" ? data : JSON.stringify(data, null, 2);
}
