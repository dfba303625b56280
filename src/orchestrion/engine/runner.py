"""The runner: executes a workflow's steps from a position, one checkpoint per step.

The runner is pure: persistence is a ``Journal`` adapter. For every step it opens the journal's
step transaction, runs the step inside it (so the step's own database work shares it), turns the
outcome into a ``StepRecord`` and hands that to ``checkpoint``. The checkpoint reports what it
found (the claim lost, an abort requested, the engine paused) and the runner decides what follows,
in the same transaction: commit and go on, end the process aborted, or hand it back. So every
status a process ends a run in is decided here, whichever journal keeps the records; the retry
policy too (a ``retrystep`` failure's next try, or that there is none).
"""

from __future__ import annotations

import traceback as tb
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple, Protocol

from orchestrion.config.assignee import Assignee
from orchestrion.engine.clock import utcnow
from orchestrion.engine.context import (
    StepContext,
    enter_named_step,
    enter_step_context,
    leave_named_step,
    leave_step_context,
)
from orchestrion.engine.outcomes import Abort, Complete, Failed, Outcome, Skipped, Waiting
from orchestrion.engine.retry import DEFAULT_POLICY, RetryPolicy
from orchestrion.engine.serialization import StateSerializationError, canonical_roundtrip, dumps
from orchestrion.engine.status import TERMINAL_STATUSES, ProcessStatus, StepStatus
from orchestrion.engine.steps import PureStep, Step
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.errors import (
    ApiUnavailableError,
    InconsistentDataError,
    OrchestrionError,
    ProcessFailureError,
    StateTooLargeError,
)
from orchestrion.types import State


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
    retry_at: datetime | None = None  # a retrystep failure: when the next try is due
    row_canonical: bool = False  # row_json is the canonical JSON of row_state (the hash chain hashes those bytes)


# A step that met an infrastructure error this many times in a row, each time after the journal
# found the database answering again, fails with it: it is the step's own doing (a step that
# deadlocks itself on SQLite's write lock, say), not an outage to wait out.
MAX_INFRASTRUCTURE_TRIES = 20


class CheckpointRejectedError(OrchestrionError):
    """The store refused to write a checkpoint (e.g. the database rejected a value, or the step's own
    writes broke a constraint at commit). The runner records the step as failed instead, so the
    process stops with the reason rather than re-running the step for ever."""


class Signals(NamedTuple):
    """What a checkpoint found while it wrote the record (nothing is committed yet)."""

    kept: bool  # False: another worker took the process over; nothing of the step was written
    abort_requested: bool = False
    paused: bool = False
    followed: bool = False  # the followers were written with the record (then nothing else was found)


_KEPT = Signals(kept=True)
_FOLLOWED = Signals(kept=True, followed=True)


