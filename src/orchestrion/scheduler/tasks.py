"""The built-in tasks of the initial schedule: ordinary SYSTEM workflows, visible and retryable like any other.

Each refuses to start (run predicate, HTTP 412) when an earlier run is still going or there is
nothing to do, so a sweep every 30 seconds leaves no trail of empty task processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import ConfigDict, Field

from orchestrion.db import get_database
from orchestrion.engine.clock import utcnow
from orchestrion.engine.registry import ALL_WORKFLOWS, get_workflow, loaded_workflow, register_workflow
from orchestrion.engine.workflow import Path, PredicateContext, RunPredicateFail
from orchestrion.errors import InconsistentDataError, OrchestrionError
from orchestrion.forms import FormPage
from orchestrion.runtime import current
from orchestrion.scheduler.catalogue_check import check_catalogue
from orchestrion.services import audit
from orchestrion.services.bulk import DEFAULT_MAX_IN_FLIGHT, run_on_subscriptions
from orchestrion.storage.protocol import ProcessStore
from orchestrion.targets import Target
from orchestrion.types import State
from orchestrion.workflow import StepList, Workflow, done, init, step, workflow

Predicate = Callable[[PredicateContext], RunPredicateFail | bool]


def _retention_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=current().settings.TASK_LOG_RETENTION_DAYS)


def _only_when(has_work: Callable[[ProcessStore, datetime], bool], idle: str) -> Predicate:
    """Start only when no run of this task is in flight and ``has_work`` finds something (else say ``idle``)."""

    def predicate(context: PredicateContext) -> RunPredicateFail | bool:
        store = current().store
        if store.instance_in_flight(context.workflow_key):
            return RunPredicateFail(f"{context.workflow_key} is already running")
        if not has_work(store, utcnow()):
            return RunPredicateFail(f"Nothing to do: {idle}")
        return True

    return predicate


@step("Resume processes due for a retry")
def resume_due_retries() -> State:
    from orchestrion.scheduler.runner import SCHEDULER_USER
    from orchestrion.services.processes import resume_process

    # Each resume writes in a transaction of its own (this step holds none: it never touches db.session,
    # which on SQLite would block them). Resuming twice is refused, so this is safe to repeat.
    resumed, not_resumed = [], {}
    for process_id in current().store.due_retries(utcnow()):
        try:
            resume_process(process_id, user=SCHEDULER_USER, automatic=True)
        except OrchestrionError as e:  # it moved on meanwhile, or the engine was paused
            not_resumed[str(process_id)] = str(e)
        else:
            resumed.append(process_id)
    return {"resumed": resumed, "not_resumed": not_resumed}


@workflow(
    "Resume waiting processes whose retry time has come",
    target=Target.SYSTEM,
    run_predicate=_only_when(lambda store, now: bool(store.due_retries(now)), "no waiting process is due"),
)
def task_resume_workflows() -> StepList:
    return init >> resume_due_retries >> done


def _restart(workflow_name: str, cursor: Path) -> Path:
    """Where a retry of a timed-out callback begins: the first step of its callback group (a fresh token)."""
    wf = loaded_workflow(workflow_name)
    if wf is None:
        return cursor
    try:
        return wf.group_start(cursor)
    except StopIteration:  # the workflow changed: keep the cursor, the retry will say so
        return cursor


@step("Fail timed-out callbacks")
def fail_timed_out_callbacks() -> State:
    from orchestrion.scheduler.runner import SCHEDULER_USER

    # In this step's transaction (the store uses it): the failures commit with its checkpoint.
    store, now = current().store, utcnow()
    expired = store.expired_callbacks(now)
    timed_out = [p for p in expired if store.fail_timed_out_callback(p, now, _restart, SCHEDULER_USER)]
    return {"timed_out": timed_out}


@workflow(
    "Fail processes whose callback did not arrive before its deadline",
    target=Target.SYSTEM,
    run_predicate=_only_when(lambda store, now: bool(store.expired_callbacks(now)), "no callback has timed out"),
)
def task_validate_awaiting_callbacks() -> StepList:
    return init >> fail_timed_out_callbacks >> done


@step("Delete old task processes")
def delete_old_task_processes() -> State:
    before = _retention_cutoff(utcnow())  # in this step's transaction, as above
    return {"deleted": current().store.delete_completed_tasks(before), "completed_before": before}


@step("Remove old audit log entries")
def remove_old_audit_entries() -> State:
    from orchestrion.db import db

    # in this step's transaction, as above: the sweep's own audit entry commits with it
    return {"audit_entries_removed": audit.sweep(db.session, utcnow())}


def _has_old_rows(store: ProcessStore, now: datetime) -> bool:
    return store.has_completed_tasks_before(_retention_cutoff(now)) or audit.has_expired_entries(now)


@workflow(
    "Delete completed task processes once they are older than the task log retention",
    target=Target.SYSTEM,
    run_predicate=_only_when(_has_old_rows, "no old completed task process or audit log entry"),
)
def task_clean_up_tasks() -> StepList:
    return init >> delete_old_task_processes >> remove_old_audit_entries >> done


def _registered_workflows() -> dict[str, Workflow | Exception]:
    found: dict[str, Workflow | Exception] = {}
    for name in list(ALL_WORKFLOWS):
        try:
            wf = get_workflow(name)
        except Exception as e:
            found[name] = e
        else:
            if wf is not None:
                found[name] = wf
    return found


@step("Compare the catalogue with the code")
def compare_catalogue() -> State:
    from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY

    with get_database().read() as session:
        check = check_catalogue(session, _registered_workflows(), SUBSCRIPTION_MODEL_REGISTRY)
    if check.problems:
        raise InconsistentDataError(
            f"The catalogue does not match the code ({len(check.problems)} problems)",
            details={"problems": check.problems, "notes": check.notes},
        )
    return {"catalogue_notes": check.notes}


@workflow("Check that the products and workflows in the database match the code", target=Target.SYSTEM)
def task_validate_products() -> StepList:
    return init >> compare_catalogue >> done


def _run_on_subscriptions_form() -> type[FormPage]:
    class RunOnSubscriptionsForm(FormPage):
        model_config = ConfigDict(title="Run a workflow on every matching subscription")

        workflow_key: str = Field(description="The workflow to start on each subscription, e.g. validate_port")
        subscription_filter: str | None = Field(
            None, description="As the subscription list's filter: field,value pairs, e.g. product,Port,status,active"
        )
        subscription_query: str | None = Field(None, description="Free text, as the subscription list's search")
        max_in_flight: int = Field(DEFAULT_MAX_IN_FLIGHT, ge=1, le=100, description="At most this many at a time")
        dry_run: bool = Field(True, description="Only list what would be started and what would be refused, and why")

    return RunOnSubscriptionsForm


@workflow(
    "Run a workflow on every subscription matching a filter",
    initial_input_form=_run_on_subscriptions_form,
    target=Target.SYSTEM,
)
def task_run_on_subscriptions() -> StepList:
    return init >> run_on_subscriptions() >> done


BUILT_IN_TASKS = (
    "task_resume_workflows",
    "task_validate_awaiting_callbacks",
    "task_clean_up_tasks",
    "task_validate_products",
    "task_run_on_subscriptions",
)


def register_built_in_tasks() -> None:
    """Register the tasks the initial schedules run (idempotent): the runtime does, when it is created."""
    for name in BUILT_IN_TASKS:
        if name not in ALL_WORKFLOWS:
            register_workflow(globals()[name], name)
