"""The runner: executes a workflow's steps from a position, one checkpoint per step.

The runner is pure: persistence is a ``Journal`` adapter. For every step it opens the journal's
step transaction, runs the step inside it (so the step's own database work shares it), turns the
outcome into a ``StepRecord`` and hands that to ``checkpoint``, which commits effects, history row
and process status together. The journal answers whether to go on (it says stop when the process
was aborted, the engine paused, or another worker took the process over).
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestrion.config.assignee import Assignee
from orchestrion.engine.outcomes import Abort, Complete, Failed, Outcome, Skipped, Waiting
from orchestrion.engine.serialization import StateSerializationError, dumps, roundtrip
from orchestrion.engine.status import ProcessStatus, StepStatus
from orchestrion.engine.steps import Step
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.types import State
from orchestrion.utils.errors import ApiUnavailableError, InconsistentDataError, ProcessFailureError


@dataclass(slots=True)
class StepRecord:
    """Everything one checkpoint writes: the history row and the process row's new values."""

    path: Path
    row_name: str  # the step's name, or its top-level group's: a group is one history row
    step_name: str
    status: StepStatus
    row_state: State
    row_json: bytes
    process_status: ProcessStatus
    process_state_json: bytes | None  # None: the process keeps the state it had (a failed step)
    cursor: Path | None
    assignee: str
    started_at: datetime
    completed_at: datetime
    failed_reason: str | None = None
    traceback: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


class CheckpointRejectedError(Exception):
    """The store refused to write a checkpoint (e.g. the database rejected a value, or the step's own
    writes broke a constraint at commit). The runner records the step as failed instead, so the
    process stops with the reason rather than re-running the step for ever."""


class StepTransaction(Protocol):
    def discard(self) -> None:
        """Roll back what the step did to the database; the checkpoint still follows."""

    def checkpoint(self, record: StepRecord) -> bool:
        """Persist the record atomically with the step's effects; False means stop now."""


class Journal(Protocol):
    def step(self) -> AbstractContextManager[StepTransaction]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


def error_state(error: BaseException | dict[str, Any]) -> tuple[State, str | None]:
    """The error dict stored for a failed step, and the traceback kept on the process."""
    if isinstance(error, dict):
        return error, None
    state: State = {"class": type(error).__name__, "error": str(error)}
    if isinstance(error, ProcessFailureError) and error.details is not None:
        state["details"] = error.details
    return state, "".join(tb.format_exception(error))


def failure_status(error: BaseException | dict[str, Any], *, is_task: bool) -> tuple[ProcessStatus, Assignee]:
    """Tasks distinguish bad data (for the NOC) and unreachable systems from other failures."""
    if is_task and isinstance(error, InconsistentDataError | AssertionError):
        return ProcessStatus.INCONSISTENT_DATA, Assignee.NOC
    if is_task and isinstance(error, ApiUnavailableError):
        return ProcessStatus.API_UNAVAILABLE, Assignee.SYSTEM
    return ProcessStatus.FAILED, Assignee.SYSTEM


def execute(step: Step, state: State) -> Outcome:
    """Run one step; a raised exception (even from a predicate) is a failed outcome."""
    try:
        if step.predicate is not None and not step.predicate(state):
            return Skipped(state)
        return step(state)
    except Exception as e:
        return Failed(e)


def make_record(
    workflow: Workflow, path: Path, step: Step, outcome: Outcome, started_at: datetime, *, is_task: bool
) -> tuple[StepRecord, Outcome, State | None]:
    """Turn an outcome into what is persisted; returns the record, the (possibly changed) outcome and the new state.

    The new state is the JSON round-trip of the step's result, which is what the next step receives.
    A state that cannot be stored fails the step, naming the key.
    """
    new_state: State | None = None
    raw: bytes | None = None
    if not isinstance(outcome, Failed | Waiting):
        try:
            new_state, raw = roundtrip(outcome.s)
        except StateSerializationError as e:
            error = TypeError(f"Step {step.name!r} returned a state that cannot be stored: {e}")
            error.__cause__ = e.cause  # the exception a computed field or serializer raised, with its traceback
            outcome = Failed(error)
    row_name = workflow.step_at(path[:1]).name
    now = utcnow()
    if isinstance(outcome, Failed | Waiting):
        err, trace = error_state(outcome.s)
        status, assignee = (
            failure_status(outcome.s, is_task=is_task)
            if isinstance(outcome, Failed)
            else (ProcessStatus.WAITING, Assignee.SYSTEM)
        )
        try:
            err_json = dumps(err)
        except StateSerializationError:
            err = {**err, "details": repr(err.get("details"))}
            err_json = dumps(err)
        record = StepRecord(
            path=path,
            row_name=row_name,
            step_name=step.name,
            status=outcome.status,
            row_state=err,
            row_json=err_json,
            process_status=status,
            process_state_json=None,
            cursor=path,
            assignee=assignee.value,
            started_at=started_at,
            completed_at=now,
            failed_reason=err.get("error"),
            traceback=trace,
            meta=outcome.meta or {},
        )
        return record, outcome, None
    assert new_state is not None and raw is not None
    if outcome.continues:
        cursor = workflow.next_path(path)
    elif isinstance(outcome, Complete | Abort):
        cursor = None
    else:  # Suspend, AwaitingCallback: the step at the cursor is completed by the resume
        cursor = path
    record = StepRecord(
        path=path,
        row_name=row_name,
        step_name=step.name,
        status=outcome.status,
        row_state=new_state,
        row_json=raw,
        process_status=outcome.overall_status,
        process_state_json=raw,
        cursor=cursor,
        assignee=step.assignee.value,
        started_at=started_at,
        completed_at=now,
        meta=outcome.meta or {},
    )
    return record, outcome, new_state


def run(workflow: Workflow, path: Path | None, state: State, journal: Journal, *, is_task: bool = False) -> Outcome:
    """Run from ``path`` until the process stops (completes, fails, waits, or is told to stop)."""
    outcome: Outcome = Complete(state)
    while path is not None:
        step = workflow.step_at(path)
        with journal.step() as tx:
            started_at = utcnow()
            outcome = execute(step, state)
            record, outcome, new_state = make_record(workflow, path, step, outcome, started_at, is_task=is_task)
            if new_state is None:
                tx.discard()
            try:
                go_on = tx.checkpoint(record)
            except CheckpointRejectedError as rejected:
                tx.discard()
                record, outcome, new_state = make_record(
                    workflow, path, step, Failed(rejected), started_at, is_task=is_task
                )
                go_on = tx.checkpoint(record)
        if not (go_on and outcome.continues):
            return outcome
        assert new_state is not None
        path, state = record.cursor, new_state
    return outcome


class MemoryJournal:
    """Keeps records in a list: the engine without persistence (benchmarks, unit tests of the runner)."""

    def __init__(self) -> None:
        self.records: list[StepRecord] = []

    @contextmanager
    def step(self) -> Iterator[MemoryJournal]:
        yield self

    def discard(self) -> None:
        pass

    def checkpoint(self, record: StepRecord) -> bool:
        self.records.append(record)
        return True
