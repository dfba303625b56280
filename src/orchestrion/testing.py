"""A test kit for workflow authors: run workflows in a plain pytest run, no server needed.

Processes run synchronously, in the calling thread, on the real engine and a real database: the
one already initialised, or else a temporary SQLite file created on first use. So what passes
here behaves the same in production, including the JSON round-trip of the state between steps.

    result, process, step_log = run_workflow("create_node", [{"product": pid}, {"name": "n1"}])
    assert_suspended(result)
    result, step_log = resume_workflow(process, step_log, [{"answer": 42}])
    assert_complete(result)
    assert extract_state(result)["answer"] == 42
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, Self

from orchestrion import db
from orchestrion.engine.clock import Clock, system_clock, using_clock
from orchestrion.engine.outcomes import (
    OUTCOME_BY_PROCESS_STATUS,
    Abort,
    AwaitingCallback,
    Complete,
    Failed,
    Outcome,
    Success,
    Suspend,
    Waiting,
)
from orchestrion.engine.registry import get_workflow, register_workflow, unregister_workflow
from orchestrion.engine.workflow import Workflow
from orchestrion.executors import set_executor
from orchestrion.executors.inline import InlineExecutor
from orchestrion.runtime import Runtime, activate, current
from orchestrion.services import processes
from orchestrion.storage.memory_store import MemoryProcessStore
from orchestrion.types import State

__all__ = [
    "MemoryProcessStore",
    "ProcessStat",
    "StepLogEntry",
    "TestClock",
    "WorkflowInstanceForTests",
    "assert_aborted",
    "assert_awaiting_callback",
    "assert_complete",
    "assert_failed",
    "assert_success",
    "assert_suspended",
    "assert_waiting",
    "ensure_test_database",
    "extract_error",
    "extract_state",
    "memory_runtime",
    "resume_workflow",
    "run_workflow",
    "send_callback",
]


class StepLogEntry(NamedTuple):
    """One history row: a step (or step group) name, its status and the state it recorded."""

    name: str
    status: str
    state: State


@dataclass
class ProcessStat:
    process_id: uuid.UUID
    workflow_name: str

    @property
    def workflow(self) -> Workflow | None:
        return get_workflow(self.workflow_name)


def ensure_test_database() -> db.Database:
    """The initialised database, or a new temporary SQLite file (migrated) when there is none."""
    if not db.is_initialised():
        path = Path(tempfile.mkdtemp(prefix="orchestrion-test-")) / "orchestrion.db"
        db.init_database(f"sqlite:///{path}")
    return db.get_database()


class TestClock:
    """A clock that stands still until the test moves it, so retries, callback deadlines, leases and
    schedules fall due when the test says, without waiting.

        with TestClock() as clock:
            result, process, _ = run_workflow("flaky", {})
            clock.advance(timedelta(minutes=5))  # the retry is due now

    Inside the ``with`` block it is the clock of this context: of the steps the kit runs inline, and of
    ``utcnow()``. Pass it to ``Runtime(clock=...)`` to give a whole runtime (its worker threads too).
    """

    __test__ = False  # a helper, not a test class

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("TestClock needs an aware datetime (UTC), like every time orchestrion keeps")
        self.now = start or datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        self._entered: list[AbstractContextManager[None]] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta | float) -> datetime:
        """Move the clock on by ``by`` (a timedelta, or seconds); returns the new now."""
        step = by if isinstance(by, timedelta) else timedelta(seconds=by)
        if step < timedelta(0):
            raise ValueError("A clock only moves forward")
        self.now += step
        return self.now

    def __enter__(self) -> Self:
        entered = using_clock(self)
        entered.__enter__()
        self._entered.append(entered)
        return self

    def __exit__(self, *exc: object) -> None:
        self._entered.pop().__exit__(None, None, None)


@contextmanager
def memory_runtime(clock: Clock = system_clock) -> Iterator[Runtime]:
    """A runtime whose processes live in memory (``MemoryProcessStore``) for a ``with`` block.

    For workflows whose steps never touch the database (tasks, pure logic): no migrations, no files
    kept. The kit's functions use it inside the block. A step that does use ``db.session`` (any
    subscription step) fails; test those on a database (the kit's default).
    """
    path = Path(tempfile.mkdtemp(prefix="orchestrion-memory-")) / "unused.db"
    runtime = Runtime(
        db.Database(f"sqlite:///{path}"), executor=InlineExecutor(), store=MemoryProcessStore(), clock=clock
    )
    try:
        with activate(runtime):
            yield runtime
    finally:
        runtime.close()
        runtime.database.dispose()
        path.unlink(missing_ok=True)
        path.parent.rmdir()


@contextmanager
def _inline() -> Iterator[None]:
    previous = set_executor(InlineExecutor())
    try:
        yield
    finally:
        set_executor(previous)


def _pages(input_data: State | list[State] | None) -> list[State] | None:
    if input_data is None or isinstance(input_data, list):
        return input_data
    return [input_data]


def _result(process_id: uuid.UUID) -> tuple[Outcome, list[StepLogEntry]]:
    store = current().store
    p = store.get(process_id)
    log = [StepLogEntry(name, status, state) for name, status, state in store.history(process_id)]
    outcome_type = OUTCOME_BY_PROCESS_STATUS.get(p.status, Success)
    if outcome_type in (Failed, Waiting):
        error = dict(log[-1].state) if log else {"error": p.failed_reason}
        if p.traceback:
            error["traceback"] = p.traceback
        return outcome_type(error), log
    return outcome_type(p.state), log


def run_workflow(
    workflow_key: str, input_data: State | list[State] | None, user: str = "SYSTEM"
) -> tuple[Outcome, ProcessStat, list[StepLogEntry]]:
    """Start a workflow with its form pages and run it until it stops; (result, process, step log)."""
    ensure_test_database()
    with _inline():
        process_id = processes.start_process(workflow_key, _pages(input_data), user=user)
    result, log = _result(process_id)
    return result, ProcessStat(process_id, workflow_key), log


def resume_workflow(
    process: ProcessStat, step_log: list[StepLogEntry], input_data: State | list[State] | None, user: str = "SYSTEM"
) -> tuple[Outcome, list[StepLogEntry]]:
    """Resume a suspended process with form pages (or retry a failed one with ``[{}]``); (result, step log)."""
    with _inline():
        processes.resume_process(process.process_id, _pages(input_data), user=user)
    return _result(process.process_id)


def send_callback(process: ProcessStat, data: Any) -> tuple[Outcome, list[StepLogEntry]]:
    """Deliver a callback to a process awaiting one, as the external system would; (result, step log)."""
    token = current().store.get(process.process_id).callback_token
    with _inline():
        processes.deliver_callback(process.process_id, token or "", data)
    return _result(process.process_id)


class WorkflowInstanceForTests:
    """Register a workflow object under ``name`` for the duration of a ``with`` block."""

    def __init__(self, wf: Workflow, name: str) -> None:
        self.wf = wf
        self.name = name

    def __enter__(self) -> Workflow:
        return register_workflow(self.wf, self.name)

    def __exit__(self, *exc: object) -> None:
        unregister_workflow(self.name)


def _describe(result: Outcome) -> str:
    if isinstance(result, Failed | Waiting):
        s = result.s if isinstance(result.s, dict) else {"error": repr(result.s)}
        return f"{type(result).__name__}: {s.get('class', '')}: {s.get('error')}\n{s.get('traceback', '')}"
    return f"{type(result).__name__}({result.s!r})"


def _assert(result: Outcome, expected: type[Outcome]) -> None:
    assert isinstance(result, expected), f"expected {expected.__name__}, got {_describe(result)}"


def assert_complete(result: Outcome) -> None:
    _assert(result, Complete)


def assert_success(result: Outcome) -> None:
    _assert(result, Success)


def assert_suspended(result: Outcome) -> None:
    _assert(result, Suspend)


def assert_waiting(result: Outcome) -> None:
    _assert(result, Waiting)


def assert_awaiting_callback(result: Outcome) -> None:
    _assert(result, AwaitingCallback)


def assert_aborted(result: Outcome) -> None:
    _assert(result, Abort)


def assert_failed(result: Outcome) -> None:
    _assert(result, Failed)


def extract_state(result: Outcome) -> State:
    """The state a result carries (for a failure: its error dict)."""
    return dict(result.s) if isinstance(result.s, dict) else {"error": str(result.s)}


def extract_error(result: Outcome) -> str | None:
    """The error message of a failed or waiting result."""
    assert isinstance(result, Failed | Waiting), f"expected a failure, got {_describe(result)}"
    return extract_state(result).get("error")
