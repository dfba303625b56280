// Tasks (SYSTEM workflows) and the schedules that start them: add, edit, enable, delete.

import {api, describeError, workflowsByName} from "../api.js";
import {clear, confirmDialog, emptyState, errorBox, h, timeEl, toast} from "../dom.js";
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
  const add = h("button", {type: "button", class: "primary", id: "add-schedule", disabled: true}, "Add a schedule"); // until the tasks are known
  clear(ctx.view, h("div", {class: "page-head"}, h("h1", {}, "Tasks and schedules"), add), box);
  let last = null;
  let tasks = [];
  const reload = () => {
    last = null;
    return load();
  };
  add.addEventListener("click", () => scheduleDialog({tasks, onSaved: reload}));
  async function load() {
    const [workflows, schedules] = await Promise.all([workflowsByName(), api("/schedules/").then((r) => r.data)]);
    const signature = JSON.stringify(schedules);
    if (signature === last || !ctx.isCurrent()) return;
    last = signature;
    tasks = Object.values(workflows).filter((wf) => wf.is_task);
    add.disabled = !tasks.length;
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
                  s ? scheduleCells(s, tasks, reload) : [h("td", {colspan: 4, class: "muted"}, "Not scheduled; runs only when started.")],
                  i === 0 ? h("td", {rowspan: rows.length}, startLink(wf.name, "Run now", {}, {class: "button small secondary"})) : null,
                ),
              );
            }),
        ),
      ),
      h("p", {class: "muted"}, "Schedules fire on the leading scheduler (times in UTC); the API (/api/schedules) and orchestrion scheduler change them too."),
    );
  }
  await load();
  ctx.poll(load, 10000, null); // schedules are not in the event stream
}

function scheduleCells(s, tasks, reload) {
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
    h(
      "td",
      {dataset: {schedule: s.name}},
      h("div", {}, s.name, s.enabled ? null : h("span", {class: "pill tone-muted"}, "disabled")),
      h("div", {class: "muted small"}, triggerText(s)),
      h("div", {class: "actions"}, toggle, h("button", {type: "button", class: "link small", onclick: () => scheduleDialog({tasks, schedule: s, onSaved: reload})}, "Edit"), deleteButton(s, reload)),
    ),
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

function deleteButton(s, reload) {
  return h(
    "button",
    {
      type: "button",
      class: "link small",
      onclick: async () => {
        const ok = await confirmDialog({title: `Delete schedule “${s.name}”?`, body: "The task stays; it no longer runs by itself.", confirm: "Delete", tone: "danger"});
        if (!ok) return;
        try {
          await api(`/schedules/${encodeURIComponent(s.schedule_id)}`, {method: "DELETE"});
          toast(`Schedule ${s.name} deleted`, "success");
          await reload();
        } catch (error) {
          toast(describeError(error), "danger");
        }
      },
    },
    "Delete",
  );
}

/** Add a schedule (no `schedule`) or edit one: name, task, trigger, enabled, missed runs. */
function scheduleDialog({tasks, schedule = null, onSaved}) {
  const input = (id, attrs) => h("input", {id, ...attrs});
  const field = (label, control, hint) => h("div", {class: "field"}, h("label", {for: control.id}, label), control, hint ? h("p", {class: "hint"}, hint) : null);
  const name = input("sch-name", {type: "text", required: true, value: schedule?.name || ""});
  const task = h(
    "select",
    {id: "sch-task"},
    tasks.map((wf) => h("option", {value: wf.name, selected: wf.name === schedule?.workflow_name}, `${wf.description} (${wf.name})`)),
  );
  const trigger = h("select", {id: "sch-trigger"}, [["interval", "every … seconds"], ["cron", "cron expression (UTC)"]].map(([v, l]) => h("option", {value: v, selected: v === (schedule?.trigger || "interval")}, l)));
  const seconds = input("sch-interval", {type: "number", min: 1, value: schedule?.interval_seconds ?? 3600});
  const cron = input("sch-cron", {type: "text", value: schedule?.cron_expression || "", placeholder: "30 2 * * *"});
  const secondsField = field("Interval (seconds)", seconds);
  const cronField = field("Cron expression", cron, "Five fields: minute hour day month weekday, in UTC.");
  const enabled = input("sch-enabled", {type: "checkbox", checked: schedule ? schedule.enabled : true});
  const misfire = h("select", {id: "sch-misfire"}, [["run_once", "run once"], ["skip", "skip them"]].map(([v, l]) => h("option", {value: v, selected: v === (schedule?.misfire_policy || "run_once")}, l)));
  const problem = h("div", {});
  const showTrigger = () => {
    secondsField.style.display = trigger.value === "interval" ? "" : "none";
    cronField.style.display = trigger.value === "cron" ? "" : "none";
  };
  trigger.addEventListener("change", showTrigger);
  showTrigger();
  const save = h("button", {type: "submit", class: "primary"}, schedule ? "Save" : "Add schedule");
  const cancel = h("button", {type: "button", class: "secondary"}, "Cancel");
  const form = h(
    "form",
    {},
    h("h2", {id: "schedule-title"}, schedule ? `Edit schedule “${schedule.name}”` : "Add a schedule"),
    field("Name", name),
    field("Task", task),
    field("Runs", trigger),
    secondsField,
    cronField,
    field("Missed runs", misfire, "When the scheduler was down at a run's time: run once when it is back, or skip them."),
    h("div", {class: "field inline"}, enabled, h("label", {for: enabled.id}, "Enabled")),
    problem,
    h("div", {class: "actions"}, cancel, save),
  );
  const dialog = h("dialog", {class: "dialog", "aria-labelledby": "schedule-title"}, form);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      name: name.value.trim(),
      workflow_name: task.value,
      trigger: trigger.value,
      interval_seconds: trigger.value === "interval" ? Number(seconds.value) : null,
      cron_expression: trigger.value === "cron" ? cron.value.trim() : null,
      enabled: enabled.checked,
      misfire_policy: misfire.value,
    };
    save.disabled = true;
    try {
      if (schedule) await api(`/schedules/${encodeURIComponent(schedule.schedule_id)}`, {method: "PATCH", body});
      else await api("/schedules/", {method: "POST", body});
      dialog.close();
      toast(`Schedule ${body.name} ${schedule ? "saved" : "added"}`, "success");
      await onSaved();
    } catch (error) {
      clear(problem, errorBox(describeError(error)));
    } finally {
      save.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
}
