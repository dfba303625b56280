"""The built-in tasks of the initial schedule: ordinary SYSTEM workflows, visible and retryable like any other.

Each refuses to start (run predicate, HTTP 412) when an earlier run is still going or there is
nothing to do, so a sweep every 30 seconds leaves no trail of empty task processes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from orchestrion import db
from orchestrion.db import get_database
from orchestrion.db.types import utcnow
from orchestrion.engine.workflow import PredicateContext, RunPredicateFail
from orchestrion.errors import OrchestrionError
from orchestrion.scheduler import sweeps
from orchestrion.scheduler.catalogue_check import check_catalogue
from orchestrion.settings import app_settings
from orchestrion.targets import Target
from orchestrion.types import State
from orchestrion.utils.errors import InconsistentDataError
from orchestrion.workflow import StepList, Workflow, done, init, step, workflow
from orchestrion.workflows import ALL_WORKFLOWS, get_workflow

Predicate = Callable[[PredicateContext], RunPredicateFail | bool]


def _retention_cutoff(now: datetime) -> datetime:
    return now - timedelta(days=app_settings.TASK_LOG_RETENTION_DAYS)


def _only_when(has_work: Callable[[Session, datetime], bool], idle: str) -> Predicate:
    """Start only when no run of this task is in flight and ``has_work`` finds something (else say ``idle``)."""

    def predicate(context: PredicateContext) -> RunPredicateFail | bool:
        with get_database().read() as session:
            if sweeps.instance_in_flight(session, context.workflow_key):
                return RunPredicateFail(f"{context.workflow_key} is already running")
            if not has_work(session, utcnow()):
                return RunPredicateFail(f"Nothing to do: {idle}")
        return True

    return predicate


@step("Resume processes due for a retry")
def resume_due_retries() -> State:
    from orchestrion.services.processes import resume_process

    # A read session, not the step's: each resume writes in a transaction of its own, which a write
    # transaction held by this step would block on SQLite. Resuming twice is refused, so this is safe to repeat.
    with get_database().read() as session:
        due = sweeps.due_retries(session, utcnow())
    resumed, not_resumed = [], {}
    for process_id in due:
        try:
            resume_process(process_id, user="scheduler")
        except OrchestrionError as e:  # it moved on meanwhile, or the engine was paused
            not_resumed[str(process_id)] = str(e)
        else:
            resumed.append(process_id)
    return {"resumed": resumed, "not_resumed": not_resumed}


@workflow(
    "Resume waiting processes whose retry time has come",
    target=Target.SYSTEM,
    run_predicate=_only_when(lambda s, now: bool(sweeps.due_retries(s, now)), "no waiting process is due"),
)
def task_resume_workflows() -> StepList:
    return init >> resume_due_retries >> done


@step("Fail timed-out callbacks")
def fail_timed_out_callbacks() -> State:
    session, now = db.session(), utcnow()  # the step's transaction: the failures commit with its checkpoint
    timed_out = [p for p in sweeps.expired_callbacks(session, now) if sweeps.fail_timed_out_callback(session, p, now)]
    return {"timed_out": timed_out}


@workflow(
    "Fail processes whose callback did not arrive before its deadline",
    target=Target.SYSTEM,
    run_predicate=_only_when(lambda s, now: bool(sweeps.expired_callbacks(s, now)), "no callback has timed out"),
)
def task_validate_awaiting_callbacks() -> StepList:
    return init >> fail_timed_out_callbacks >> done


@step("Delete old task processes")
def delete_old_task_processes() -> State:
    before = _retention_cutoff(utcnow())
    return {"deleted": sweeps.delete_completed_tasks(db.session(), before), "completed_before": before}


@workflow(
    "Delete completed task processes older than TASK_LOG_RETENTION_DAYS",
    target=Target.SYSTEM,
    run_predicate=_only_when(
        lambda s, now: sweeps.has_completed_tasks_before(s, _retention_cutoff(now)), "no old completed task process"
    ),
)
def task_clean_up_tasks() -> StepList:
    return init >> delete_old_task_processes >> done


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