class StepTransaction(Protocol):
    def discard(self) -> None:
        """Roll back what the step did to the database; the checkpoint still follows."""

    def checkpoint(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> Signals:
        """Write the record with the step's effects, not committing yet; say what was found.

        ``followers``: the records of the pure steps right after it (see ``pure_followers``), which the
        transaction may write with it, all or none (``Signals.followed``); those it does not write run next.
        """

    def abort(self, record: StepRecord) -> None:
        """End the process aborted (an abort was requested), in the checkpoint's transaction."""

    def hand_back(self) -> None:
        """Give the process back to no worker (the engine paused, the worker stops), in that transaction."""

    def commit(self) -> None: ...


class Journal(Protocol):
    """Where a run keeps its records: one transaction per step."""

    @property
    def context(self) -> StepContext | None:
        """What the steps are told about their process."""

    def step(self) -> AbstractContextManager[StepTransaction]: ...

    def should_stop(self) -> bool:
        """The worker is stopping: a running process is handed back at the next boundary."""

    def infrastructure_error(self, error: BaseException) -> bool:
        """``error`` came from the journal's own infrastructure (a lost database connection, a deadlock),
        not from the step's logic: the step's transaction rolled back, and the step is not at fault."""

    def recover(self, attempt: int) -> bool:
        """After the ``attempt``-th infrastructure error in a row (0-based): wait until the step may run
        again, from the state before it; False when it must not (the worker stops, the claim is lost)."""


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
    token = enter_named_step(step.name)
    try:
        if step.predicate is not None and not step.predicate(state):
            return Skipped(state)
        return step(state)
    except Exception as e:
        return Failed(e)
    finally:
        leave_named_step(token)


def make_record(
    workflow: Workflow,
    path: Path,
    step: Step,
    outcome: Outcome,
    started_at: datetime,
    *,
    is_task: bool,
    max_state_bytes: int | None = None,
) -> tuple[StepRecord, Outcome, State | None]:
    """Turn an outcome into what is persisted; returns the record, the (possibly changed) outcome and the new state.

    The new state is the JSON round-trip of the step's result, which is what the next step receives.
    A state that cannot be stored fails the step, naming the key; so does one whose JSON is longer
    than ``max_state_bytes`` (it would be written again with every later step).
    """
    new_state: State | None = None
    raw: bytes | None = None
    canonical = False
    if not isinstance(outcome, Failed | Waiting):
        try:
            new_state, raw, canonical = canonical_roundtrip(outcome.s)
        except StateSerializationError as e:
            error = TypeError(f"Step {step.name!r} returned a state that cannot be stored: {e}")
            error.__cause__ = e.cause  # the exception a computed field or serializer raised, with its traceback
            outcome = Failed(error)
        else:
            if max_state_bytes is not None and len(raw) > max_state_bytes:
                outcome = Failed(
                    StateTooLargeError(f"The state returned by step {step.name!r}", len(raw), max_state_bytes)
                )
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
    record = StepRecord(
        path=path,
        row_name=row_name,
        step_name=step.name,
        status=outcome.status,
        row_state=new_state,
        row_json=raw,
        process_status=outcome.overall_status,
        process_state_json=raw,
        cursor=_next_cursor(workflow, path, outcome),
        assignee=step.assignee.value,
        started_at=started_at,
        completed_at=now,
        meta=outcome.meta or {},
        row_canonical=canonical,
    )
    return record, outcome, new_state


def _next_cursor(workflow: Workflow, path: Path, outcome: Outcome) -> Path | None:
    if outcome.continues:
        return workflow.next_path(path)
    if isinstance(outcome, Complete | Abort):
        return None
    return path  # Suspend, AwaitingCallback: the step at the cursor is completed by the resume


def pure_followers(workflow: Workflow, record: StepRecord, outcome: Outcome) -> tuple[tuple[StepRecord, Outcome], ...]:
    """The records (and outcomes) of the pure steps that come right after a step which goes on: ``done`` at the
    end of every workflow, say.

    A pure step does nothing but give its outcome, so writing it with the step before (in that
    step's transaction, at that moment) is what a run without a pause between the two writes: it
    saves the pure step a checkpoint of its own. Its row has the state the step before returned.
    """
    found: list[tuple[StepRecord, Outcome]] = []
    while outcome.continues and record.process_status == ProcessStatus.RUNNING and record.cursor is not None:
        path = record.cursor
        step = workflow.step_at(path)
        if len(path) > 1 or not isinstance(step, PureStep) or step.predicate is not None:
            break  # a group's part updates the group's row: it is not written with another row
        outcome = step(outcome.s)
        record = replace(
            record,
            path=path,
            row_name=workflow.step_at(path[:1]).name,
            step_name=step.name,
            status=outcome.status,
            process_status=outcome.overall_status,
            cursor=_next_cursor(workflow, path, outcome),
            assignee=step.assignee.value,
            started_at=record.completed_at,
            meta={},
            retry_at=None,
        )
        found.append((record, outcome))
    return tuple(found)


def opening_records(workflow: Workflow, state: State) -> tuple[StepRecord, ...]:
    """The records of the pure steps a process of ``workflow`` begins with (``init``), as a run from ``state``
    would make them, for a process created running: its row is then written with theirs, and its run
    begins after them. Only those that leave it running (``init >> done`` leaves ``done`` to the run).
    """
    path = workflow.first_path()
    step = workflow.step_at(path)
    if not isinstance(step, PureStep) or step.predicate is not None:
        return ()
    record, outcome, _ = make_record(workflow, path, step, step(state), utcnow(), is_task=False)
    if record.process_status != ProcessStatus.RUNNING:
        return ()
    found = [record, *(f for f, _ in pure_followers(workflow, record, outcome))]
    while found[-1].process_status != ProcessStatus.RUNNING:
        found.pop()
    return tuple(found)


class _Decision(Enum):
    GO_ON = "go on"  # committed; continue with the next step if the outcome does
    STOPPED = "stopped"  # committed; the process was handed back, aborted, or its claim lost


def _persist(
    tx: StepTransaction, journal: Journal, record: StepRecord, followers: tuple[StepRecord, ...] = ()
) -> tuple[_Decision, bool, bool]:
    """Write the record (with its followers, where the transaction can) and decide what follows from
    what the checkpoint found; (decision, aborted, followed)."""
    signals = tx.checkpoint(record, followers)
    if not signals.kept:
        return _Decision.STOPPED, False, False
    if signals.followed:
        tx.commit()
        last = followers[-1]
        return (_Decision.GO_ON if last.process_status == ProcessStatus.RUNNING else _Decision.STOPPED), False, True
    if signals.abort_requested and record.process_status not in TERMINAL_STATUSES:
        tx.abort(record)
        tx.commit()
        return _Decision.STOPPED, True, False
    running = record.process_status == ProcessStatus.RUNNING
    if running and (signals.paused or journal.should_stop()):
        tx.hand_back()
        tx.commit()
        return _Decision.STOPPED, False, False
    tx.commit()
    return (_Decision.GO_ON if running else _Decision.STOPPED), False, False


def run(
    workflow: Workflow,
    path: Path | None,
    state: State,
    journal: Journal,
    *,
    is_task: bool = False,
    retries: int = 0,
    retry_policy: RetryPolicy = DEFAULT_POLICY,
    max_state_bytes: int | None = None,
) -> Outcome:
    """Run from ``path`` until the process stops (completes, fails, waits, or is told to stop).

    ``retries``: how often the step at ``path`` was retried automatically already. ``max_state_bytes``:
    a step whose state's JSON is longer fails (None: no limit).
    """
    token = enter_step_context(journal.context)  # the same for every step of the run: set once
    try:
        return _run_steps(workflow, path, state, journal, retries, _Rules(is_task, retry_policy, max_state_bytes))
    finally:
        leave_step_context(token)


class _Rules(NamedTuple):
    """What holds for every step of a run."""

    is_task: bool
    retry_policy: RetryPolicy
    max_state_bytes: int | None


def _run_steps(
    workflow: Workflow, path: Path | None, state: State, journal: Journal, retries: int, rules: _Rules
) -> Outcome:
    outcome: Outcome = Complete(state)
    attempt = 0  # tries of this step that met an infrastructure error
    while path is not None:
        step = workflow.step_at(path)
        tolerate = attempt < MAX_INFRASTRUCTURE_TRIES
        try:
            decision, aborted, record, outcome, new_state = _run_step(
                workflow, path, step, state, journal, retries, rules, tolerate
            )
        except Exception as e:
            if not (journal.infrastructure_error(e) and journal.recover(attempt)):
                raise
            attempt += 1
            continue
        attempt = 0
        if aborted:
            return Abort(new_state if new_state is not None else state)
        if decision is _Decision.STOPPED or not outcome.continues:
            return outcome
        assert new_state is not None
        path, state, retries = record.cursor, new_state, 0
    return outcome


def _run_step(
    workflow: Workflow,
    path: Path,
    step: Step,
    state: State,
    journal: Journal,
    retries: int,
    rules: _Rules,
    tolerate: bool,
) -> tuple[_Decision, bool, StepRecord, Outcome, State | None]:
    """One step in its transaction: run it, checkpoint it, decide what follows.

    A step that failed because of the journal's infrastructure raises that error (rolling the
    transaction back) instead of recording a failure: it is the journal's to recover from, unless
    it is no longer ``tolerate``d.
    """
    with journal.step() as tx:
        started_at = utcnow()
        outcome = execute(step, state)
        error = outcome.s if isinstance(outcome, Failed) else None
        if isinstance(error, Exception) and journal.infrastructure_error(error):
            if tolerate:
                raise error
            outcome = Failed(error)  # the same database error every time the database answers: the step's own
            error.add_note(f"The step met this database error {MAX_INFRASTRUCTURE_TRIES} times in a row")
        record, outcome, new_state = make_record(
            workflow, path, step, outcome, started_at, is_task=rules.is_task, max_state_bytes=rules.max_state_bytes
        )
        record = rules.retry_policy.decide(record, retries)
        if new_state is None:
            tx.discard()
        followers = pure_followers(workflow, record, outcome)
        try:
            decision, aborted, followed = _persist(tx, journal, record, tuple(f for f, _ in followers))
        except CheckpointRejectedError as rejected:
            tx.discard()
            record, outcome, new_state = make_record(
                workflow, path, step, Failed(rejected), started_at, is_task=rules.is_task
            )
            decision, aborted, followed = _persist(tx, journal, record)
        if followed:
            record, outcome = followers[-1]
    return decision, aborted, record, outcome, new_state


class MemoryJournal:
    """Keeps records in a list: the engine without persistence (benchmarks, unit tests of the runner)."""

    context: StepContext | None = None

    def __init__(self) -> None:
        self.records: list[StepRecord] = []

    @contextmanager
    def step(self) -> Iterator[MemoryJournal]:
        yield self

    def should_stop(self) -> bool:
        return False

    def infrastructure_error(self, error: BaseException) -> bool:
        return False

    def recover(self, attempt: int) -> bool:
        return False

    def discard(self) -> None:
        pass

    def checkpoint(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> Signals:
        self.records.append(record)
        if not followers:
            return _KEPT
        self.records.extend(followers)
        return _FOLLOWED

    def abort(self, record: StepRecord) -> None:
        raise AssertionError("nothing asks a memory journal to abort")

    def hand_back(self) -> None:
        raise AssertionError("a memory journal is never paused")

    def commit(self) -> None:
        pass
