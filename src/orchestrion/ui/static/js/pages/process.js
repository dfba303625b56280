// One process: its steps as a timeline, why it failed, and retry / resume / abort.

import {api, describeError, workflowsByName} from "../api.js";
import {
  badge,
  clear,
  confirmDialog,
  duration,
  FINISHED,
  h,
  icon,
  idEl,
  isUuid,
  RETRYABLE,
  STEP_STATUSES,
  timeEl,
  toast,
  valueTree,
} from "../dom.js";
import {formFlow} from "../forms.js";
import {targetTag} from "../widgets.js";

export async function render(ctx) {
  const [id] = ctx.args;
  if (!isUuid(id)) {
    clear(ctx.view, h("h1", {}, "No such process"), h("p", {}, `“${id}” is not a process id. `, h("a", {href: "#/processes"}, "Find the process in the list"), "."));
    return;
  }
  const workflows = await workflowsByName();
  let process = (await api(`/processes/${id}`)).data;
  const head = h("div", {});
  const failure = h("div", {});
  const resume = h("div", {});
  const timeline = h("section", {class: "card", "aria-labelledby": "steps-h"});
  const childrenBox = h("div", {});
  const stateBox = h("section", {class: "card", "aria-labelledby": "state-h"});
  clear(ctx.view, head, failure, resume, timeline, childrenBox, stateBox);

  let shown = {};
  function show() {
    const wf = workflows[process.workflow_name];
    ctx.setTitle(`${wf?.description || process.workflow_name} · ${process.last_status}`);
    const parts = {
      head: JSON.stringify([process.last_status, process.last_step, process.last_modified_at, process.retry_count]),
      failure: JSON.stringify([process.failed_reason, process.traceback, process.last_status]),
      resume: JSON.stringify([process.last_status, process.form, process.last_modified_at]),
      steps: JSON.stringify(process.steps),
      children: JSON.stringify([process.children, process.branch_steps]),
      state: JSON.stringify(process.current_state),
    };
    if (parts.head !== shown.head) showHead(head, process, wf, reload);
    if (parts.failure !== shown.failure) showFailure(failure, process);
    if (parts.resume !== shown.resume) showResume(resume, process, reload);
    if (parts.steps !== shown.steps) showSteps(timeline, process);
    if (parts.children !== shown.children) showChildren(childrenBox, process, workflows);
    if (parts.state !== shown.state) showState(stateBox, process);
    shown = parts;
  }

  async function reload() {
    process = (await api(`/processes/${id}`)).data;
    if (ctx.isCurrent()) show();
  }

  show();
  ctx.poll(
    async () => {
      // Finished processes do not change; the others are watched (someone else may resume or abort them).
      if (!FINISHED.includes(process.last_status)) await reload();
    },
    1500,
    (change) => change.type === "processes" && (change.id === id || (process.children || []).some((c) => c.process_id === change.id)),
  );
}

function subscriptionIds(state) {
  const ids = new Set();
  if (isUuid(state.subscription_id)) ids.add(state.subscription_id);
  if (isUuid(state.subscription?.subscription_id)) ids.add(state.subscription.subscription_id);
  return [...ids];
}

function showHead(box, p, wf, reload) {
  const actions = h("div", {class: "actions"});
  if (RETRYABLE.includes(p.last_status)) {
    actions.append(
      actionButton("Retry", "primary", {
        title: "Retry the failed step?",
        body: "The step runs again from the state before it. Retry once the cause of the failure is fixed.",
        confirm: "Retry",
        run: () => api(`/processes/${p.process_id}/resume`, {method: "PUT", body: [{}]}),
        done: "Retrying",
        reload,
      }),
    );
  }
  if (!FINISHED.includes(p.last_status)) {
    actions.append(
      actionButton("Abort", "danger", {
        title: "Abort this process?",
        body: "It stops for good (a running step finishes first). What its steps already did is not undone.",
        confirm: "Abort process",
        tone: "danger",
        run: () => api(`/processes/${p.process_id}/abort`, {method: "PUT"}),
        done: "Process aborted",
        reload,
      }),
    );
  }
  const subs = subscriptionIds(p.current_state || {});
  const facts = [
    ["Process", idEl(p.process_id)],
    ["Workflow", [h("code", {}, p.workflow_name), " ", targetTag(p.workflow_target), p.is_task ? h("span", {class: "tag"}, "task") : null]],
    ["Started by", p.created_by || "—"],
    ["Started", timeEl(p.started_at)],
    ["Last change", timeEl(p.last_modified_at)],
    ["Last step", p.last_step || "—"],
    ["Assignee", p.assignee],
  ];
  const described = p.current_state?.subscription;
  const subLabel = (sid) => (described?.subscription_id === sid && described.description) || sid;
  if (subs.length) facts.push(["Subscription", subs.map((sid) => h("a", {href: `#/subscriptions/${sid}`, class: "sub"}, subLabel(sid)))]);
  if (p.parent_process_id) facts.push(["Started by process", h("a", {href: `#/processes/${p.parent_process_id}`, class: "parent"}, p.parent_process_id)]);
  if (p.branch) facts.push(["Branch", p.branch.join(" › ")]);
  if (p.retry_count) facts.push(["Retries", String(p.retry_count)]);
  if (p.next_retry_at) facts.push(["Next retry", timeEl(p.next_retry_at)]);
  if (p.callback_progress) facts.push(["Callback progress", valueTree(p.callback_progress)]);
  if (p.note) facts.push(["Note", p.note]);
  clear(
    box,
    h(
      "div",
      {class: "page-head"},
      h("div", {}, h("p", {class: "crumbs"}, h("a", {href: "#/processes"}, "Processes"), " ›"), h("h1", {}, wf?.description || p.workflow_name, " ", badge(p.last_status))),
      actions,
    ),
    h("dl", {class: "facts"}, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v)))),
  );
}

