"""Run predicates for ``run_predicate=...`` (orchestrator-core's): when a workflow may start.

A refused start raises ``StartPredicateError`` with the predicate's reason: 412 over HTTP, and the
scheduler skips that run quietly (it is the normal "nothing to do" of a periodic task).
"""

from __future__ import annotations

from sqlalchemy import func, select

from orchestrion.db import ProcessTable, WorkflowTable, get_database
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import PredicateContext, RunPredicateFail, RunPredicatePass, RunPredicateResult

__all__ = ["awaiting_callbacks_exist", "no_uncompleted_instance"]


def no_uncompleted_instance(context: PredicateContext) -> RunPredicateResult:
    """Refuse while a process of this workflow is not completed or aborted (running, failed, suspended...)."""
    with get_database().read() as session:
        count = session.scalar(
            select(func.count())
            .select_from(ProcessTable)
            .join(WorkflowTable, WorkflowTable.workflow_id == ProcessTable.workflow_id)
            .where(
                WorkflowTable.name == context.workflow_key,
                ProcessTable.last_status.not_in([ProcessStatus.COMPLETED.value, ProcessStatus.ABORTED.value]),
            )
        )
    if not count:
        return RunPredicatePass()
    return RunPredicateFail(f"Workflow '{context.workflow_key}' already has {count} uncompleted instance(s)")


def awaiting_callbacks_exist(context: PredicateContext) -> RunPredicateResult:
    """As ``no_uncompleted_instance``, and only when a process awaits a callback that has a deadline."""
    if isinstance(verdict := no_uncompleted_instance(context), RunPredicateFail):
        return verdict
    with get_database().read() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(ProcessTable)
            .where(
                ProcessTable.last_status == ProcessStatus.AWAITING_CALLBACK.value,
                ProcessTable.callback_deadline.is_not(None),
            )
        )
    if waiting:
        return RunPredicatePass()
    return RunPredicateFail("No processes are awaiting a callback with a timeout")
