// Tasks (SYSTEM workflows) and the schedules that start them.

import {api, describeError, workflowsByName} from "../api.js";
import {clear, confirmDialog, emptyState, h, timeEl, toast} from "../dom.js";
import {startLink} from "./start.js";

function every(seconds) {
  const units = [
    [86400, "d"],
    [3600, "h"],
    [60, "min"],
    [1, "s"],
  ];
  for (const [size, unit] of units) {
    if (seconds % size === 0) return `every ${seconds / size} ${unit}`;
  }
  return `every ${seconds} s`;
}

const triggerText = (s) => (s.trigger === "cron" ? `cron ${s.cron_expression} (UTC)` : every(s.interval_seconds));

export async function render(ctx) {
  ctx.setTitle("Tasks");
  const box = h("div", {});
  clear(ctx.view, h("h1", {}, "Tasks and schedules"), box);
  let last = null;
  async function load() {
    const [workflows, schedules] = await Promise.all([workflowsByName(), api("/schedules/").then((r) => r.data)]);
    const signature = JSON.stringify(schedules);
    if (signature === last || !ctx.isCurrent()) return;
    last = signature;
    const tasks = Object.values(workflows).filter((wf) => wf.is_task);
    const byTask = {};
    for (const s of schedules) (byTask[s.workflow_name] ||= []).push(s);
    if (!tasks.length) {
      clear(box, emptyState("No tasks are registered.", "Tasks are workflows with target SYSTEM."));
      return;
    }
    clear(
      box,
      h(
        "table",
        {class: "table tasks"},
        h("thead", {}, h("tr", {}, ["Task", "Schedule", "Next run", "Last run", "Last outcome", ""].map((x) => h("th", {scope: "col"}, x)))),
        h(
          "tbody",
          {},
          tasks
            .sort((a, b) => a.name.localeCompare(b.name))
            .flatMap((wf) => {
              const rows = byTask[wf.name] || [null];
              return rows.map((s, i) =>
                h(
                  "tr",
                  {dataset: {task: wf.name}},
                  i === 0
                    ? h("td", {rowspan: rows.length}, h("strong", {}, wf.description), h("div", {}, h("code", {class: "small"}, wf.name)), h("a", {class: "small", href: `#/processes?kind=tasks&workflow=${wf.name}`}, "Runs"))
                    : null,
                  s ? scheduleCells(s, load) : [h("td", {colspan: 4, class: "muted"}, "Not scheduled; runs only when started.")],
                  i === 0 ? h("td", {rowspan: rows.length}, startLink(wf.name, "Run now", {}, {class: "button small secondary"})) : null,
                ),
              );
            }),
        ),
      ),
      h("p", {class: "muted"}, "Schedules fire on the leading scheduler; change them with the API (/api/schedules) or orchestrion scheduler."),
    );
  }
  await load();
  ctx.poll(load, 10000, null); // schedules are not in the event stream
}

function scheduleCells(s, reload) {
  const toggle = h("button", {type: "button", class: "link small"}, s.enabled ? "Disable" : "Enable");
  toggle.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: `${s.enabled ? "Disable" : "Enable"} schedule “${s.name}”?`,
      body: s.enabled ? "It stops firing until enabled again." : "Its next run is planned from now.",
      confirm: s.enabled ? "Disable" : "Enable",
    });
    if (!ok) return;
    try {
      await api(`/schedules/${encodeURIComponent(s.schedule_id)}`, {method: "PATCH", body: {enabled: !s.enabled}});
      toast(`Schedule ${s.name} ${s.enabled ? "disabled" : "enabled"}`, "success");
      await reload();
    } catch (error) {
      toast(describeError(error), "danger");
    }
  });
  return [
    h("td", {}, h("div", {}, s.name, s.enabled ? null : h("span", {class: "pill tone-muted"}, "disabled")), h("div", {class: "muted small"}, triggerText(s)), toggle),
    h("td", {}, s.enabled ? (s.next_run_at ? timeEl(s.next_run_at) : h("span", {class: "muted"}, "planned when a scheduler runs")) : "—"),
    h("td", {}, timeEl(s.last_run_at)),
    h(
      "td",
      {},
      s.last_process_id ? h("a", {href: `#/processes/${s.last_process_id}`}, "Last process") : null,
      s.last_error ? lastError(s.last_error) : s.last_run_at ? null : h("span", {class: "muted"}, "—"),
    ),
  ];
}

// A run predicate that found nothing to do is the normal idle case of a sweep, not a failure.
function lastError(text) {
  const idle = text.startsWith("StartPredicateError:");
  return h("div", {class: idle ? "muted small" : "reason small"}, idle ? `Not started: ${text.replace(/^StartPredicateError:\s*/, "")}` : text);
}
