"""Run predicates for ``run_predicate=...`` (orchestrator-core's): when a workflow may start.

A refused start raises ``StartPredicateError`` with the predicate's reason: 412 over HTTP, and the
scheduler skips that run quietly (it is the normal "nothing to do" of a periodic task).
"""

from __future__ import annotations

from orchestrion.engine.workflow import PredicateContext, RunPredicateFail, RunPredicatePass, RunPredicateResult
from orchestrion.runtime import current

__all__ = ["awaiting_callbacks_exist", "no_uncompleted_instance"]


def no_uncompleted_instance(context: PredicateContext) -> RunPredicateResult:
    """Refuse while a process of this workflow is not completed or aborted (running, failed, suspended...)."""
    count = current().store.uncompleted_instances(context.workflow_key)
    if not count:
        return RunPredicatePass()
    return RunPredicateFail(f"Workflow '{context.workflow_key}' already has {count} uncompleted instance(s)")


def awaiting_callbacks_exist(context: PredicateContext) -> RunPredicateResult:
    """As ``no_uncompleted_instance``, and only when a process awaits a callback that has a deadline."""
    if isinstance(verdict := no_uncompleted_instance(context), RunPredicateFail):
        return verdict
    if current().store.awaiting_callbacks_with_deadline():
        return RunPredicatePass()
    return RunPredicateFail("No processes are awaiting a callback with a timeout")
