// All processes: filter, sort and page through them (the API pages; the list refreshes by itself).

import {api, workflowsByName} from "../api.js";
import {clear, emptyState, h, PROCESS_STATUSES} from "../dom.js";
import {isLive} from "../live.js";
import {setParams} from "../nav.js";
import {labelled, options, pager, processTable, select, TARGETS} from "../widgets.js";

const SIZES = [25, 50, 100];
const KINDS = {workflows: "false", tasks: "true", all: null};
const COLUMNS = ["target", "subscription", "customer", "step", "by", "started", "modified"];
// What an empty, unfiltered list says, per kind shown: tasks are not started from the workflow list.
const NOTHING_YET = {
  workflows: () => emptyState("No workflow process yet.", h("a", {href: "#/start"}, "Start a workflow"), " and it appears here."),
  tasks: () => emptyState("No task has run yet.", "Run one, or schedule it, on the ", h("a", {href: "#/tasks"}, "tasks page"), "."),
  all: () => emptyState("No processes yet.", h("a", {href: "#/start"}, "Start a workflow"), " or a task and it appears here."),
};

export async function render(ctx) {
  ctx.setTitle("Processes");
  const workflows = await workflowsByName();
  const p = ctx.params;
  const state = {
    q: p.get("q") || "",
    status: p.get("status") || "",
    workflow: p.get("workflow") || "",
    target: p.get("target") || "",
    kind: KINDS[p.get("kind")] !== undefined ? p.get("kind") : "workflows",
    level: p.get("level") === "top" ? "top" : "",
    sort: p.get("sort") || "started_at,DESC",
    page: Math.max(0, Number(p.get("page")) || 0),
    size: SIZES.includes(Number(p.get("size"))) ? Number(p.get("size")) : 25,
  };

  const search = h("input", {type: "search", id: "f-q", value: state.q, placeholder: "Workflow, user, subscription…", "data-search": true});
  const statusOptions = Object.keys(PROCESS_STATUSES).map((s) => [s, s.replaceAll("_", " ")]);
  if (state.status && !PROCESS_STATUSES[state.status]) statusOptions.unshift([state.status, state.status.split("-").join(", ").replaceAll("_", " ")]);
  const status = select("f-status", [["", "any status"], ...statusOptions], state.status);
  const workflow = h("select", {id: "f-workflow"});
  const fillWorkflows = () => {
    const names = Object.values(workflows)
      .filter((wf) => state.kind === "all" || String(wf.is_task) === KINDS[state.kind])
      .map((wf) => [wf.name, wf.description && wf.description !== wf.name ? `${wf.description} (${wf.name})` : wf.name]);
    clear(workflow, options([["", "any workflow"], ...names], state.workflow));
  };
  fillWorkflows();
  const target = select("f-target", [["", "any target"], ...TARGETS.map((t) => [t, t.toLowerCase()])], state.target);
  const kind = select("f-kind", [["workflows", "workflows"], ["tasks", "tasks"], ["all", "workflows and tasks"]], state.kind);
  const level = select("f-level", [["", "children too"], ["top", "top-level only"]], state.level);
  const size = select("f-size", SIZES.map((n) => [String(n), `${n} per page`]), String(state.size));
  const reset = h("button", {type: "button", class: "link"}, "Clear filters");
  const results = h("div", {class: "results", "aria-live": "polite"});
  const updated = h("span", {class: "muted small live"}, "");

  clear(
    ctx.view,
    h("div", {class: "page-head"}, h("h1", {}, "Processes"), h("a", {class: "button primary", href: "#/start"}, "Start a workflow")),
    h(
      "form",
      {class: "filters", role: "search", onsubmit: (e) => e.preventDefault()},
      labelled("Search", search),
      labelled("Status", status),
      labelled("Workflow", workflow),
      labelled("Target", target),
      labelled("Show", kind),
      labelled("Started by", level),
      labelled("Rows", size),
      reset,
    ),
    results,
    updated,
  );

  let lastSignature = null;
  let loading = 0;
  async function load({force = false} = {}) {
    const serial = ++loading;
    const filter = [];
    if (state.status) filter.push("last_status", state.status);
    if (state.workflow) filter.push("workflow_name", state.workflow);
    if (state.target) filter.push("target", state.target);
    if (KINDS[state.kind] !== null) filter.push("is_task", KINDS[state.kind]);
    if (state.q) filter.push("q", state.q.replaceAll(",", " "));
    if (state.level === "top") filter.push("top_level", "true"); // not started by another process's step
    const first = state.page * state.size;
    const {data, total} = await api("/processes/", {
      params: {range: `${first},${first + state.size}`, sort: state.sort, filter: filter.join(",")},
    });
    if (serial !== loading || !ctx.isCurrent()) return;
    if (!data.length && total && state.page > 0) {
      state.page = Math.max(0, Math.ceil(total / state.size) - 1);
      return load({force: true});
    }
    const how = isLive() ? "Live updates on" : "Refreshing every 3 s";
    updated.textContent = `${how} · updated ${new Date().toLocaleTimeString()}`;
    const signature = JSON.stringify([data, total, state]);
    if (!force && signature === lastSignature) return;
    lastSignature = signature;
    const filtered = filter.length > (KINDS[state.kind] !== null ? 2 : 0);
    if (!data.length) {
      clear(
        results,
        filtered
          ? emptyState("No process matches these filters.", "Loosen them, or ", h("a", {href: "#/processes"}, "clear all filters"), ".")
          : NOTHING_YET[state.kind](),
      );
      return;
    }
    const onPage = (page) => apply({page});
    clear(
      results,
      processTable(data, workflows, {columns: COLUMNS, sort: state.sort, onSort: (sort) => apply({sort, page: 0})}),
      pager({page: state.page, size: state.size, total, onPage}),
    );
  }

  function apply(changes) {
    Object.assign(state, changes);
    setParams("/processes", {
      q: state.q,
      status: state.status,
      workflow: state.workflow,
      target: state.target,
      kind: state.kind === "workflows" ? "" : state.kind,
      level: state.level,
      sort: state.sort === "started_at,DESC" ? "" : state.sort,
      page: state.page || "",
      size: state.size === 25 ? "" : state.size,
    });
    return load({force: true});
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => apply({q: search.value.trim(), page: 0}), 250);
  });
  status.addEventListener("change", () => apply({status: status.value, page: 0}));
  workflow.addEventListener("change", () => apply({workflow: workflow.value, page: 0}));
  target.addEventListener("change", () => apply({target: target.value, page: 0}));
  kind.addEventListener("change", () => {
    state.workflow = "";
    state.kind = kind.value;
    fillWorkflows();
    apply({page: 0});
  });
  level.addEventListener("change", () => apply({level: level.value, page: 0}));
  size.addEventListener("change", () => apply({size: Number(size.value), page: 0}));
  reset.addEventListener("click", () => {
    clearTimeout(typing);
    Object.assign(state, {q: "", status: "", workflow: "", target: "", kind: "workflows", level: ""});
    search.value = status.value = target.value = level.value = "";
    kind.value = "workflows";
    fillWorkflows();
    apply({page: 0});
  });
  ctx.onLeave(() => clearTimeout(typing));

  await load({force: true});
  ctx.poll(load, 3000, (change) => change.type === "processes");
}

