// One subscription: status and lock, its domain model as a tree, related subscriptions, processes, workflows, history.

import {api, describeError, workflowsByName} from "../api.js";
import {badge, clear, confirmDialog, emptyState, errorBox, h, icon, idEl, isUuid, shortId, SUBSCRIPTION_STATUSES, timeEl, toast, valueTree} from "../dom.js";
import {processTable, subscriptionLink, targetTag} from "../widgets.js";
import {startLink} from "./start.js";
import {historySection} from "./subscription_history.js";

const REASONS = {
  "subscription.not_in_sync": "Locked: a process is working on this subscription, or one left it locked.",
  "subscription.relations_not_in_sync": "A related subscription is locked by a process.",
  "subscription.no_modify_invalid_status": "Not possible in the subscription's current status.",
  "subscription.no_modify_subscription_in_use_by_others": "Other subscriptions use this one; change or end those first.",
};
const BLOCK_KEYS = new Set(["name", "subscription_instance_id", "owner_subscription_id", "label", "in_use_by_ids"]);
const TOP_KEYS = new Set([
  "product",
  "customer_id",
  "subscription_id",
  "description",
  "status",
  "insync",
  "start_date",
  "end_date",
  "note",
  "version",
  "in_use_by_ids",
]);

// Each request on its own: one that fails shows its error where its part of the page would be.
const settle = (promise) => promise.then(({data}) => ({data}), (error) => ({error}));
const failed = (answer) => errorBox(describeError(answer.error));

export async function render(ctx) {
  const [id] = ctx.args;
  const [workflowsAnswer, detail, modelAnswer, relationsAnswer, usableAnswer] = await Promise.all([
    workflowsByName().then((data) => ({data}), (error) => ({error})),
    ...[`/subscriptions/${id}`, `/subscriptions/domain-model/${id}`, `/ui/subscriptions/${id}/relations`, `/subscriptions/workflows/${id}`].map((path) => settle(api(path))),
  ]);
  const subscription = detail.data;
  const relations = relationsAnswer.data;
  ctx.setTitle(subscription?.description || "Subscription");
  const related = Object.fromEntries(relations ? [...relations.depends_on, ...relations.in_use_by].map((s) => [s.subscription_id, s]) : []);
  // A function: each place that names the holders gets links of its own (a node sits in one place only).
  const holders = () => (relations ? holderLinks(relations, workflowsAnswer.data) : []);

  const unlock = !subscription || subscription.insync ? null : h("button", {type: "button", class: "secondary"}, "Set in sync");
  unlock?.addEventListener("click", async () => {
    const ok = await confirmDialog({
      title: "Release the lock?",
      body: "Only do this when no process is still working on the subscription; orchestrion refuses while one is unfinished.",
      confirm: "Set in sync",
    });
    if (!ok) return;
    try {
      await api(`/subscriptions/${id}/set_in_sync`, {method: "PUT"});
      toast("Subscription set in sync", "success");
      render(ctx);
    } catch (error) {
      toast(describeError(error), "danger");
    }
  });

  const section = (key, title, ...content) => h("section", {class: "card", "aria-labelledby": `${key}-h`}, h("h2", {id: `${key}-h`}, title), content);
  const relationList = (list, none) =>
    !relations ? failed(relationsAnswer) : list.length ? h("ul", {class: "plain"}, list.map((s) => h("li", {}, subscriptionLink(s)))) : h("p", {class: "muted"}, none);

  clear(
    ctx.view,
    h(
      "div",
      {class: "page-head"},
      h("div", {}, h("p", {class: "crumbs"}, h("a", {href: "#/subscriptions"}, "Subscriptions"), " ›"), subscription ? heading(subscription, holders) : h("h1", {}, "Subscription ", h("code", {}, shortId(id)))),
      h("div", {class: "actions"}, unlock),
    ),
    subscription ? facts(subscription) : failed(detail),
    h(
      "div",
      {class: "grid two"},
      section("uses", "Uses", relationList(relations?.depends_on, "This subscription uses no other subscription.")),
      section("usedby", "Used by", relationList(relations?.in_use_by, "No other subscription uses this one.")),
    ),
    usableAnswer.data && subscription ? workflowsSection(usableAnswer.data, subscription, holders, related) : section("wfs", "Workflows", failed(usableAnswer.data ? detail : usableAnswer)),
    section(
      "model",
      "Domain model",
      modelAnswer.data
        ? [modelTree(modelAnswer.data, id, related), h("details", {class: "raw"}, h("summary", {}, "As JSON"), h("pre", {}, JSON.stringify(modelAnswer.data, null, 2)))]
        : failed(modelAnswer),
    ),
    section(
      "procs",
      "Processes",
      !relations
        ? failed(relationsAnswer)
        : relations.processes.length
          ? processTable(relations.processes, workflowsAnswer.data, {columns: ["target", "by", "started", "modified"]})
          : emptyState("No process has worked on this subscription yet."),
      relations?.process_total > relations?.processes.length ? h("p", {class: "muted"}, `Showing the newest ${relations.processes.length} of ${relations.process_total}.`) : null,
    ),
    historySection(id),
  );
}

/** Links to the unfinished processes that hold the subscription's lock. */
function holderLinks(relations, workflows) {
  const names = Object.fromEntries(relations.processes.map((p) => [p.process_id, p.workflow_name]));
  return relations.locked_by.map((pid) =>
    h("a", {href: `#/processes/${pid}`, class: "lock-holder"}, workflows?.[names[pid]]?.description || names[pid] || `process ${shortId(pid)}`),
  );
}

