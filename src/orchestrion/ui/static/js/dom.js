// Building DOM, formatting values, and the status vocabulary shared by every page.

/** Create an element: h("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked" || key === "disabled" || key === "selected") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

const SVG = "http://www.w3.org/2000/svg";
const ICONS = {
  check: [["path", {d: "M3 8.5l3.2 3.2L13 4.8"}]],
  cross: [["path", {d: "M4 4l8 8M12 4l-8 8"}]],
  play: [["path", {d: "M5 3.2v9.6L12.8 8z", fill: "currentColor"}]],
  pause: [["path", {d: "M5.5 3.5v9M10.5 3.5v9"}]],
  clock: [["circle", {cx: 8, cy: 8, r: 5.8}], ["path", {d: "M8 4.8V8l2.2 1.6"}]],
  callback: [["path", {d: "M2.5 6h9l-2.5-2.5M13.5 10h-9l2.5 2.5"}]],
  stop: [["circle", {cx: 8, cy: 8, r: 5.8}], ["path", {d: "M4 12l8-8"}]],
  warn: [["path", {d: "M8 2.2l6.2 11H1.8z"}], ["path", {d: "M8 6.5v3M8 11.2v.3"}]],
  circle: [["circle", {cx: 8, cy: 8, r: 5}]],
  dot: [["circle", {cx: 8, cy: 8, r: 2.2, fill: "currentColor"}]],
  skip: [["path", {d: "M3 4l4.5 4L3 12M8.5 4l4.5 4-4.5 4"}]],
  retry: [["path", {d: "M12.8 7.2A5 5 0 1 0 11.5 11.6M13 3.2v4h-4"}]],
  lock: [["rect", {x: 3.5, y: 7, width: 9, height: 6.5, rx: 1}], ["path", {d: "M5.5 7V5.2a2.5 2.5 0 0 1 5 0V7"}]],
  unlock: [["rect", {x: 3.5, y: 7, width: 9, height: 6.5, rx: 1}], ["path", {d: "M5.5 7V5.2a2.5 2.5 0 0 1 4.8-1"}]],
};

/** An inline SVG icon (decorative: screen readers read the text next to it). */
export function icon(name, extraClass = "") {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("class", `icon ${extraClass}`.trim());
  svg.setAttribute("aria-hidden", "true");
  for (const [tag, attrs] of ICONS[name] || ICONS.circle) {
    const part = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, v);
    svg.append(part);
  }
  return svg;
}

// Process statuses as the API names them: tone (colour), icon, and a sentence for the tooltip.
export const PROCESS_STATUSES = {
  created: {tone: "neutral", icon: "circle", help: "Created; a worker picks it up next"},
  running: {tone: "info", icon: "play", help: "A worker is running its steps"},
  resumed: {tone: "info", icon: "play", help: "Handed back to a worker; it continues shortly"},
  suspended: {tone: "attention", icon: "pause", help: "Waiting for someone to fill in its form"},
  waiting: {tone: "attention", icon: "clock", help: "A retry step failed; it is retried automatically"},
  awaiting_callback: {tone: "attention", icon: "callback", help: "Waiting for an external system to call back"},
  awaiting_children: {tone: "info", icon: "clock", help: "Waiting, without a worker, for the processes its steps started"},
  failed: {tone: "danger", icon: "cross", help: "A step failed; retry it once the cause is fixed"},
  api_unavailable: {tone: "danger", icon: "warn", help: "A task could not reach an external API"},
  inconsistent_data: {tone: "danger", icon: "warn", help: "A task found data that does not agree"},
  aborted: {tone: "muted", icon: "stop", help: "Stopped by a person; it will not continue"},
  completed: {tone: "success", icon: "check", help: "All steps done"},
};
export const STEP_STATUSES = {
  success: {tone: "success", icon: "check"},
  complete: {tone: "success", icon: "check"},
  skipped: {tone: "muted", icon: "skip"},
  suspend: {tone: "attention", icon: "pause"},
  waiting: {tone: "attention", icon: "clock"},
  awaiting_callback: {tone: "attention", icon: "callback"},
  awaiting_children: {tone: "info", icon: "clock"},
  failed: {tone: "danger", icon: "cross"},
  abort: {tone: "muted", icon: "stop"},
  pending: {tone: "pending", icon: "dot"},
};
export const SUBSCRIPTION_STATUSES = {
  initial: {tone: "neutral", icon: "circle"},
  provisioning: {tone: "info", icon: "play"},
  active: {tone: "success", icon: "check"},
  migrating: {tone: "attention", icon: "retry"},
  disabled: {tone: "muted", icon: "pause"},
  terminated: {tone: "muted", icon: "stop"},
};
export const RETRYABLE = ["failed", "waiting", "api_unavailable", "inconsistent_data"];
export const FINISHED = ["completed", "aborted"];

