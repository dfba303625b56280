// The single-page app: hash routes, the engine switch in the top bar, live polling, keyboard shortcuts.

import {describeError, forgetToken, getToken} from "./api.js";
import {clear, errorBox, h, tickRelativeTimes} from "./dom.js";
import {ENGINE_LABELS, engineStatus, setEngine} from "./engine.js";
import {isLive, startLive} from "./live.js";
import * as audit from "./pages/audit.js";
import * as dashboard from "./pages/dashboard.js";
import * as process from "./pages/process.js";
import * as processes from "./pages/processes.js";
import * as productBlocks from "./pages/product_blocks.js";
import * as products from "./pages/products.js";
import * as resourceTypes from "./pages/resource_types.js";
import * as start from "./pages/start.js";
import * as subscription from "./pages/subscription.js";
import * as subscriptions from "./pages/subscriptions.js";
import * as tasks from "./pages/tasks.js";
import * as workflowsPage from "./pages/workflows.js";

const ROUTES = [
  [/^\/$/, dashboard, "dashboard"],
  [/^\/processes$/, processes, "processes"],
  [/^\/processes\/([^/]+)$/, process, "processes"],
  [/^\/start$/, start, "start"],
  [/^\/start\/([^/]+)$/, start, "start"],
  [/^\/subscriptions$/, subscriptions, "subscriptions"],
  [/^\/subscriptions\/([^/]+)$/, subscription, "subscriptions"],
  [/^\/products$/, products, "products"],
  [/^\/product-blocks(?:\/([^/]+))?$/, productBlocks, "products"],
  [/^\/resource-types(?:\/([^/]+))?$/, resourceTypes, "products"],
  [/^\/workflows(?:\/([^/]+))?$/, workflowsPage, "products"],
  [/^\/tasks$/, tasks, "tasks"],
  [/^\/audit$/, audit, "audit"],
];

const main = document.getElementById("main");
let leaveHooks = [];
let renderSerial = 0;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return {path: path || "/", params: new URLSearchParams(query)};
}

// While the event stream is up, pages refresh on its changes; this slow poll is only a safety net.
const SAFETY_MS = 30000;

/**
 * Run `task` again while this page is shown: on each change from the event stream that `relevant`
 * accepts (none when it is null), and every `ms` while the stream is down or for changes it does
 * not carry. Hidden browser tabs do not poll; they refresh when shown again.
 */
function poller(serial) {
  return (task, ms, relevant = () => true) => {
    let timer = null;
    let debounce = null;
    let busy = false;
    let again = false;
    const active = () => serial === renderSerial;
    const run = async () => {
      if (!active() || document.hidden) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        await task();
        setOffline(null);
      } catch (error) {
        setOffline(describeError(error));
      } finally {
        busy = false;
      }
      if (again) {
        again = false;
        run();
      }
    };
    const schedule = () => {
      clearTimeout(timer);
      if (!active()) return;
      timer = setTimeout(async () => {
        await run();
        schedule();
      }, relevant && isLive() ? SAFETY_MS : ms);
    };
    const onChange = (event) => {
      if (!relevant?.(event.detail)) return;
      clearTimeout(debounce);
      debounce = setTimeout(run, 150);
    };
    const onVisible = () => {
      if (!document.hidden) run();
    };
    window.addEventListener("orchestrion:change", onChange);
    window.addEventListener("orchestrion:live", schedule);
    document.addEventListener("visibilitychange", onVisible);
    schedule();
    leaveHooks.push(() => {
      clearTimeout(timer);
      clearTimeout(debounce);
      window.removeEventListener("orchestrion:change", onChange);
      window.removeEventListener("orchestrion:live", schedule);
      document.removeEventListener("visibilitychange", onVisible);
    });
  };
}

function setOffline(message) {
  let banner = document.getElementById("offline");
  if (!message) {
    banner?.remove();
    return;
  }
  if (!banner) {
    banner = h("div", {id: "offline", class: "offline", role: "alert"});
    document.body.prepend(banner);
  }
  banner.textContent = `Live updates paused: ${message} Retrying…`;
}

