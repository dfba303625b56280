"""Workflows of the Celery tests, imported by the test process and by the worker subprocesses (``-i``).

Every step inserts a row into ``effects`` (step, process id, pid of the worker) through the step's
own session, so a row exists exactly when the step's transaction committed, and says who ran it.

``celery_two_steps``: two short steps. A worker whose pid is in the file named by
``CELERY_TEST_HOLD_FILE`` blocks in ``Second`` (its row inserted, not committed) until it is killed.
``celery_slow_step``: ``Slow`` writes ``<CELERY_TEST_SIGNAL_DIR>/<process id>`` and then takes
``SLOW_SECONDS``, time for the test to stop the worker in the middle of the step.
``celery_busy``: one step of ``BUSY_SECONDS``, to keep a worker's threads busy behind a long queue.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

from orchestrion.db import session
from orchestrion.targets import Target
from orchestrion.types import State, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow

HOLD_FILE_ENV = "CELERY_TEST_HOLD_FILE"
SIGNAL_DIR_ENV = "CELERY_TEST_SIGNAL_DIR"
STEP_SECONDS = 0.05
SLOW_SECONDS = 1.0
BUSY_SECONDS = 0.5
MAX_HOLD_SECONDS = 60.0  # a safety net for a held worker whose test died without killing it


def record_effect(step_name: str, process_id: UUIDstr) -> None:
    session().execute(
        text("INSERT INTO effects (step, process_id, pid) VALUES (:step, :process_id, :pid)"),
        {"step": step_name, "process_id": str(process_id), "pid": os.getpid()},
    )


def _held() -> bool:
    hold = os.environ.get(HOLD_FILE_ENV)
    return bool(hold) and Path(hold).exists() and Path(hold).read_text().strip() == str(os.getpid())


@step("First")
def first(process_id: UUIDstr) -> State:
    record_effect("first", process_id)
    time.sleep(STEP_SECONDS)
    return {}


@step("Second")
def second(process_id: UUIDstr) -> State:
    record_effect("second", process_id)
    deadline = time.monotonic() + MAX_HOLD_SECONDS
    while _held() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(STEP_SECONDS)
    return {}


@workflow("Celery test: two short steps", target=Target.CREATE)
def celery_two_steps() -> StepList:
    return init >> first >> second >> done


@step("Slow")
def slow(process_id: UUIDstr) -> State:
    record_effect("slow", process_id)
    signal_dir = Path(os.environ[SIGNAL_DIR_ENV])
    (signal_dir / f"{process_id}.partial").write_text(str(os.getpid()))
    (signal_dir / f"{process_id}.partial").replace(signal_dir / str(process_id))
    time.sleep(SLOW_SECONDS)
    return {}


@step("After")
def after(process_id: UUIDstr) -> State:
    record_effect("after", process_id)
    return {}


@workflow("Celery test: a slow step, then a quick one", target=Target.CREATE)
def celery_slow_step() -> StepList:
    return init >> slow >> after >> done


@step("Busy")
def busy(process_id: UUIDstr) -> State:
    record_effect("busy", process_id)
    time.sleep(BUSY_SECONDS)
    return {}


@workflow("Celery test: a busy step", target=Target.CREATE)
def celery_busy() -> StepList:
    return init >> busy >> done


register_workflow(celery_two_steps, "celery_two_steps")
register_workflow(celery_slow_step, "celery_slow_step")
register_workflow(celery_busy, "celery_busy")
