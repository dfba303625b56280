"""Running one process in a worker: claim it, check its workflow, hand it to the runner."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import structlog

from orchestrion import metrics
from orchestrion.db import get_database
from orchestrion.db.sessions import database_scope
from orchestrion.engine.outcomes import Outcome
from orchestrion.engine.runner import StepRecord, run
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.storage import process_store
from orchestrion.storage.process_store import Claim, DbJournal
from orchestrion.workflows import get_workflow

logger = structlog.get_logger(__name__)

# Notified whenever a worker stops working on a process, so waiters need not poll hard.
process_stopped = threading.Condition()
# Per process: events set when a worker here stops working on it (``watch_process``).
_watchers: dict[uuid.UUID, list[threading.Event]] = {}
_watchers_lock = threading.Lock()


@contextmanager
def watch_process(process_id: uuid.UUID) -> Iterator[threading.Event]:
    """An event that is set when a worker in this Python process next stops working on ``process_id``.

    Watch first, then look at the process: a stop in between still sets the event (no lost wake-up),
    and only this process's waiters wake, not every waiter for every process.
    """
    event = threading.Event()
    with _watchers_lock:
        _watchers.setdefault(process_id, []).append(event)
    try:
        yield event
    finally:
        with _watchers_lock:
            events = _watchers.get(process_id)
            if events is not None and event in events:
                events.remove(event)
                if not events:
                    del _watchers[process_id]


def _notify_stopped(process_id: uuid.UUID) -> None:
    with _watchers_lock:
        events = _watchers.pop(process_id, ())
    for event in events:
        event.set()
    with process_stopped:
        process_stopped.notify_all()


def execute_process(
    process_id: uuid.UUID,
    worker_id: str,
    lease: timedelta,
    claim: Claim | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome | None:
    """Claim (unless already claimed) and run a process until it stops; None if it could not be claimed."""
    db = get_database()
    log = logger.bind(process_id=str(process_id), worker=worker_id)
    if claim is None:
        claim = process_store.claim(db, process_id, worker_id, lease)
        if claim is None:
            return None
    try:
        wf = get_workflow(claim.workflow_name)
        if wf is None or claim.fingerprint != wf.fingerprint:
            reason = _unrunnable_reason(wf, claim)
            if wf is not None:
                log.warning("Workflow changed while the process was in flight", refused=reason)
            process_store.mark_workflow_changed(db, claim, wf.fingerprint if wf else None, reason)
            if wf is None or reason is not None:
                return None
        if claim.abort_requested:
            process_store.abort(db, process_id, claim.user or "SYSTEM", by_owner=True)
            return None
        journal = _ObservedJournal(DbJournal(db, claim, should_stop=should_stop), wf, claim.cursor)
        structlog.contextvars.bind_contextvars(process_id=str(process_id), workflow=wf.name)
        try:
            with database_scope(db):  # db.session outside the steps' own transactions (hooks, user code)
                return run(wf, claim.cursor, claim.state, journal, is_task=claim.is_task)
        finally:
            structlog.contextvars.unbind_contextvars("process_id", "workflow", "step")
    except Exception:
        log.exception("Worker error while running a process; handing it back for recovery")
        process_store.release(db, claim)
        raise
    finally:
        _notify_stopped(process_id)


class _ObservedJournal:
    """The database journal, plus what operators see of a run: the step in every log line, step durations."""

    def __init__(self, journal: DbJournal, wf: Workflow, cursor: Path | None) -> None:
        self.journal = journal
        self.wf = wf
        self.cursor = cursor  # the step about to run; each checkpoint says which is next

    @contextmanager
    def step(self) -> Iterator[_ObservedJournal]:
        if self.cursor is not None:
            structlog.contextvars.bind_contextvars(step=self.wf.step_at(self.cursor).name)
        with self.journal.step():
            yield self

    def discard(self) -> None:
        self.journal.discard()

    def checkpoint(self, record: StepRecord) -> bool:
        go_on = self.journal.checkpoint(record)
        metrics.observe_step(self.wf.name, record)
        self.cursor = record.cursor
        return go_on


def _unrunnable_reason(wf: Workflow | None, claim: Claim) -> str | None:
    """Why a process cannot continue in its (changed) workflow; None when its next step still exists by name."""
    if wf is None:
        return f"Workflow {claim.workflow_name!r} is no longer registered; abort this process or restore it"
    try:
        if claim.cursor:
            wf.step_at(claim.cursor)
    except KeyError:
        return (
            f"Workflow {wf.name!r} changed while this process was in flight: its next step "
            f"{' / '.join(claim.cursor or ())!r} no longer exists. Abort the process, or restore the step."
        )
    if any("#" in key for key in claim.cursor or ()):
        # "name#2" means "the second step of that name": after a change it may be another step.
        return (
            f"Workflow {wf.name!r} changed while this process was in flight, and its next step "
            f"{' / '.join(claim.cursor or ())!r} is one of several steps of that name, so which one is meant "
            "cannot be told. Abort the process, or restore the previous step list."
        )
    return None
