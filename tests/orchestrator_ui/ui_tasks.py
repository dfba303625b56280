"""A task for the real orchestrator-ui test (``test_orchestrator_ui.py``), registered when the server imports it.

``task_ui_reconcile``: a SYSTEM workflow (a task) whose step fails on the first attempt of each process and succeeds
when retried, so the UI has a failed task to show and to retry.
"""

from __future__ import annotations

import threading

from orchestrion.targets import Target
from orchestrion.types import State, UUIDstr
from orchestrion.utils.errors import ProcessFailureError
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow

_attempted: set[str] = set()
_lock = threading.Lock()


@step("Reconcile with the flaky inventory")
def reconcile(process_id: UUIDstr) -> State:
    with _lock:
        first = str(process_id) not in _attempted
        _attempted.add(str(process_id))
    if first:
        raise ProcessFailureError("The inventory did not answer", {"attempt": 1})
    return {"reconciled": True}


@workflow("Reconcile subscriptions with the inventory (UI test)", target=Target.SYSTEM)
def task_ui_reconcile() -> StepList:
    return init >> reconcile >> done


register_workflow(task_ui_reconcile, "task_ui_reconcile")
