// Subscriptions: search (description, id, resource values), filter by status, product, customer; sort and page.

import {api} from "../api.js";
import {badge, clear, emptyState, h, icon, SUBSCRIPTION_STATUSES, timeEl} from "../dom.js";
import {setParams} from "../nav.js";
import {labelled, pager, select, sortableHeader} from "../widgets.js";

const SIZE = 25;

export async function render(ctx) {
  ctx.setTitle("Subscriptions");
  const products = (await api("/products/")).data;
  const p = ctx.params;
  const state = {
    q: p.get("q") || "",
    status: p.get("status") || "",
    product: p.get("product") || "",
    customer: p.get("customer") || "",
    insync: p.get("insync") || "",
    sort: p.get("sort") || "start_date,DESC",
    page: Math.max(0, Number(p.get("page")) || 0),
  };
  const search = h("input", {type: "search", id: "s-q", value: state.q, placeholder: "Description, id, port, address…", "data-search": true});
  const status = select("s-status", [["", "any status"], ...Object.keys(SUBSCRIPTION_STATUSES).map((s) => [s, s])], state.status);
  const product = select("s-product", [["", "any product"], ...products.map((x) => [x.name, x.name])], state.product);
  const customer = h("input", {type: "text", id: "s-customer", value: state.customer, placeholder: "Part of a customer id"});
  const insync = select("s-insync", [["", "any"], ["true", "in sync"], ["false", "locked (not in sync)"]], state.insync);
  const results = h("div", {"aria-live": "polite"});
  clear(
    ctx.view,
    h("div", {class: "page-head"}, h("h1", {}, "Subscriptions"), h("a", {class: "button primary", href: "#/products"}, "Create one from a product")),
    h(
      "form",
      {class: "filters", role: "search", onsubmit: (e) => e.preventDefault()},
      labelled("Search", search),
      labelled("Status", status),
      labelled("Product", product),
      labelled("Customer", customer),
      labelled("Sync", insync),
    ),
    results,
  );

  let lastSignature = null;
  async function load({force = false} = {}) {
    const filter = [];
    if (state.status) filter.push("status", state.status);
    if (state.product) filter.push("product", state.product);
    if (state.customer) filter.push("customer_id", state.customer.replaceAll(",", " "));
    if (state.insync) filter.push("insync", state.insync);
    const first = state.page * SIZE;
    const {data, total} = await api("/subscriptions/", {
      params: {range: `${first},${first + SIZE}`, sort: state.sort, filter: filter.join(","), query: state.q},
    });
    if (!ctx.isCurrent()) return;
    const signature = JSON.stringify([data, total, state]);
    if (!force && signature === lastSignature) return;
    lastSignature = signature;
    if (!data.length) {
      clear(
        results,
        filter.length || state.q
          ? emptyState("No subscription matches these filters.", "Loosen them to see more.")
          : emptyState("No subscriptions yet.", "Start a create workflow from the ", h("a", {href: "#/products"}, "products page"), "."),
      );
      return;
    }
    const onSort = (sort) => apply({sort, page: 0});
    const col = (label, field) => sortableHeader(label, field, state.sort, onSort);
    clear(
      results,
      h(
        "table",
        {class: "table subscriptions"},
        h(
          "thead",
          {},
          h("tr", {}, col("Description", "description"), col("Status", "status"), col("Sync", "insync"), col("Product", "product"), col("Customer", "customer_id"), col("Start", "start_date")),
        ),
        h(
          "tbody",
          {},
          data.map((s) =>
            h(
              "tr",
              {dataset: {subscription: s.subscription_id}},
              h("td", {}, h("a", {href: `#/subscriptions/${s.subscription_id}`, class: "row-link"}, s.description || s.subscription_id)),
              h("td", {}, badge(s.status, SUBSCRIPTION_STATUSES)),
              h("td", {}, s.insync ? h("span", {class: "muted"}, "in sync") : h("span", {class: "pill tone-attention"}, icon("lock"), "locked")),
              h("td", {}, s.product.name),
              h("td", {}, s.customer_id),
              h("td", {}, timeEl(s.start_date)),
            ),
          ),
        ),
      ),
      pager({page: state.page, size: SIZE, total, onPage: (page) => apply({page})}),
    );
  }

  function apply(changes) {
    Object.assign(state, changes);
    setParams("/subscriptions", {...state, sort: state.sort === "start_date,DESC" ? "" : state.sort, page: state.page || ""});
    return load({force: true});
  }

  let typing = null;
  const typed = (key, input) =>
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => apply({[key]: input.value.trim(), page: 0}), 250);
    });
  typed("q", search);
  typed("customer", customer);
  status.addEventListener("change", () => apply({status: status.value, page: 0}));
  product.addEventListener("change", () => apply({product: product.value, page: 0}));
  insync.addEventListener("change", () => apply({insync: insync.value, page: 0}));
  ctx.onLeave(() => clearTimeout(typing));
  await load({force: true});
  ctx.poll(load, 5000, (change) => change.type === "subscriptions");
}