/** A status badge: icon + the API's word for it (underscores as spaces). */
export function badge(status, vocabulary = PROCESS_STATUSES) {
  const meta = vocabulary[status] || {tone: "neutral", icon: "circle"};
  const spin = status === "running" || status === "resumed" ? "spin" : "";
  return h(
    "span",
    {class: `badge tone-${meta.tone}`, title: meta.help || status, dataset: {status}},
    icon(meta.icon, spin),
    (status || "unknown").replaceAll("_", " "),
  );
}

const relative = new Intl.RelativeTimeFormat(undefined, {numeric: "auto", style: "short"});
const UNITS = [
  ["year", 365 * 24 * 3600],
  ["month", 30 * 24 * 3600],
  ["week", 7 * 24 * 3600],
  ["day", 24 * 3600],
  ["hour", 3600],
  ["minute", 60],
  ["second", 1],
];

function relativeTime(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  if (Math.abs(seconds) < 10) return "just now";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

const sameDay = (a, b) => a.toDateString() === b.toDateString();

/** Local date and time; the date is left out for today. */
function localTime(date) {
  const time = date.toLocaleTimeString(undefined, {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  if (sameDay(date, new Date())) return time;
  return `${date.toLocaleDateString(undefined, {year: "numeric", month: "short", day: "numeric"})} ${time}`;
}

/** A <time> showing local time and, smaller, how long ago; refreshed by tickRelativeTimes. */
export function timeEl(iso, {relativeOnly = false} = {}) {
  if (!iso) return h("span", {class: "muted"}, "—");
  const date = new Date(iso);
  const full = date.toLocaleString(undefined, {dateStyle: "full", timeStyle: "long"});
  return h(
    "time",
    {datetime: iso, title: full},
    relativeOnly ? null : h("span", {class: "abs"}, localTime(date)),
    h("span", {class: relativeOnly ? "rel only" : "rel", dataset: {rel: iso}}, relativeTime(date)),
  );
}

export function tickRelativeTimes(root = document) {
  for (const el of root.querySelectorAll("[data-rel]")) el.textContent = relativeTime(new Date(el.dataset.rel));
}

export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const hours = Math.floor(m / 60);
  if (hours < 48) return `${hours} h ${m % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

export const shortId = (id) => (id ? String(id).slice(0, 8) : "");

/** A short id shown in monospace with the full id as tooltip and a copy button. */
export function idEl(id) {
  return h(
    "span",
    {class: "id"},
    h("code", {title: id}, shortId(id)),
    h(
      "button",
      {
        type: "button",
        class: "link small",
        title: "Copy the full id",
        "aria-label": `Copy id ${id}`,
        onclick: () => navigator.clipboard?.writeText(id).then(() => toast("Id copied")),
      },
      "copy",
    ),
  );
}

export const isUuid = (value) =>
  typeof value === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** Plain JSON shown as nested key/value lists; ids in monospace. */
export function valueTree(value) {
  if (value === null || value === undefined) return h("span", {class: "json-null"}, "null");
  if (Array.isArray(value)) {
    if (!value.length) return h("span", {class: "muted"}, "[ ] empty list");
    return h("ol", {class: "tree list", start: 0}, value.map((item) => h("li", {}, valueTree(item))));
  }
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return h("span", {class: "muted"}, "{ } empty");
    return h("dl", {class: "tree"}, keys.map((key) => [h("dt", {}, key), h("dd", {}, valueTree(value[key]))]));
  }
  if (typeof value === "boolean") return h("span", {class: "json-bool"}, String(value));
  if (typeof value === "number") return h("span", {class: "json-num"}, String(value));
  if (isUuid(value)) return h("code", {class: "json-str"}, value);
  return h("span", {class: "json-str"}, value);
}

export function toast(message, tone = "info") {
  const box = document.getElementById("toasts");
  const el = h("div", {class: `toast tone-${tone}`}, message);
  box.append(el);
  setTimeout(() => el.remove(), tone === "danger" ? 8000 : 3500);
}

/** Ask before doing something; resolves true when confirmed. Esc or Cancel resolve false. */
export function confirmDialog({title, body, confirm = "Confirm", tone = "primary"}) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      {class: "dialog", "aria-labelledby": "confirm-title"},
      h(
        "form",
        {method: "dialog"},
        h("h2", {id: "confirm-title"}, title),
        body ? h("p", {}, body) : null,
        h(
          "div",
          {class: "actions"},
          h("button", {value: "cancel", class: "secondary"}, "Cancel"),
          h("button", {value: "ok", class: tone, autofocus: true}, confirm),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function emptyState(title, ...hints) {
  return h("div", {class: "empty"}, h("p", {class: "empty-title"}, title), hints.length ? h("p", {}, hints) : null);
}

export function errorBox(message) {
  return h("div", {class: "error-box", role: "alert"}, message);
}

export const humanize = (name) =>
  String(name)
    .replace(/_/g, " ")
    .replace(/^\w/, (c) => c.toUpperCase());
