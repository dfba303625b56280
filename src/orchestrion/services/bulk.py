"""Run one workflow on every subscription matching a filter, at most K at a time, as children of one process.

The operator's everyday fan-out ("validate every port", "migrate every circuit of a node"): a
step (``run_on_subscriptions``) that starts a child per matching subscription, keeps at most
``max_in_flight`` of them running, and starts the next as each one ends (it waits without a
worker in between). A start the child's workflow refuses (its form, a subscription another
process holds) is recorded with the reason and the others go on. A dry run starts nothing: it
checks every start as a real one would (form, run predicate, whether its subscriptions can be
reserved) without writing anything, listing what would start and what would be refused, and why.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic_forms.exceptions import FormException, FormValidationError

from orchestrion.db.listing import MAX_PAGE, ListQuery, Page, parse_rest
from orchestrion.db.sessions import session as step_session
from orchestrion.engine.children import (
    AWAIT_META_KEY,
    WakeCondition,
    children,
    failure,
    is_persons_retry,
    retry_failed,
    wait,
)
from orchestrion.engine.context import current_step
from orchestrion.engine.outcomes import Failed, Outcome, Success
from orchestrion.engine.registry import get_workflow
from orchestrion.engine.status import FAILED_STATUSES, SETTLED_STATUSES
from orchestrion.engine.steps import Step
from orchestrion.engine.workflow import Workflow
from orchestrion.errors import OrchestrionError, WorkflowNotFoundError
from orchestrion.runtime import current
from orchestrion.services.children import start_child
from orchestrion.services.processes import prepare_start
from orchestrion.services.subscription_views import subscription_page
from orchestrion.types import State

PLAN_KEY = "bulk"  # the state key of what is still to start and what was refused
GROUP = "subscriptions"
DEFAULT_MAX_IN_FLIGHT = 10


def matching_subscriptions(filter_: str | None, query: str | None) -> list[dict[str, Any]]:
    """The subscriptions the list endpoint would show for this ``filter`` (``field,value,...``) and free text."""
    listing = parse_rest(None, "start_date,asc", filter_)
    found: list[dict[str, Any]] = []
    while True:
        window = Page(len(found), len(found) + MAX_PAGE)
        page, total = subscription_page(ListQuery(window, listing.sort, listing.filters), query)
        found.extend(page)
        if not page or len(found) >= total:
            return found


def _refusal(error: Exception) -> str:
    """One line per reason: a form's field errors as ``field: message``, anything else as its message."""
    if isinstance(error, FormValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors)
    return str(error) or type(error).__name__


class RunOnSubscriptionsStep(Step):
    """Starts ``workflow_key`` on each matching subscription, ``max_in_flight`` at a time; see the module."""

    def __call__(self, state: State) -> Outcome:
        wf = get_workflow(state["workflow_key"])
        if wf is None:
            raise WorkflowNotFoundError(f"Workflow {state['workflow_key']!r} does not exist")
        plan = state.get(PLAN_KEY)
        if plan is None:
            targets = matching_subscriptions(state.get("subscription_filter"), state.get("subscription_query"))
            if state.get("dry_run"):
                return Success({**state, "dry_run_result": [_check(wf, state["workflow_key"], s) for s in targets]})
            plan = {"pending": [str(s["subscription_id"]) for s in targets], "refused": []}
        found = children().of(GROUP)
        if is_persons_retry():
            found = retry_failed(found)
        settled = sum(1 for c in found if c.status in SETTLED_STATUSES)
        room = int(state.get("max_in_flight") or DEFAULT_MAX_IN_FLIGHT) - (len(found) - settled)
        pending, refused, started = list(plan["pending"]), list(plan["refused"]), 0
        while started < room and pending:
            subscription_id = pending.pop(0)
            try:
                with step_session().begin_nested():  # a refused start leaves nothing of itself behind
                    start_child(state["workflow_key"], {"subscription_id": subscription_id}, group=GROUP)
            except (FormException, OrchestrionError) as e:
                refused.append({"subscription_id": subscription_id, "reason": _refusal(e)})
            else:
                started += 1
        state = {**state, PLAN_KEY: {"pending": pending, "refused": refused}}
        if pending or started or settled < len(found):
            return wait(state, WakeCondition(GROUP, completed=None, settled=settled + 1, fail_fast=False))
        counts = Counter(c.status.value for c in found)
        summary = {"started": len(found), "statuses": dict(counts), "refused": len(refused)}
        if any(c.status in FAILED_STATUSES for c in found):
            condition = WakeCondition(GROUP, completed=None, settled=len(found), fail_fast=False)
            return Failed(failure(found, f"processes of {wf.name!r}"), meta={AWAIT_META_KEY: condition.as_json()})
        return Success({**state, "summary": summary}, meta={AWAIT_META_KEY: None})


def _check(wf: Workflow, workflow_key: str, subscription: dict[str, Any]) -> dict[str, Any]:
    """Would a start on this subscription go through? Its form, run predicate and reservations, checked."""
    entry = {"subscription_id": str(subscription["subscription_id"]), "description": subscription["description"]}
    user = current_step().user or "SYSTEM"
    try:
        new = prepare_start(current(), wf, workflow_key, [{"subscription_id": entry["subscription_id"]}], user)
        new.check_reservations(step_session())
    except (FormException, OrchestrionError) as e:
        return {**entry, "would": "refuse", "reason": _refusal(e)}
    return {**entry, "would": "start", "reason": None}


def run_on_subscriptions(name: str = "Run on subscriptions") -> RunOnSubscriptionsStep:
    """The step; it reads ``workflow_key``, ``subscription_filter``, ``subscription_query``, ``max_in_flight``
    and ``dry_run`` from the state (the built-in task ``task_run_on_subscriptions`` asks for them)."""
    return RunOnSubscriptionsStep(name)
