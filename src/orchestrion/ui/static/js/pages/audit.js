// The operator audit log: who did what outside processes, from where, done or refused; filter and page.

import {api} from "../api.js";
import {clear, emptyState, h, idEl, timeEl, valueTree} from "../dom.js";
import {setParams} from "../nav.js";
import {labelled, pager, select} from "../widgets.js";

const SIZE = 25;
const ACTIONS = [
  "subscription.set_in_sync",
  "subscription.delete",
  "process.delete",
  "schedule.create",
  "schedule.change",
  "schedule.delete",
  "engine.pause",
  "engine.unpause",
  "engine.switch",
  "catalogue.load",
  "catalogue.change",
  "audit.retention",
];
const LINKS = {process: "#/processes/", subscription: "#/subscriptions/"};

export async function render(ctx) {
  ctx.setTitle("Audit log");
  const p = ctx.params;
  const state = {
    action: p.get("action") || "",
    user: p.get("user") || "",
    outcome: p.get("outcome") || "",
    since: p.get("since") || "",
    until: p.get("until") || "",
    page: Math.max(0, Number(p.get("page")) || 0),
  };
  const action = select("a-action", [["", "any action"], ...ACTIONS.map((a) => [a, a])], state.action);
  const user = h("input", {type: "search", id: "a-user", value: state.user, placeholder: "User", "data-search": true});
  const outcome = select("a-outcome", [["", "any outcome"], ["done", "done"], ["refused", "refused"]], state.outcome);
  const since = h("input", {type: "datetime-local", id: "a-since", value: state.since});
  const until = h("input", {type: "datetime-local", id: "a-until", value: state.until});
  const results = h("div", {"aria-live": "polite"});
  clear(
    ctx.view,
    h("div", {class: "page-head"}, h("h1", {}, "Audit log")),
    h(
      "p",
      {class: "muted"},
      "Operator actions outside processes, newest first. Entries cannot be changed or deleted; ",
      h("code", {}, "orchestrion audit verify"),
      " checks their hash chain.",
    ),
    h(
      "form",
      {class: "filters", role: "search", onsubmit: (e) => e.preventDefault()},
      labelled("Action", action),
      labelled("User", user),
      labelled("Outcome", outcome),
      labelled("From", since),
      labelled("Before", until),
    ),
    results,
  );

  let lastSignature = null;
  async function load({force = false} = {}) {
    const filter = [];
    if (state.action) filter.push("action", state.action);
    if (state.user) filter.push("user", state.user.replaceAll(",", " "));
    if (state.outcome) filter.push("outcome", state.outcome);
    if (state.since) filter.push("since", new Date(state.since).toISOString());
    if (state.until) filter.push("until", new Date(state.until).toISOString());
    const first = state.page * SIZE;
    const {data, total} = await api("/audit-log/", {params: {range: `${first},${first + SIZE}`, filter: filter.join(",")}});
    if (!ctx.isCurrent()) return;
    const signature = JSON.stringify([data, total, state]);
    if (!force && signature === lastSignature) return;
    lastSignature = signature;
    if (!data.length) {
      clear(results, emptyState(filter.length ? "No entry matches these filters." : "Nothing recorded yet."));
      return;
    }
    clear(
      results,
      h(
        "table",
        {class: "table audit-log"},
        h("thead", {}, h("tr", {}, ["When", "User", "Client", "Action", "Target", "Outcome", "Details"].map((c) => h("th", {}, c)))),
        h("tbody", {}, data.map(entryRow)),
      ),
      pager({page: state.page, size: SIZE, total, onPage: (page) => apply({page})}),
    );
  }

  function apply(changes) {
    Object.assign(state, changes);
    setParams("/audit", {...state, page: state.page || ""});
    return load({force: true});
  }

  let typing = null;
  user.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => apply({user: user.value.trim(), page: 0}), 250);
  });
  for (const [key, control] of [["action", action], ["outcome", outcome], ["since", since], ["until", until]]) {
    control.addEventListener("change", () => apply({[key]: control.value, page: 0}));
  }
  ctx.onLeave(() => clearTimeout(typing));
  await load({force: true});
  ctx.poll(load, 10000, null);
}

function entryRow(e) {
  const link = LINKS[e.target_kind];
  const target = e.target_id ? (link ? h("a", {href: link + e.target_id}, e.target_id) : h("code", {}, e.target_id)) : null;
  const refused = e.outcome === "refused";
  return h(
    "tr",
    {dataset: {entry: e.id}},
    h("td", {}, timeEl(e.at)),
    h("td", {}, e.user || h("span", {class: "muted"}, "unauthenticated")),
    h("td", {}, e.client || h("span", {class: "muted"}, "—")),
    h("td", {}, h("code", {}, e.action)),
    h("td", {}, h("span", {class: "muted"}, `${e.target_kind} `), target),
    h("td", {}, h("span", {class: `pill ${refused ? "tone-danger" : "tone-success"}`}, e.outcome), refused ? h("div", {class: "muted"}, e.reason) : null),
    h("td", {}, e.details ? valueTree(e.details) : null, h("div", {class: "muted small"}, "hash ", idEl(e.row_hash))),
  );
}
