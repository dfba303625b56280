// Pieces several pages share: process tables, target tags, pagers, sortable headers, filter fields.

import {badge, h, shortId, SUBSCRIPTION_STATUSES, timeEl} from "./dom.js";

export const TARGETS = ["CREATE", "MODIFY", "TERMINATE", "VALIDATE", "RECONCILE", "SYSTEM"];

export function targetTag(target) {
  const t = String(target || "").toUpperCase();
  return h("span", {class: `tag target-${t.toLowerCase()}`}, t.toLowerCase());
}

function workflowLabel(name, workflows) {
  const description = workflows?.[name]?.description;
  if (!description || description === name) return h("span", {class: "wf-desc"}, name);
  return [h("span", {class: "wf-desc"}, description), h("span", {class: "wf-name"}, name)];
}

/** A table of processes; each row links to its process. `columns` picks and orders the optional ones. */
export function processTable(rows, workflows, {columns = ["target", "step", "by", "started", "modified"], sort, onSort} = {}) {
  const headers = {
    status: ["Status", "last_status"],
    workflow: ["Workflow", "workflow_name"],
    target: ["Target", "target"],
    subscription: ["Subscription", null],
    customer: ["Customer", null],
    step: ["Last step", "last_step"],
    by: ["Started by", "created_by"],
    started: ["Started", "started_at"],
    modified: ["Last change", "last_modified_at"],
    reason: ["Why", null],
  };
  const shown = ["status", "workflow", ...columns];
  const head = h(
    "tr",
    {},
    shown.map((key) => {
      const [label, field] = headers[key];
      if (!onSort || !field) return h("th", {scope: "col"}, label);
      return sortableHeader(label, field, sort, onSort);
    }),
  );
  const cells = {
    status: (p) => badge(p.last_status),
    workflow: (p) => h("a", {href: `#/processes/${p.process_id}`, class: "row-link"}, workflowLabel(p.workflow_name, workflows)),
    target: (p) => targetTag(p.workflow_target),
    subscription: (p) =>
      p.subscriptions?.length
        ? p.subscriptions.map((s) => h("div", {}, h("a", {href: `#/subscriptions/${s.subscription_id}`}, s.description || shortId(s.subscription_id))))
        : h("span", {class: "muted"}, "—"),
    customer: (p) => [...new Set((p.subscriptions || []).map((s) => s.customer_id))].join(", ") || h("span", {class: "muted"}, "—"),
    step: (p) => p.last_step || h("span", {class: "muted"}, "—"),
    by: (p) => p.created_by || h("span", {class: "muted"}, "—"),
    started: (p) => timeEl(p.started_at),
    modified: (p) => timeEl(p.last_modified_at),
    reason: (p) => h("span", {class: "reason"}, p.failed_reason || ""),
  };
  return h(
    "table",
    {class: "table processes"},
    h("thead", {}, head),
    h(
      "tbody",
      {},
      rows.map((p) =>
        h(
          "tr",
          {dataset: {process: p.process_id, status: p.last_status, workflow: p.workflow_name}},
          shown.map((key) => h("td", {class: `col-${key}`}, cells[key](p))),
        ),
      ),
    ),
  );
}

/** A header cell whose button sorts by `field` (again: reverses). `sort` is "field,ASC|DESC". */
export function sortableHeader(label, field, sort, onSort) {
  const [current, direction] = (sort || "").split(",");
  const active = current === field;
  const ariaSort = active ? (direction === "ASC" ? "ascending" : "descending") : "none";
  const arrow = active ? (direction === "ASC" ? " ▲" : " ▼") : "";
  return h(
    "th",
    {scope: "col", "aria-sort": ariaSort},
    h(
      "button",
      {
        type: "button",
        class: "sort",
        title: `Sort by ${label.toLowerCase()}`,
        onclick: () => onSort(`${field},${nextDirection(field, active, direction)}`),
      },
      label,
      arrow,
    ),
  );
}

// A new column sorts times newest first and text A to Z; the same column again reverses.
function nextDirection(field, active, direction) {
  if (active) return direction === "ASC" ? "DESC" : "ASC";
  return /(_at|_date)$/.test(field) ? "DESC" : "ASC";
}

/** "1–25 of 10,000" with first/previous/next/last buttons. `page` is 0-based. */
export function pager({page, size, total, onPage}) {
  const pages = Math.max(1, Math.ceil(total / size));
  const first = total ? page * size + 1 : 0;
  const last = Math.min(total, (page + 1) * size);
  const fmt = new Intl.NumberFormat();
  const button = (label, target, disabled, aria) =>
    h("button", {type: "button", class: "secondary small", disabled, "aria-label": aria, onclick: () => onPage(target)}, label);
  return h(
    "nav",
    {class: "pager", "aria-label": "Pages"},
    h("span", {class: "pager-count"}, `${fmt.format(first)}–${fmt.format(last)} of ${fmt.format(total)}`),
    button("«", 0, page === 0, "First page"),
    button("‹ Previous", page - 1, page === 0, "Previous page"),
    h("span", {class: "muted"}, `page ${fmt.format(page + 1)} of ${fmt.format(pages)}`),
    button("Next ›", page + 1, page >= pages - 1, "Next page"),
    button("»", pages - 1, page >= pages - 1, "Last page"),
  );
}

export function subscriptionLink(s) {
  return h(
    "span",
    {class: "sub-link"},
    h("a", {href: `#/subscriptions/${s.subscription_id}`}, s.description || s.subscription_id),
    " ",
    badge(s.status, SUBSCRIPTION_STATUSES),
    s.product_name ? h("span", {class: "muted"}, ` ${s.product_name}`) : null,
  );
}


const CATALOGUE_PAGES = [
  ["products", "Products"],
  ["product-blocks", "Product blocks"],
  ["resource-types", "Resource types"],
  ["workflows", "Workflows"],
];

/** The catalogue's pages as tabs under the Products entry of the top bar. */
export function catalogueTabs(current) {
  return h(
    "nav",
    {class: "tabs", "aria-label": "Catalogue"},
    CATALOGUE_PAGES.map(([path, label]) => h("a", {href: `#/${path}`, "aria-current": path === current ? "page" : null}, label)),
  );
}

/** The `<option>`s of `[value, label]` pairs, `value` selected. */
export function options(pairs, value) {
  return pairs.map(([v, label]) => h("option", {value: v, selected: v === value}, label));
}

export function select(id, pairs, value) {
  return h("select", {id}, options(pairs, value));
}

/** A filter field: its label above the control. */
export function labelled(text, control) {
  return h("div", {class: "filter"}, h("label", {for: control.id}, text), control);
}