function actionButton(label, tone, {title, body, confirm, run, done, reload, tone: confirmTone}) {
  const button = h("button", {type: "button", class: tone}, label);
  button.addEventListener("click", async () => {
    if (!(await confirmDialog({title, body, confirm, tone: confirmTone || "primary"}))) return;
    button.disabled = true;
    try {
      await run();
      toast(done, "success");
    } catch (error) {
      toast(describeError(error), "danger");
    }
    await reload();
  });
  return button;
}

function showFailure(box, p) {
  if (!p.failed_reason || FINISHED.includes(p.last_status)) {
    clear(box);
    return;
  }
  clear(
    box,
    h(
      "section",
      {class: "card failure", "aria-labelledby": "failure-h"},
      h("h2", {id: "failure-h"}, icon("cross"), " Why it stopped"),
      h("p", {class: "failure-reason"}, p.failed_reason),
      p.traceback ? h("details", {}, h("summary", {}, "Traceback"), h("pre", {class: "traceback"}, p.traceback)) : null,
      RETRYABLE.includes(p.last_status) ? h("p", {class: "muted"}, "Fix the cause, then press Retry: the step runs again from the state before it.") : null,
    ),
  );
}

function showResume(box, p, reload) {
  if (p.last_status !== "suspended" || !p.form) {
    clear(box);
    return;
  }
  const formBox = h("div", {});
  clear(
    box,
    h(
      "section",
      {class: "card resume", "aria-labelledby": "resume-h"},
      h("h2", {id: "resume-h"}, icon("pause"), ` Waiting for input: ${p.last_step || "form"}`),
      h("p", {class: "muted"}, "Fill in the form to let the process continue."),
      formBox,
    ),
  );
  formFlow(formBox, {
    firstForm: p.form,
    submitLabel: "Resume",
    submit: (pages) => api(`/processes/${p.process_id}/resume`, {method: "PUT", body: pages}),
    onDone: async () => {
      toast("Process resumed", "success");
      await reload();
    },
  });
}

const CLEARED = ["success", "skipped", "complete"];
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// How a history row's run came about (its ``action``), as the timeline says it.
const ACTIONS = {
  start: "started",
  resume: "resumed",
  retry: "retried",
  callback: "callback",
  abort: "aborted",
  takeover: "taken over",
  "automatic retry": "retried automatically",
  children: "woken by its children",
  "callback timeout": "failed for want of a callback",
};

/** "resumed by bob", "taken over by SYSTEM": the action and the actor of a history row. */
function actorText(step) {
  const action = step.action ? ACTIONS[step.action] || step.action : null;
  if (step.action === "callback" && step.created_by === "callback") return "by callback";
  if (step.action === "children") return action;
  if (!step.created_by) return action;
  return action ? `${action} by ${step.created_by}` : `by ${step.created_by}`;
}

/** The values a step changed, as paths into the state: added, removed or changed (before → after). */
function stateChanges(before, after, path = [], out = []) {
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (!(key in after)) out.push({path: [...path, key], kind: "removed", before: before[key]});
      else if (!(key in before)) out.push({path: [...path, key], kind: "added", after: after[key]});
      else if (!same(before[key], after[key])) stateChanges(before[key], after[key], [...path, key], out);
    }
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((item, i) => {
      if (!same(item, after[i])) stateChanges(item, after[i], [...path, i], out);
    });
  } else {
    out.push({path, kind: "changed", before, after});
  }
  return out;
}

const pathText = (path) => path.map((part, i) => (typeof part === "number" ? `[${part}]` : i ? `.${part}` : part)).join("");