async function route() {
  for (const hook of leaveHooks) hook();
  leaveHooks = [];
  const serial = ++renderSerial;
  const {path, params} = parseHash();
  let found = null;
  for (const [pattern, page, nav] of ROUTES) {
    const match = path.match(pattern);
    if (match) {
      found = {page, nav, args: match.slice(1).filter((arg) => arg !== undefined).map(decodeURIComponent)};
      break;
    }
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    if (found && link.dataset.nav === found.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const view = h("div", {class: "view"});
  if (!found) {
    clear(main, view);
    document.title = "Not found · orchestrion";
    clear(view, h("h1", {}, "Page not found"), h("p", {}, "There is no page at ", h("code", {}, path), ". ", h("a", {href: "#/"}, "Go to the dashboard"), "."));
    return;
  }
  const ctx = {
    view,
    params,
    args: found.args,
    poll: poller(serial),
    isCurrent: () => serial === renderSerial,
    onLeave: (hook) => leaveHooks.push(hook),
    setTitle: (title) => {
      document.title = `${title} · orchestrion`;
    },
  };
  clear(main, view);
  view.append(h("p", {class: "loading"}, "Loading…"));
  window.scrollTo(0, 0);
  try {
    await found.page.render(ctx);
  } catch (error) {
    if (serial !== renderSerial) return;
    clear(view, h("h1", {}, "Something went wrong"), errorBox(describeError(error)));
  }
  if (serial !== renderSerial) return;
  view.querySelector(".loading")?.remove();
  if (!view.contains(document.activeElement)) main.focus({preventScroll: true});
}

// --- engine switch ---------------------------------------------------------------------------

const engineBox = document.getElementById("engine");

function showEngine(data) {
  const [label, tone] = ENGINE_LABELS[data.global_status] || [data.global_status, "neutral"];
  const toggle = h(
    "button",
    {type: "button", class: "small secondary", id: "engine-toggle"},
    data.global_lock ? "Continue" : "Pause",
  );
  toggle.addEventListener("click", () => setEngine(!data.global_lock));
  const title = data.global_status === "PAUSING" ? `${data.running_processes} process(es) still finishing a step` : "";
  clear(engineBox, h("span", {class: `pill tone-${tone}`, id: "engine-status", title}, label), toggle);
}

function engineLoop() {
  let timer = null;
  const tick = async () => {
    clearTimeout(timer);
    if (!document.hidden) {
      try {
        // As an event: the top bar shows it, and pages waiting for the engine (a refused start) see it.
        window.dispatchEvent(new CustomEvent("orchestrion:engine", {detail: await engineStatus()}));
      } catch {
        clear(engineBox, h("span", {class: "pill tone-danger"}, "Engine status unknown"));
      }
    }
    timer = setTimeout(tick, isLive() ? SAFETY_MS : 5000);
  };
  window.addEventListener("orchestrion:change", (event) => {
    if (event.detail?.type === "engineStatus") tick();
  });
  document.addEventListener("visibilitychange", () => document.hidden || tick());
  tick();
}

function renderSession() {
  const box = document.getElementById("session");
  if (!getToken()) {
    clear(box);
    return;
  }
  const out = h("button", {type: "button", class: "small link"}, "Sign out");
  out.addEventListener("click", () => {
    forgetToken();
    location.reload();
  });
  clear(box, out);
}

// --- keyboard --------------------------------------------------------------------------------

const GO = {d: "/", p: "/processes", s: "/start", u: "/subscriptions", r: "/products", t: "/tasks", a: "/audit"};
let awaitingGo = false;

function showShortcuts() {
  const rows = [
    ["g d", "Dashboard"],
    ["g p", "Processes"],
    ["g s", "Start a workflow"],
    ["g u", "Subscriptions"],
    ["g r", "Products"],
    ["g t", "Tasks"],
    ["g a", "Audit log"],
    ["/", "Search or filter on this page"],
    ["?", "This help"],
  ];
  const dialog = h(
    "dialog",
    {class: "dialog", "aria-labelledby": "keys-title"},
    h(
      "form",
      {method: "dialog"},
      h("h2", {id: "keys-title"}, "Keyboard shortcuts"),
      h("dl", {class: "keys"}, rows.map(([keys, what]) => [h("dt", {}, h("kbd", {}, keys)), h("dd", {}, what)])),
      h("p", {class: "muted"}, "Tab moves between links, fields and buttons; Enter activates; Esc closes dialogs."),
      h("div", {class: "actions"}, h("button", {class: "primary", autofocus: true}, "Close")),
    ),
  );
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey || document.querySelector("dialog[open]")) return;
  if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
  if (awaitingGo) {
    awaitingGo = false;
    if (GO[event.key]) {
      event.preventDefault();
      location.hash = `#${GO[event.key]}`;
    }
    return;
  }
  if (event.key === "g") {
    awaitingGo = true;
    setTimeout(() => (awaitingGo = false), 1500);
  } else if (event.key === "/") {
    const search = main.querySelector("[data-search]");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  } else if (event.key === "?") {
    showShortcuts();
  }
});

window.addEventListener("hashchange", () => route());
window.addEventListener("orchestrion:engine", (event) => showEngine(event.detail));
window.addEventListener("orchestrion:token", renderSession);
setInterval(() => tickRelativeTimes(), 15000);
renderSession();
startLive();
engineLoop();
route();
