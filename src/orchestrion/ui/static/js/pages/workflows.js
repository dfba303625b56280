// Workflows: every registered one by target, and one with its products, its runs and a way to start it.

import {api} from "../api.js";
import {clear, emptyState, errorBox, h} from "../dom.js";
import {catalogueTabs, targetTag, TARGETS} from "../widgets.js";
import {startLink} from "./start.js";

// Where a workflow of each target starts: create workflows from a product, the others from a subscription.
const STARTS = {
  CREATE: "Starts from its product on the products page, or from Start workflow.",
  SYSTEM: "A task: run it from the tasks page, or schedule it there.",
};

export async function render(ctx) {
  if (ctx.args.length) return renderWorkflow(ctx, ctx.args[0]);
  ctx.setTitle("Workflows");
  const workflows = (await api("/workflows/")).data;
  const byTarget = TARGETS.map((t) => [t, workflows.filter((wf) => wf.target === t)]).filter(([, list]) => list.length);
  clear(
    ctx.view,
    h("h1", {}, "Workflows"),
    catalogueTabs("workflows"),
    workflows.length
      ? h(
          "table",
          {class: "table workflows"},
          h("thead", {}, h("tr", {}, ["Workflow", "Target", "Products"].map((x) => h("th", {scope: "col"}, x)))),
          h(
            "tbody",
            {},
            byTarget.flatMap(([, list]) =>
              list.map((wf) =>
                h(
                  "tr",
                  {dataset: {workflow: wf.name}},
                  h("td", {}, h("a", {href: `#/workflows/${encodeURIComponent(wf.name)}`, class: "wf-desc"}, wf.description), h("span", {class: "wf-name"}, wf.name), wf.error ? h("div", {class: "reason small"}, wf.error) : null),
                  h("td", {}, targetTag(wf.target)),
                  h("td", {}, wf.products.map((p) => p.name).join(", ") || "—"),
                ),
              ),
            ),
          ),
        )
      : emptyState("No workflows are registered.", "Start orchestrion with --import of the module that defines them, e.g. --import examples."),
  );
}

async function renderWorkflow(ctx, name) {
  const wf = (await api(`/workflows/${encodeURIComponent(name)}`)).data;
  ctx.setTitle(wf.description);
  const runs = `#/processes?kind=${wf.is_task ? "tasks" : "all"}&workflow=${encodeURIComponent(wf.name)}`;
  const starts = STARTS[wf.target] || "Starts from the page of a subscription of one of its products.";
  const facts = [
    ["Name", h("code", {}, wf.name)],
    ["Target", targetTag(wf.target)],
    ["Kind", wf.is_task ? "task" : "workflow"],
    ["Products", wf.products.length ? wf.products.map((p) => h("div", {}, p.name, " ", h("span", {class: "muted"}, p.description))) : "—"],
    ["Starts", starts],
  ];
  clear(
    ctx.view,
    h("p", {class: "crumbs"}, h("a", {href: "#/workflows"}, "Workflows"), " ›"),
    h("div", {class: "page-head"}, h("h1", {}, wf.description, " ", targetTag(wf.target)), h("div", {class: "actions"}, h("a", {class: "button secondary", href: runs}, "Its processes"), wf.target === "CREATE" || wf.is_task ? startLink(wf.name, wf.is_task ? "Run now" : "Start", {}, {class: "button primary"}) : null)),
    wf.error ? errorBox(`Its code cannot be loaded: ${wf.error}`) : null,
    h("dl", {class: "facts"}, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
  );
}
