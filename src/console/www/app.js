// Redcar console: a router over views.js and the token dialog.
import { token, setToken } from "./api.js";
import { $ } from "./dom.js";
import { tail, event, kv, key, cursors, charts, setStatus } from "./views.js";

// "#/event/12" -> section view-event, params ["12"]. The nav tab of a
// detail view is its parent's.
const routes = {
  tail: { view: tail, nav: "tail" },
  event: { view: event, nav: "tail" },
  kv: { view: kv, nav: "kv" },
  key: { view: key, nav: "kv" },
  cursors: { view: cursors, nav: "cursors" },
  charts: { view: charts, nav: "charts" },
};
let current = null;

function route() {
  const [name, ...params] = location.hash.replace(/^#\/?/, "").split("/");
  const r = routes[name] || routes.tail;
  const id = routes[name] ? name : "tail";
  if (current) current.view.leave();
  for (const s of document.querySelectorAll("section.view")) s.hidden = s.id !== `view-${id}`;
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === r.nav);
  current = r;
  r.view.enter(params);
}

// The token the user last dismissed the dialog for: polling keeps getting
// 401s, and the dialog should not come back every second.
let dismissed = null;

function tokenDialog() {
  const d = $("#token-dialog");
  $("#token-input").value = token();
  if (!d.open) {
    d.returnValue = "";
    d.showModal();
  }
}

function init() {
  $("#token-open").addEventListener("click", tokenDialog);
  $("#token-cancel").addEventListener("click", () => $("#token-dialog").close());
  $("#token-dialog").addEventListener("close", () => {
    if ($("#token-dialog").returnValue !== "set") dismissed = token();
  });
  $("#token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setToken($("#token-input").value.trim());
    $("#token-dialog").close("set");
    tail.restart(true);
    if (current) current.view.enter(location.hash.replace(/^#\/?/, "").split("/").slice(1));
  });
  window.addEventListener("redcar:auth", () => {
    setStatus("auth", "token needed");
    if (dismissed !== token()) tokenDialog();
  });
  for (const v of [tail, event, kv, key, cursors, charts]) v.init();
  window.addEventListener("hashchange", route);
  route();
}

init();
