// Resource types: the list, and one with the product blocks that have it.

import {api} from "../api.js";
import {clear, emptyState, h} from "../dom.js";
import {catalogueTabs} from "../widgets.js";

export async function render(ctx) {
  const [types, blocks] = await Promise.all([api("/resource_types/"), api("/product_blocks/")]).then((answers) => answers.map((a) => a.data));
  const blocksOf = (type) => blocks.filter((b) => b.resource_types.some((r) => r.resource_type_id === type.resource_type_id));
  const blockLinks = (type) => blocksOf(type).map((b) => h("div", {}, h("a", {href: `#/product-blocks/${b.product_block_id}`}, b.name)));
  if (ctx.args.length) {
    const type = types.find((t) => t.resource_type_id === ctx.args[0]);
    if (!type) {
      clear(ctx.view, h("h1", {}, "Unknown resource type"), emptyState(`There is no resource type ${ctx.args[0]}.`, h("a", {href: "#/resource-types"}, "See them all"), "."));
      return;
    }
    ctx.setTitle(type.resource_type);
    const used = blockLinks(type);
    clear(
      ctx.view,
      h("p", {class: "crumbs"}, h("a", {href: "#/resource-types"}, "Resource types"), " ›"),
      h("h1", {}, h("code", {}, type.resource_type)),
      h(
        "dl",
        {class: "facts"},
        h("div", {}, h("dt", {}, "Description"), h("dd", {}, type.description || "—")),
        h("div", {}, h("dt", {}, "Product blocks"), h("dd", {}, used.length ? used : "—")),
      ),
    );
    return;
  }
  ctx.setTitle("Resource types");
  clear(
    ctx.view,
    h("h1", {}, "Resource types"),
    catalogueTabs("resource-types"),
    types.length
      ? h(
          "table",
          {class: "table resource-types"},
          h("thead", {}, h("tr", {}, ["Resource type", "Description", "Product blocks"].map((x) => h("th", {scope: "col"}, x)))),
          h(
            "tbody",
            {},
            types.map((t) =>
              h(
                "tr",
                {dataset: {resourceType: t.resource_type}},
                h("td", {}, h("a", {href: `#/resource-types/${t.resource_type_id}`}, h("code", {}, t.resource_type))),
                h("td", {}, t.description || "—"),
                h("td", {}, blockLinks(t).length ? blockLinks(t) : "—"),
              ),
            ),
          ),
        )
      : emptyState("The catalogue has no resource types.", "Product blocks bring them; load a catalogue with ", h("code", {}, "orchestrion catalogue load FILE"), "."),
  );
}
