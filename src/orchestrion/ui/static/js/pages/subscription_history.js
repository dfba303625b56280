// A subscription's history: its versions, newest first, each with what it changed and the process step that made it.

import {api, describeError} from "../api.js";
import {clear, emptyState, errorBox, h, shortId, timeEl} from "../dom.js";
import {pager} from "../widgets.js";
import {changesTable} from "./process.js";

const PAGE = 10;

/** The history card; it loads its own pages so the rest of the subscription page never waits for it. */
export function historySection(id) {
  const body = h("div", {}, h("p", {class: "loading"}, "Loading the history…"));
  const show = async (page) => {
    try {
      const {data, total} = await api(`/subscriptions/${id}/versions`, {params: {range: `${page * PAGE},${(page + 1) * PAGE}`}});
      clear(
        body,
        data.length
          ? h("ol", {class: "timeline versions"}, data.map((v) => versionEl(v)))
          : emptyState("No version recorded yet.", "A subscription gets its first version when it next changes."),
        total > PAGE ? pager({page, size: PAGE, total, onPage: show}) : null,
      );
    } catch (error) {
      clear(body, errorBox(describeError(error)));
    }
  };
  show(0);
  return h("section", {class: "card", "aria-labelledby": "history-h"}, h("h2", {id: "history-h"}, "History"), body);
}

function versionEl(v) {
  const by = v.process_id
    ? [h("a", {href: `#/processes/${v.process_id}`, class: "version-process"}, `process ${shortId(v.process_id)}`), ` · ${v.step_name || "when it was created"}`]
    : h("span", {class: "muted"}, "outside a process");
  const {rows, references} = diffRows(v.changes);
  return h(
    "li",
    {class: "step version", dataset: {version: v.version}},
    h("span", {class: "step-icon"}, String(v.version)),
    h(
      "div",
      {class: "step-body"},
      h("div", {class: "step-line"}, h("span", {class: "step-name"}, `Version ${v.version}`), timeEl(v.created_at), h("span", {}, by)),
      h("p", {class: "version-summary"}, v.summary),
      h(
        "details",
        {class: "delta"},
        h("summary", {}, "Changes"),
        rows.length ? changesTable(rows) : null,
        references.length ? h("ul", {class: "plain references"}, references) : null,
      ),
    ),
  );
}

const single = (values) => (Array.isArray(values) && values.length === 1 ? values[0] : values);
const blockName = (b) => `${b.name} ${shortId(b.id)}`;

/** The API's structured diff as rows of the process page's change table, and references as links. */
function diffRows(changes) {
  const rows = Object.entries(changes.fields).map(([name, c]) => ({path: [name], kind: "changed", before: c.old, after: c.new}));
  const valuesOf = (b) => Object.fromEntries(Object.entries(b.values).map(([k, v]) => [k, single(v)]));
  for (const b of changes.blocks.added) rows.push({path: [blockName(b)], kind: "added", after: valuesOf(b)});
  for (const b of changes.blocks.removed) rows.push({path: [blockName(b)], kind: "removed", before: valuesOf(b)});
  for (const b of changes.blocks.changed) {
    for (const part of ["fields", "values", "holds"]) {
      for (const [key, c] of Object.entries(b[part])) {
        rows.push({path: [blockName(b), key], kind: "changed", before: single(c.old), after: single(c.new)});
      }
    }
  }
  const link = (r, verb) =>
    h("li", {class: `reference ${verb}`}, `${verb === "added" ? "Now refers to" : "No longer refers to"} the ${r.block} block of `, h("a", {href: `#/subscriptions/${r.subscription_id}`}, `subscription ${shortId(r.subscription_id)}`));
  const references = [...changes.references.added.map((r) => link(r, "added")), ...changes.references.removed.map((r) => link(r, "removed"))];
  return {rows, references};
}
