"""Running one process in a worker: claim it, check its workflow, hand it to the runner."""

from __future__ import annotations

import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import structlog

from orchestrion import metrics
from orchestrion.db.failures import is_transient
from orchestrion.db.sessions import database_scope
from orchestrion.engine.outcomes import Outcome
from orchestrion.engine.registry import get_workflow
from orchestrion.engine.runner import Signals, StepRecord, run
from orchestrion.engine.status import TERMINAL_STATUSES, ProcessStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.runtime import current
from orchestrion.storage.claims import Claim
from orchestrion.storage.protocol import ProcessStore, StoreJournal

logger = structlog.get_logger(__name__)


class Stopped(threading.Event):
    """Set when a worker stops working on the process; ``status``: how it ended the process, if it did."""

    status: ProcessStatus | None = None  # completed or aborted, as the run committed it: final, no need to read it
    held: bool = False  # a worker here had the process in hand when the watch began: its stop sets the event


# Per process: events set when a worker here stops working on it (``watch_process``).
_watchers: dict[uuid.UUID, list[Stopped]] = {}
_watchers_lock = threading.Lock()
_held: set[uuid.UUID] = set()  # processes a worker here has in hand (queued or running), under ``_watchers_lock``


def hold(process_id: uuid.UUID) -> None:
    """A worker here took the process in hand: until it stops (or ``let_go``), its waiters need not look."""
    with _watchers_lock:
        _held.add(process_id)


def let_go(process_id: uuid.UUID) -> None:
    """The worker gave the process up without running it (another worker had it): waiters look again."""
    with _watchers_lock:
        _held.discard(process_id)


@contextmanager
def watch_process(process_id: uuid.UUID) -> Iterator[Stopped]:
    """An event that is set when a worker in this Python process next stops working on ``process_id``.

    Watch first, then look at the process: a stop in between still sets the event (no lost wake-up),
    and only this process's waiters wake, not every waiter for every process. ``held``: a worker here
    has it in hand, so the event will be set when it stops, and there is no need to look.
    """
    event = Stopped()
    with _watchers_lock:
        _watchers.setdefault(process_id, []).append(event)
        event.held = process_id in _held
    try:
        yield event
    finally:
        with _watchers_lock:
            events = _watchers.get(process_id)
            if events is not None and event in events:
                events.remove(event)
                if not events:
                    del _watchers[process_id]


def _notify_stopped(process_id: uuid.UUID, ended: ProcessStatus | None) -> None:
    with _watchers_lock:  # no longer held and its waiters woken at once: a later watch looks for itself
        _held.discard(process_id)
        events = _watchers.pop(process_id, ())
    for event in events:
        event.status = ended
        event.set()


