"""Running the example network's workflows in tests, as they behave: the inventory calls a new circuit back
later, and answers "busy" to the first change of each port (a retry goes through)."""

from __future__ import annotations

from examples import inventory
from orchestrion.engine.outcomes import Complete, Failed, Outcome
from orchestrion.runtime import current
from orchestrion.testing import (
    ProcessStat,
    assert_complete,
    extract_error,
    extract_state,
    resume_workflow,
    run_workflow,
)


def finished(process: ProcessStat) -> Outcome:
    """The process's outcome once the inventory's callbacks (if it asked for one) have been delivered."""
    inventory.wait_for_answers()
    status = current().store.last_status(process.process_id)
    assert status == "completed", status
    return Complete(current().store.get(process.process_id).state)


def create(workflow: str, pages: list[dict[str, object]]) -> tuple[str, ProcessStat]:
    """Run a create workflow of the examples to its end: the new subscription's id, and the process."""
    result, process, _ = run_workflow(workflow, pages)
    if workflow == "create_circuit":  # the inventory activates a circuit later (maybe already), calling back
        result = finished(process)
    assert_complete(result)
    return str(extract_state(result)["subscription_id"]), process


def modify_port(port: str, mode: str) -> ProcessStat:
    """modify_port, retried once: the inventory answers "busy" to the first change of each port."""
    result, process, step_log = run_workflow("modify_port", [{"subscription_id": port}, {"mode": mode}])
    if isinstance(result, Failed):
        assert extract_error(result) == "The inventory is busy with another change of this record; retry"
        result, _ = resume_workflow(process, step_log, [{}])
    assert_complete(result)
    return process