export function changesTable(changes) {
  return h(
    "table",
    {class: "diff"},
    h(
      "tbody",
      {},
      changes.map((c) =>
        h(
          "tr",
          {class: c.kind},
          h("th", {scope: "row"}, h("code", {}, pathText(c.path))),
          h(
            "td",
            {},
            c.kind === "added" ? [h("span", {class: "tag"}, "new"), " ", valueTree(c.after)] : null,
            c.kind === "removed" ? [h("span", {class: "tag"}, "removed"), " ", h("del", {}, valueTree(c.before))] : null,
            c.kind === "changed" ? [h("del", {class: "before"}, valueTree(c.before)), h("span", {class: "arrow"}, " → "), valueTree(c.after)] : null,
          ),
        ),
      ),
    ),
  );
}

function showSteps(box, p) {
  const steps = p.steps || [];
  let previous = {};
  const items = steps.map((step) => {
    const meta = STEP_STATUSES[step.status] || STEP_STATUSES.pending;
    const started = step.started ? new Date(step.started) : null;
    const completed = step.completed ? new Date(step.completed) : null;
    const took = started && completed ? duration(completed - started) : "";
    let changes = null;
    if (CLEARED.includes(step.status) && step.state) {
      changes = stateChanges(previous, step.state);
      previous = step.state;
    }
    const failedState = step.status === "failed" && step.state ? step.state : null;
    let change = null;
    if (changes?.length) {
      const names = changes.map((c) => pathText(c.path));
      const summary = names.length > 4 ? `${names.slice(0, 4).join(", ")} and ${names.length - 4} more` : names.join(", ");
      change = h("details", {class: "delta"}, h("summary", {}, `State change: ${summary}`), changesTable(changes));
    } else if (changes) {
      change = h("p", {class: "muted small"}, "No change to the state");
    }
    return h(
      "li",
      {class: `step tone-${meta.tone}`, dataset: {status: step.status}},
      h("span", {class: "step-icon"}, icon(meta.icon)),
      h(
        "div",
        {class: "step-body"},
        h(
          "div",
          {class: "step-line"},
          h("span", {class: "step-name"}, step.name),
          h("span", {class: "step-status"}, step.status.replaceAll("_", " ")),
          step.started ? timeEl(step.started) : null,
          took ? h("span", {class: "muted", title: "Duration"}, took) : null,
          step.created_by || step.action ? h("span", {class: "muted step-actor", title: "Who caused the run that wrote this step"}, actorText(step)) : null,
        ),
        change,
        failedState ? h("details", {class: "delta", open: true}, h("summary", {}, "Error"), valueTree(failedState)) : null,
      ),
    );
  });
  clear(
    box,
    h("h2", {id: "steps-h"}, "Steps"),
    steps.length ? h("ol", {class: "timeline"}, items) : h("p", {class: "muted"}, "No steps recorded yet."),
  );
}

// The processes this one's steps started: parallel branches (with their steps) and child processes.
function showChildren(box, p, workflows) {
  const children = p.children || [];
  if (!children.length) {
    clear(box);
    return;
  }
  const stepsOf = (id) => (p.branch_steps || []).filter((s) => s.process_id === id);
  const rows = children.map((c) => {
    const name = c.branch ? c.branch[c.branch.length - 1] : workflows[c.workflow_name]?.description || c.workflow_name;
    const steps = c.branch ? stepsOf(c.process_id).filter((s) => !["Start", "Done"].includes(s.name)) : [];
    return h(
      "li",
      {class: "child", dataset: {status: c.last_status}},
      h("div", {class: "step-line"}, h("a", {href: `#/processes/${c.process_id}`, class: "child-link"}, name), " ", badge(c.last_status), c.branch ? h("span", {class: "tag"}, "branch") : h("span", {class: "muted small"}, c.child_group || "")),
      steps.length ? h("ol", {class: "branch-steps"}, steps.map((s) => h("li", {dataset: {status: s.status}}, `${s.name} · ${s.status.replaceAll("_", " ")}`))) : null,
    );
  });
  const branches = children.some((c) => c.branch);
  clear(
    box,
    h(
      "section",
      {class: "card", "aria-labelledby": "children-h"},
      h("h2", {id: "children-h"}, branches ? "Branches and child processes" : "Child processes"),
      h("ul", {class: "children"}, rows),
    ),
  );
}

function showState(box, p) {
  const details = h("details", {}, h("summary", {}, "Show the full state"));
  details.addEventListener("toggle", () => {
    if (details.open && details.children.length === 1) details.append(valueTree(p.current_state), rawJson(p.current_state));
  });
  clear(box, h("h2", {id: "state-h"}, "State"), details);
}

function rawJson(value) {
  return h("details", {class: "raw"}, h("summary", {}, "As JSON"), h("pre", {}, JSON.stringify(value, null, 2)));
}
