// Products with their blocks, fixed inputs and workflows; create workflows start from here.

import {api} from "../api.js";
import {badge, clear, emptyState, h} from "../dom.js";
import {catalogueTabs, targetTag} from "../widgets.js";
import {startLink} from "./start.js";

const ORDER = ["CREATE", "MODIFY", "TERMINATE", "VALIDATE", "RECONCILE", "SYSTEM"];
export const PRODUCT_STATUSES = {
  active: {tone: "success", icon: "check"},
  "pre production": {tone: "info", icon: "circle"},
  "phase out": {tone: "attention", icon: "clock"},
  end_of_life: {tone: "muted", icon: "stop"},
};

export async function render(ctx) {
  ctx.setTitle("Products");
  const products = (await api("/products/")).data;
  if (!products.length) {
    clear(
      ctx.view,
      h("h1", {}, "Products"),
      catalogueTabs("products"),
      emptyState("The catalogue is empty.", "Load one with ", h("code", {}, "orchestrion catalogue load FILE"), " or start the server with ", h("code", {}, "--catalogue FILE"), "."),
    );
    return;
  }
  clear(
    ctx.view,
    h("h1", {}, "Products"),
    catalogueTabs("products"),
    h(
      "table",
      {class: "table products"},
      h("thead", {}, h("tr", {}, ["Product", "Type", "Status", "Blocks", "Fixed inputs", "Workflows"].map((x) => h("th", {scope: "col"}, x)))),
      h(
        "tbody",
        {},
        products.map((p) =>
          h(
            "tr",
            {id: `product-${p.product_id}`, dataset: {product: p.name}},
            h("td", {}, h("strong", {}, p.name), h("div", {class: "muted small"}, p.description)),
            h("td", {}, p.product_type, h("div", {class: "muted small"}, p.tag)),
            h("td", {}, badge(p.status, PRODUCT_STATUSES)),
            h("td", {}, p.product_blocks.length ? p.product_blocks.map((b) => h("div", {}, h("a", {href: `#/product-blocks/${b.product_block_id}`}, b.name))) : "—"),
            h("td", {}, p.fixed_inputs.length ? p.fixed_inputs.map((f) => h("div", {}, h("code", {}, f.name), " = ", f.value)) : "—"),
            h(
              "td",
              {},
              h(
                "ul",
                {class: "plain"},
                [...p.workflows]
                  .sort((a, b) => ORDER.indexOf(a.target) - ORDER.indexOf(b.target))
                  .map((wf) =>
                    h(
                      "li",
                      {},
                      targetTag(wf.target),
                      " ",
                      wf.target === "CREATE"
                        ? startLink(wf.name, wf.description || wf.name, {product: p.product_id}, {title: `Start ${wf.name} for ${p.name}`})
                        : h("span", {title: "Start it from a subscription's page"}, wf.description || wf.name),
                    ),
                  ),
              ),
            ),
          ),
        ),
      ),
    ),
    h("p", {class: "muted"}, "Create workflows start here; the others start from the subscription they change."),
  );
}
