"""The workflow of the crash test, shared by the test process and the worker subprocess it kills.

``init >> step_one >> step_two >> step_three >> done``: every step records one row in the
``effects`` table through the step's own session, so a row exists exactly when the step's
transaction committed. The state carries a counter from step to step, so a recovered run shows
that it continued from the checkpointed state.

When ``CRASH_SIGNAL_FILE`` is set (only in the worker subprocess), ``step_two`` inserts its row,
writes that file (the process id and the executor's worker id, as JSON) and then blocks without
returning, its transaction still open, until it is killed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sqlalchemy import text

from orchestrion.db import session
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow

WORKFLOW_NAME = "crash_recovery"
SIGNAL_FILE_ENV = "CRASH_SIGNAL_FILE"
# A safety net: a blocked worker whose test died without killing it gives up after this long.
MAX_BLOCK_SECONDS = 60.0


def record_effect(step_name: str, process_id: UUIDstr) -> None:
    session().execute(
        text("INSERT INTO effects (step, process_id) VALUES (:step, :process_id)"),
        {"step": step_name, "process_id": str(process_id)},
    )


def signal_and_block(signal_file: str | Path, process_id: UUIDstr) -> None:
    """Write ``signal_file`` (the process id and this executor's worker id), then never return: the
    calling step's transaction stays open until the test kills this worker."""
    from orchestrion.executors import get_executor

    target = Path(signal_file)
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps({"process_id": str(process_id), "worker_id": get_executor().worker_id}))
    partial.replace(target)  # the test never reads a half-written file
    block_until_killed()


def block_until_killed() -> None:
    """Wait to be killed; exit (without committing anything) if the test died first, or after ``MAX_BLOCK_SECONDS``."""
    parent = os.getppid()
    deadline = time.monotonic() + MAX_BLOCK_SECONDS
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.05)
    os._exit(3)  # never return: the blocked step's transaction must not commit


@step("Step one")
def step_one(process_id: UUIDstr) -> State:
    record_effect("step_one", process_id)
    return {"counter": 1}


@step("Step two")
def step_two(process_id: UUIDstr, counter: int) -> State:
    record_effect("step_two", process_id)
    if signal_file := os.environ.get(SIGNAL_FILE_ENV):
        signal_and_block(signal_file, process_id)
    return {"counter": counter + 1}


@step("Step three")
def step_three(process_id: UUIDstr, counter: int) -> State:
    record_effect("step_three", process_id)
    return {"counter": counter + 1}


@workflow("Crash recovery test workflow")
def crash_recovery() -> StepList:
    return init >> step_one >> step_two >> step_three >> done


register_workflow(crash_recovery, WORKFLOW_NAME)