def execute_process(
    process_id: uuid.UUID,
    worker_id: str,
    lease: timedelta,
    claim: Claim | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Outcome | None:
    """Claim (unless already claimed) and run a process until it stops; None if it could not be claimed.

    It runs for the current runtime: its store, its retry policy, its database for ``db.session``.
    """
    runtime = current()
    store = runtime.store
    log = logger.bind(process_id=str(process_id), worker=worker_id)
    if claim is None:
        claim = store.claim(process_id, worker_id, lease)
        if claim is None:
            return None
    journal: _ObservedJournal | None = None
    try:
        wf = _workflow_of(claim)
        reason = _unrunnable_reason(wf, claim)
        if reason is not None:
            log.warning("A process cannot continue; failing it", reason=reason)
            store.fail_unrunnable(claim, reason)
            return None
        assert wf is not None
        if claim.fingerprint != wf.fingerprint:
            log.info("The workflow changed while the process was in flight; it continues in the new one")
            store.mark_workflow_changed(claim, wf.fingerprint)
        if claim.abort_requested:
            store.abort(process_id, claim.user or "SYSTEM", by_owner=True)
            return None
        journal = _ObservedJournal(store.journal(claim, should_stop), wf, claim.cursor)
        structlog.contextvars.bind_contextvars(process_id=str(process_id), workflow=wf.name)
        try:
            with database_scope(runtime.database):  # db.session outside the steps' own transactions (hooks, user code)
                return run(
                    wf,
                    claim.cursor,
                    claim.state,
                    journal,
                    is_task=claim.is_task,
                    retries=claim.retry_count,
                    retry_policy=runtime.retry_policy,
                    max_state_bytes=runtime.settings.MAX_PROCESS_STATE_BYTES,
                )
        finally:
            structlog.contextvars.unbind_contextvars("process_id", "workflow", "step")
    except Exception as e:
        _stop_after_error(store, claim, e, log)
        return None
    finally:
        try:
            if journal is not None:
                journal.journal.close()
        finally:
            _notify_stopped(process_id, journal.ended if journal is not None else None)


def _stop_after_error(store: ProcessStore, claim: Claim, error: Exception, log: Any) -> None:
    """A run ended with an error outside its steps: hand the process back, or fail it, never loop on it.

    An infrastructure error (the database went away) says nothing about the process: it is handed
    back, and continues once the database is back. Any other error would happen again on every
    takeover; the process fails with it, for an operator to look at and retry.
    """
    if is_transient(error):
        log.warning(
            "The database failed while running a process; it continues once the database answers", error=str(error)
        )
        try:
            store.release(claim)
        except Exception as again:
            if not is_transient(again):
                raise
            # the claim's lease lapses instead, and a heartbeat takes the process over
        return
    log.exception("The engine could not run a process; failing it so it is not taken over again and again")
    reason = f"The engine could not run this process: {type(error).__name__}: {error}"
    store.fail_unrunnable(claim, reason, "".join(traceback.format_exception(error)))


class _ObservedJournal:
    """A journal plus what operators see of a run: the step in every log line, step durations."""

    def __init__(self, journal: StoreJournal, wf: Workflow, cursor: Path | None) -> None:
        self.journal = journal
        self.context = journal.context
        self.wf = wf
        self.cursor = cursor  # the step about to run; each checkpoint says which is next
        self._tx: Any = None
        self._status: ProcessStatus | None = None  # what the step's transaction sets the process's status to
        self.ended: ProcessStatus | None = None  # the terminal status a committed step gave the process

    @contextmanager
    def step(self) -> Iterator[_ObservedJournal]:
        if self.cursor is not None:
            structlog.contextvars.bind_contextvars(step=self.wf.step_at(self.cursor).name)
        with self.journal.step() as tx:
            self._tx = tx
            yield self

    def should_stop(self) -> bool:
        return self.journal.should_stop()

    def infrastructure_error(self, error: BaseException) -> bool:
        return self.journal.infrastructure_error(error)

    def recover(self, attempt: int) -> bool:
        return self.journal.recover(attempt)

    def discard(self) -> None:
        self._tx.discard()

    def checkpoint(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> Signals:
        signals = self._tx.checkpoint(record, followers)
        if signals.kept:
            for written in (record, *followers) if signals.followed else (record,):
                metrics.observe_step(self.wf.name, written)
                self.cursor = written.cursor
                self._status = written.process_status
        return signals

    def abort(self, record: StepRecord) -> None:
        self._tx.abort(record)
        self._status = ProcessStatus.ABORTED

    def hand_back(self) -> None:
        self._tx.hand_back()

    def commit(self) -> None:
        self._tx.commit()
        if self._status in TERMINAL_STATUSES:
            self.ended = self._status
        started = self.journal.started()
        if started:  # children the step started, a parent its end woke: theirs to run now
            _hand_on(started)


def _hand_on(process_ids: list[uuid.UUID]) -> None:
    """Submit what a committed step made runnable. The step stands whatever happens here: a process
    whose submission fails (the executor shuts down, the broker is away) is found by the takeover scan."""
    executor = current().executor
    for process_id in process_ids:
        try:
            executor.submit(process_id, resume=True)
        except Exception as e:
            logger.warning(
                "A process made runnable is left to the takeover scan", process_id=str(process_id), error=str(e)
            )


def _workflow_of(claim: Claim) -> Workflow | None:
    """The workflow the process runs: its workflow's, or, for a parallel branch, that branch's steps."""
    wf = get_workflow(claim.workflow_name)
    return wf.branch_of(claim.branch) if wf is not None else None


def _unrunnable_reason(wf: Workflow | None, claim: Claim) -> str | None:
    """Why a process cannot continue in its (perhaps changed) workflow; None when its next step still exists."""
    if wf is None and claim.branch is not None:
        return (
            f"Workflow {claim.workflow_name!r} no longer has the parallel branch {claim.branch} this process runs; "
            "abort it or restore the branch"
        )
    if wf is None:
        return f"Workflow {claim.workflow_name!r} is no longer registered; abort this process or restore it"
    if not claim.cursor:
        return (
            "This process is in flight but has no next step recorded, so it cannot continue. "
            "Abort it, or start the workflow again."
        )
    if claim.fingerprint == wf.fingerprint:
        return None
    try:
        wf.step_at(claim.cursor)
    except KeyError:
        return (
            f"Workflow {wf.name!r} changed while this process was in flight: its next step "
            f"{' / '.join(claim.cursor or ())!r} no longer exists. Abort the process, or restore the step."
        )
    if any("#" in key for key in claim.cursor):
        # "name#2" means "the second step of that name": after a change it may be another step.
        return (
            f"Workflow {wf.name!r} changed while this process was in flight, and its next step "
            f"{' / '.join(claim.cursor or ())!r} is one of several steps of that name, so which one is meant "
            "cannot be told. Abort the process, or restore the previous step list."
        )
    return None