const joined = (links) => links.flatMap((link, i) => (i ? [", ", link] : [link]));

function heading(subscription, holdersOf) {
  const holders = holdersOf();
  const lock = subscription.insync
    ? h("span", {class: "pill tone-success", id: "insync"}, icon("unlock"), "in sync")
    : h("span", {class: "pill tone-attention", id: "insync", title: "A process holds this subscription, or one left it locked"}, icon("lock"), "locked (not in sync)");
  return [
    h("h1", {}, subscription.description, " ", badge(subscription.status, SUBSCRIPTION_STATUSES), " ", lock),
    !subscription.insync
      ? h("p", {class: "lock-note"}, holders.length ? ["Held by ", joined(holders), "."] : "No unfinished process holds it: one ended without releasing it.")
      : null,
  ];
}

function facts(subscription) {
  const rows = [
    ["Subscription", idEl(subscription.subscription_id)],
    ["Product", [h("a", {href: `#/products`}, subscription.product.name), " ", h("span", {class: "muted"}, subscription.product.description)]],
    ["Customer", subscription.customer_id],
    ["Start", timeEl(subscription.start_date)],
    ["End", timeEl(subscription.end_date)],
    ["Version", String(subscription.version)],
  ];
  if (subscription.note) rows.push(["Note", subscription.note]);
  return h("dl", {class: "facts"}, rows.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

/** Why a workflow is blocked, with links to what holds the lock: the process, or the locked related subscriptions. */
function reasonEl(reason, holders, related) {
  let links = [];
  if (reason === "subscription.not_in_sync") links = holders();
  if (reason === "subscription.relations_not_in_sync") {
    links = Object.values(related)
      .filter((s) => !s.insync)
      .map((s) => h("a", {href: `#/subscriptions/${s.subscription_id}`, class: "lock-holder"}, s.description));
  }
  return h("span", {class: "reason"}, icon("lock"), REASONS[reason] || reason, links.length ? [" ", reason === "subscription.not_in_sync" ? "Held by " : "Locked: ", joined(links)] : null);
}

function workflowsSection(usable, subscription, holders, related) {
  const groups = Object.entries(usable).filter(([target, list]) => list.length && target !== "create");
  return h(
    "section",
    {class: "card", "aria-labelledby": "wfs-h"},
    h("h2", {id: "wfs-h"}, "Workflows"),
    groups.length
      ? h(
          "ul",
          {class: "wf-list"},
          groups.flatMap(([target, list]) =>
            list.map((wf) =>
              h(
                "li",
                {class: wf.reason ? "blocked" : "", dataset: {workflow: wf.name}},
                targetTag(target),
                " ",
                wf.reason
                  ? [h("span", {class: "wf-desc", "aria-disabled": "true"}, wf.description), " ", reasonEl(wf.reason, holders, related)]
                  : startLink(wf.name, wf.description, {subscription: subscription.subscription_id, version: subscription.version}, {class: "button small secondary"}),
              ),
            ),
          ),
        )
      : h("p", {class: "muted"}, "No workflow of this product works on an existing subscription."),
  );
}

/** The subscription's blocks, nested as in the model; a block owned by another subscription links to it. */
function modelTree(model, ownId, related) {
  const values = Object.entries(model).filter(([key]) => !TOP_KEYS.has(key));
  return h("div", {class: "model"}, fieldsList(values, ownId, related));
}

const isBlock = (value) => value && typeof value === "object" && !Array.isArray(value) && "subscription_instance_id" in value;

function fieldsList(entries, ownId, related) {
  const simple = entries.filter(([, v]) => !isBlock(v) && !(Array.isArray(v) && v.some(isBlock)));
  const blocks = entries.filter(([, v]) => isBlock(v) || (Array.isArray(v) && v.some(isBlock)));
  return [
    simple.length ? h("dl", {class: "tree"}, simple.map(([k, v]) => [h("dt", {}, k), h("dd", {}, valueTree(v))])) : null,
    blocks.map(([key, value]) =>
      Array.isArray(value)
        ? h("div", {class: "block-list"}, h("p", {class: "block-key"}, `${key} (${value.length})`), value.map((b) => blockEl(key, b, ownId, related)))
        : blockEl(key, value, ownId, related),
    ),
  ];
}

function blockEl(key, block, ownId, related) {
  const owner = block.owner_subscription_id;
  const foreign = isUuid(owner) && owner !== ownId;
  const ownerInfo = related[owner];
  const users = (block.in_use_by_ids || []).length;
  return h(
    "details",
    {class: foreign ? "block foreign" : "block", open: !foreign},
    h(
      "summary",
      {},
      h("span", {class: "block-key"}, key),
      " ",
      h("strong", {}, block.name),
      block.label ? h("span", {class: "muted"}, ` “${block.label}”`) : null,
      users ? h("span", {class: "muted small", title: block.in_use_by_ids.join("\n")}, ` · used by ${users} block${users > 1 ? "s" : ""}`) : null,
      foreign
        ? h("span", {class: "owner"}, " · belongs to ", h("a", {href: `#/subscriptions/${owner}`, class: "owner-link"}, ownerInfo?.description || `subscription ${shortId(owner)}`), ownerInfo ? [" ", badge(ownerInfo.status, SUBSCRIPTION_STATUSES)] : null)
        : null,
    ),
    fieldsList(
      Object.entries(block).filter(([k]) => !BLOCK_KEYS.has(k)),
      ownId,
      related,
    ),
  );
}
