// Product blocks: the list, and one block with its resource types, the blocks it holds and the products using it.

import {api} from "../api.js";
import {badge, clear, emptyState, h} from "../dom.js";
import {catalogueTabs} from "../widgets.js";
import {PRODUCT_STATUSES} from "./products.js";

export async function render(ctx) {
  const [blocks, products] = await Promise.all([api("/product_blocks/"), api("/products/")]).then((answers) => answers.map((a) => a.data));
  const usedBy = (block) => products.filter((p) => p.product_blocks.some((b) => b.product_block_id === block.product_block_id));
  const heldBy = (block) => blocks.filter((b) => b.depends_on.some((d) => d.product_block_id === block.product_block_id));
  if (ctx.args.length) return renderBlock(ctx, blocks.find((b) => b.product_block_id === ctx.args[0]), usedBy, heldBy);
  ctx.setTitle("Product blocks");
  clear(
    ctx.view,
    h("h1", {}, "Product blocks"),
    catalogueTabs("product-blocks"),
    blocks.length
      ? h(
          "table",
          {class: "table blocks"},
          h("thead", {}, h("tr", {}, ["Block", "Tag", "Status", "Resource types", "Holds", "Used by products"].map((x) => h("th", {scope: "col"}, x)))),
          h(
            "tbody",
            {},
            blocks.map((b) =>
              h(
                "tr",
                {dataset: {block: b.name}},
                h("td", {}, h("a", {href: `#/product-blocks/${b.product_block_id}`}, h("strong", {}, b.name)), h("div", {class: "muted small"}, b.description)),
                h("td", {}, b.tag || "—"),
                h("td", {}, badge(b.status, PRODUCT_STATUSES)),
                h("td", {}, resourceLinks(b)),
                h("td", {}, blockLinks(b.depends_on)),
                h("td", {}, usedBy(b).map((p) => p.name).join(", ") || "—"),
              ),
            ),
          ),
        )
      : emptyState("The catalogue has no product blocks.", "Load a catalogue with ", h("code", {}, "orchestrion catalogue load FILE"), "."),
  );
}

export const resourceLinks = (block) =>
  block.resource_types.length ? block.resource_types.map((r) => h("div", {}, h("a", {href: `#/resource-types/${r.resource_type_id}`}, h("code", {}, r.resource_type)))) : "—";

const blockLinks = (blocks) => (blocks.length ? blocks.map((b) => h("div", {}, h("a", {href: `#/product-blocks/${b.product_block_id}`}, b.name))) : "—");

function renderBlock(ctx, block, usedBy, heldBy) {
  if (!block) {
    clear(ctx.view, h("h1", {}, "Unknown product block"), emptyState(`There is no product block ${ctx.args[0]}.`, h("a", {href: "#/product-blocks"}, "See them all"), "."));
    return;
  }
  ctx.setTitle(block.name);
  const facts = [
    ["Description", block.description || "—"],
    ["Tag", block.tag || "—"],
    ["Status", badge(block.status, PRODUCT_STATUSES)],
    ["Resource types", resourceLinks(block)],
    ["Holds blocks", blockLinks(block.depends_on)],
    ["Held by blocks", blockLinks(heldBy(block))],
    ["Used by products", usedBy(block).map((p) => h("div", {}, h("a", {href: "#/products"}, p.name)))],
  ];
  clear(
    ctx.view,
    h("p", {class: "crumbs"}, h("a", {href: "#/product-blocks"}, "Product blocks"), " ›"),
    h("h1", {}, block.name),
    h("dl", {class: "facts"}, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, Array.isArray(v) && !v.length ? "—" : v)))),
  );
}
