// Start a workflow: pick one, then fill in its form page by page.

import {api, workflowsByName} from "../api.js";
import {clear, emptyState, errorBox, h} from "../dom.js";
import {formFlow} from "../forms.js";
import {navigate} from "../nav.js";
import {targetTag, TARGETS} from "../widgets.js";

// Loading a start page asks the API for the form, which starts a workflow that has none. So only a
// click in this UI ("intent") fetches the form at once; an address opened directly asks first.
let intent = null;

/** A link that opens the start form of `name` (with `params`: product, subscription, version). */
export function startLink(name, label, params = {}, attrs = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  const href = `#/start/${encodeURIComponent(name)}${query.toString() ? `?${query}` : ""}`;
  return h("a", {href, ...attrs, onclick: () => (intent = name)}, label);
}

export async function render(ctx) {
  if (ctx.args.length) return renderForm(ctx, ctx.args[0]);
  ctx.setTitle("Start a workflow");
  const [workflows, products] = await Promise.all([workflowsByName(), api("/products/").then((r) => r.data)]);
  const productsOf = {};
  for (const product of products) {
    for (const wf of product.workflows) (productsOf[wf.name] ||= []).push(product.name);
  }
  const search = h("input", {type: "search", id: "wf-search", placeholder: "Filter workflows", "data-search": true});
  const list = h("div", {});
  const show = () => {
    const term = search.value.trim().toLowerCase();
    const matching = Object.values(workflows).filter(
      (wf) => !term || `${wf.name} ${wf.description} ${(productsOf[wf.name] || []).join(" ")}`.toLowerCase().includes(term),
    );
    if (!Object.keys(workflows).length) {
      clear(list, emptyState("No workflows are registered.", "Start orchestrion with --import of the module that defines them, e.g. --import examples."));
      return;
    }
    if (!matching.length) {
      clear(list, emptyState(`No workflow matches “${search.value}”.`));
      return;
    }
    const groups = TARGETS.map((target) => [target, matching.filter((wf) => wf.target === target)]).filter(([, wfs]) => wfs.length);
    clear(
      list,
      groups.map(([target, wfs]) =>
        h(
          "section",
          {class: "card", "aria-label": target.toLowerCase()},
          h("h2", {}, targetTag(target), " ", TARGET_HELP[target]),
          h(
            "ul",
            {class: "wf-list"},
            wfs
              .sort((a, b) => a.description.localeCompare(b.description))
              .map((wf) =>
                h(
                  "li",
                  {},
                  startLink(wf.name, [h("span", {class: "wf-desc"}, wf.description), h("span", {class: "wf-name"}, wf.name)], {}, {class: "wf-item", dataset: {workflow: wf.name}}),
                  productsOf[wf.name] ? h("span", {class: "muted small"}, productsOf[wf.name].join(", ")) : null,
                ),
              ),
          ),
        ),
      ),
    );
  };
  search.addEventListener("input", show);
  show();
  clear(
    ctx.view,
    h("h1", {}, "Start a workflow"),
    h("p", {class: "muted"}, "Workflows that change a subscription (modify, terminate, validate) are easiest to start from the subscription's page."),
    h("div", {class: "filters"}, h("div", {class: "filter"}, h("label", {for: "wf-search"}, "Filter"), search)),
    list,
  );
}

const TARGET_HELP = {
  CREATE: "new subscriptions",
  MODIFY: "change a subscription",
  TERMINATE: "end a subscription",
  VALIDATE: "check a subscription",
  RECONCILE: "bring a subscription in line",
  SYSTEM: "tasks",
};

async function renderForm(ctx, name) {
  const workflows = await workflowsByName();
  const wf = workflows[name];
  if (!wf) {
    clear(ctx.view, h("h1", {}, "Unknown workflow"), errorBox(`There is no workflow called “${name}”.`), h("p", {}, h("a", {href: "#/start"}, "Pick one from the list"), "."));
    return;
  }
  ctx.setTitle(`Start ${wf.description}`);
  const p = ctx.params;
  const prefilled = [];
  const context = [];
  if (p.get("subscription")) {
    const page = {subscription_id: p.get("subscription")};
    if (p.get("version")) page.version = Number(p.get("version"));
    prefilled.push(page);
    const subscription = await api(`/subscriptions/${page.subscription_id}`).then((r) => r.data, () => null);
    context.push(h("p", {}, "On subscription ", h("a", {href: `#/subscriptions/${page.subscription_id}`}, subscription?.description || page.subscription_id)));
  } else if (p.get("product")) {
    prefilled.push({product: p.get("product")});
    const product = await api(`/products/${p.get("product")}`).then((r) => r.data, () => null);
    context.push(h("p", {}, "Product ", h("strong", {}, product?.name || p.get("product"))));
  }
  const flowBox = h("div", {class: "card"});
  clear(
    ctx.view,
    h("p", {class: "crumbs"}, h("a", {href: "#/start"}, "Start a workflow"), " ›"),
    h("h1", {}, wf.description, " ", targetTag(wf.target)),
    h("p", {class: "muted"}, h("code", {}, wf.name)),
    context,
    flowBox,
  );
  const begin = () =>
    formFlow(flowBox, {
      prefilled,
      submitLabel: wf.is_task ? "Run task" : "Start",
      submit: (pages) => api(`/processes/${encodeURIComponent(name)}`, {method: "POST", body: pages}),
      onDone: ({data}) => navigate(`/processes/${data.id}`),
    });
  if (intent === name) {
    intent = null;
    begin();
    return;
  }
  const button = h("button", {type: "button", class: "primary", id: "begin"}, "Begin");
  button.addEventListener("click", begin);
  clear(
    flowBox,
    h("p", {}, "Press Begin to open the form. A workflow or task without a form starts at once."),
    button,
  );
}
