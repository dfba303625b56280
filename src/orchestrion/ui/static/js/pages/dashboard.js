// The dashboard: what needs attention now, what runs, and how many processes are in each status.

import {api, workflowsByName} from "../api.js";
import {badge, clear, emptyState, h, PROCESS_STATUSES} from "../dom.js";
import {ENGINE_LABELS, engineStatus, setEngine} from "../engine.js";
import {processTable} from "../widgets.js";

const ATTENTION = "failed-inconsistent_data-api_unavailable-waiting";
const LISTS = [
  {
    key: "attention",
    title: "Recent failures",
    filter: `last_status,${ATTENTION}`,
    columns: ["reason", "modified"],
    empty: () => emptyState("Nothing has failed.", "Failed processes show up here with their reason; open one to retry it."),
  },
  {
    key: "input",
    title: "Waiting for input",
    filter: "last_status,suspended",
    columns: ["step", "modified"],
    empty: () => emptyState("No process is waiting for input.", "Processes that stop at a form to be filled in appear here."),
  },
  {
    key: "running",
    title: "Running now",
    filter: "last_status,created-running-resumed-awaiting_callback",
    columns: ["step", "started"],
    empty: () => emptyState("Nothing is running.", h("a", {href: "#/start"}, "Start a workflow"), " to see it run here."),
  },
];

export async function render(ctx) {
  ctx.setTitle("Dashboard");
  const workflows = await workflowsByName();
  const engineBox = h("section", {class: "card engine-card", "aria-labelledby": "engine-h"});
  const countsBox = h("section", {class: "card", "aria-labelledby": "counts-h"});
  const workersBox = h("section", {class: "card", "aria-labelledby": "workers-h", id: "workers"});
  const lists = Object.fromEntries(LISTS.map((list) => [list.key, h("div", {})]));
  clear(
    ctx.view,
    h("h1", {}, "Dashboard"),
    h("div", {class: "grid two dash-top"}, countsBox, h("div", {}, engineBox, workersBox)),
    LISTS.map((list) =>
      h(
        "section",
        {class: "card", "aria-labelledby": `${list.key}-h`},
        h(
          "div",
          {class: "card-head"},
          h("h2", {id: `${list.key}-h`}, list.title),
          h("a", {href: `#/processes?status=${list.filter.split(",")[1]}`}, "All of them"),
        ),
        lists[list.key],
      ),
    ),
  );

  const seen = {};
  const changed = (key, data) => {
    const signature = JSON.stringify(data);
    if (seen[key] === signature) return false;
    seen[key] = signature;
    return true;
  };

  async function refresh() {
    const [counts, engine, workers, ...pages] = await Promise.all([
      api("/ui/process-counts"),
      engineStatus(),
      api("/settings/worker-status"),
      ...LISTS.map((list) =>
        api("/processes/", {params: {range: "0,5", sort: "last_modified_at,DESC", filter: `${list.filter},is_task,false`}}),
      ),
    ]);
    if (changed("counts", counts.data)) showCounts(countsBox, counts.data);
    if (changed("engine", engine)) showEngine(engineBox, engine);
    if (changed("workers", workers.data)) showWorkers(workersBox, workers.data);
    LISTS.forEach((list, i) => {
      const {data, total} = pages[i];
      if (!changed(list.key, [data, total])) return;
      clear(
        lists[list.key],
        data.length ? processTable(data, workflows, {columns: list.columns}) : list.empty(),
        total > data.length ? h("p", {class: "muted"}, `${total - data.length} more: `, h("a", {href: `#/processes?status=${list.filter.split(",")[1]}`}, "see them all")) : null,
      );
    });
  }

  await refresh();
  ctx.poll(refresh, 4000, (change) => change.type === "processes" || change.type === "engineStatus");
  const onEngine = (event) => changed("engine", event.detail) && showEngine(engineBox, event.detail);
  window.addEventListener("orchestrion:engine", onEngine);
  ctx.onLeave(() => window.removeEventListener("orchestrion:engine", onEngine));
}

function showCounts(box, counts) {
  const total = Object.values(counts.processes).reduce((a, b) => a + b, 0);
  const tasks = Object.values(counts.tasks).reduce((a, b) => a + b, 0);
  const fmt = new Intl.NumberFormat();
  if (!total && !tasks) {
    clear(
      box,
      h("h2", {id: "counts-h"}, "Processes by status"),
      emptyState("No processes yet.", h("a", {href: "#/start"}, "Start a workflow"), ", for example to create a subscription on one of the ", h("a", {href: "#/products"}, "products"), "."),
    );
    return;
  }
  clear(
    box,
    h("h2", {id: "counts-h"}, "Processes by status"),
    h(
      "ul",
      {class: "status-counts"},
      Object.keys(PROCESS_STATUSES).map((status) => {
        const n = counts.processes[status] || 0;
        return h(
          "li",
          {class: n ? "" : "zero"},
          h("a", {href: `#/processes?status=${status}`, "aria-label": `${n} ${status.replaceAll("_", " ")}`}, h("span", {class: "count"}, fmt.format(n)), badge(status)),
        );
      }),
    ),
    h("p", {class: "muted"}, `${fmt.format(total)} workflow processes; `, h("a", {href: "#/processes?kind=tasks"}, `${fmt.format(tasks)} task runs`), "."),
  );
}

// Where each executor's workers run, so "0 online" reads right for Celery (workers are other processes).
const EXECUTORS = {
  threadpool: "worker threads in the server process",
  inline: "in the caller's thread",
  celery: "Celery workers, reached through the broker",
};

function showWorkers(box, workers) {
  const fmt = new Intl.NumberFormat();
  const rows = [
    ["Executor", [h("strong", {}, workers.executor_type), " ", h("span", {class: "muted"}, EXECUTORS[workers.executor_type] || "")]],
    ["Workers online", fmt.format(workers.number_of_workers_online)],
    ["Running", `${fmt.format(workers.number_of_running_jobs)} process(es)`],
    ["Queued", `${fmt.format(workers.number_of_queued_jobs)} waiting for a worker`],
  ];
  clear(
    box,
    h("h2", {id: "workers-h"}, "Workers"),
    workers.executor_type !== "inline" && !workers.number_of_workers_online ? h("p", {}, h("span", {class: "pill tone-danger"}, "No worker answers"), " Processes wait until one runs.") : null,
    h("dl", {class: "facts"}, rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
  );
}

function showEngine(box, engine) {
  const [label, tone] = ENGINE_LABELS[engine.global_status] || [engine.global_status, "neutral"];
  const explain = {
    RUNNING: "Processes start and run normally.",
    PAUSING: `Paused: ${engine.running_processes} process(es) are finishing their current step, then stop.`,
    PAUSED: "Paused: no process runs, starts or resumes until you continue.",
  };
  const button = h("button", {type: "button", class: engine.global_lock ? "primary" : "danger"}, engine.global_lock ? "Continue the engine" : "Pause the engine");
  button.addEventListener("click", async () => {
    const next = await setEngine(!engine.global_lock);
    if (next) showEngine(box, next);
  });
  clear(
    box,
    h("h2", {id: "engine-h"}, "Engine"),
    h("p", {}, h("span", {class: `pill tone-${tone}`}, label)),
    h("p", {}, explain[engine.global_status] || ""),
    button,
  );
}
