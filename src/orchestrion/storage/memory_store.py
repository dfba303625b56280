"""The process store in memory: ``ProcessStore``'s promises without a database.

For unit tests, and for workflow tests whose steps never touch ``db.session``. It keeps what the
SQL store keeps (``orchestrion.storage.sql_store``), with the same rules: the process row and its
history and input rows, claims with leases, abort requests, the engine pause, retry bookkeeping,
callback tokens, deadlines and progress, whether a workflow's processes are tasks. States are kept
as the JSON bytes the database would hold, so every read returns what a read from the database
returns: a fresh copy, in its JSON shape.

One lock guards everything. A step's checkpoint is staged on a copy of the process (its row and its
history) and swapped in at commit; from checkpoint to commit the journal holds the lock, as the SQL
checkpoint holds the process row, so nothing steers the process between what a checkpoint found
(an abort requested, the engine paused, the claim lost) and what the runner decides from it.

What it does not do: the sweeps a task's step calls (``fail_timed_out_callback``,
``delete_completed_tasks``) change the store at once, not in the step's transaction (a step in
memory has none to join: its checkpoint lost, they still happened). And it never rejects a write
(``CheckpointRejectedError``): there are no constraints to break.
"""

from __future__ import annotations

import random
import secrets
import threading
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestrion.engine.clock import utcnow
from orchestrion.engine.context import StepContext, rest_callback_route
from orchestrion.engine.runner import Signals, StepRecord, error_state
from orchestrion.engine.serialization import dumps, loads
from orchestrion.engine.status import IN_FLIGHT_STATUSES, TERMINAL_STATUSES, ProcessStatus, StepStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.errors import (
    EnginePausedError,
    InvalidCallbackTokenError,
    NotAwaitingCallbackError,
    ProcessConflictError,
    ProcessNotFoundError,
)
from orchestrion.storage.claims import Claim
from orchestrion.storage.steering import CALLBACK_TIMEOUT, CallbackTimeoutError, ProcessSnapshot, resume_action
from orchestrion.storage.switch import Switched
from orchestrion.storage.tables import is_dead_local_worker
from orchestrion.types import State

if TYPE_CHECKING:
    from orchestrion.storage.protocol import ProcessStore

__all__ = ["MemoryProcessStore", "MemoryStoreJournal", "StoredInput", "StoredProcess", "StoredStep"]


# --- the records: the SQL rows' columns, as plain values --------------------------------------


@dataclass(frozen=True, slots=True)
class StoredStep:
    """A history row (``process_steps``): one per step, one per step group."""

    seq: int
    name: str
    step_key: str
    status: StepStatus
    state_json: bytes
    created_by: str | None
    started_at: datetime
    completed_at: datetime
    action: str | None = None

    @property
    def state(self) -> State:
        return loads(self.state_json)


@dataclass(frozen=True, slots=True)
class StoredInput:
    """An input row (``input_states``): the initial form's answer, and what every resume was given."""

    input_type: str  # "initial_state" or "user_input"
    input_json: bytes
    input_time: datetime

    @property
    def input_state(self) -> State:
        return loads(self.input_json)


@dataclass(slots=True)
class StoredProcess:
    """A process (``processes``), with its history and input rows; attribute names are the column names."""

    process_id: uuid.UUID
    workflow_name: str
    workflow_fingerprint: str
    is_task: bool
    created_by: str | None
    started_at: datetime
    last_modified_at: datetime
    state_json: bytes
    cursor: Path | None
    last_status: ProcessStatus = ProcessStatus.CREATED
    assignee: str = "SYSTEM"
    last_step: str | None = None
    failed_reason: str | None = None
    traceback: str | None = None
    seq: int = 0
    last_row_key: str | None = None
    abort_requested: bool = False
    abort_requested_by: str | None = None
    run_by: str | None = None
    run_action: str | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    callback_token: str | None = None
    callback_deadline: datetime | None = None
    callback_progress_json: bytes | None = None
    retry_count: int = 0
    next_retry_at: datetime | None = None
    note: str | None = None
    # what ``Claim.of`` reads of a child process; the memory store runs no children, so always None
    parent_process_id: uuid.UUID | None = None
    child_group: str | None = None
    branch: str | None = None
    steps: list[StoredStep] = field(default_factory=list)
    inputs: list[StoredInput] = field(default_factory=list)

    @property
    def state(self) -> State:
        return loads(self.state_json)

    @property
    def callback_progress(self) -> Any:
        return None if self.callback_progress_json is None else loads(self.callback_progress_json)

    def copy(self) -> StoredProcess:
        """A copy whose history can change without changing this one's (rows themselves are immutable)."""
        return replace(self, steps=list(self.steps), inputs=list(self.inputs))

    @property
    def in_flight(self) -> bool:
        return self.last_status in IN_FLIGHT_STATUSES


def _snapshot(p: StoredProcess) -> ProcessSnapshot:
    return ProcessSnapshot(
        process_id=p.process_id,
        workflow_name=p.workflow_name,
        status=p.last_status,
        cursor=p.cursor or None,
        state=p.state,
        seq=p.seq,
        is_task=p.is_task,
        callback_token=p.callback_token,
        failed_reason=p.failed_reason,
        traceback=p.traceback,
    )


# --- what a step's record writes (the rules of ``storage.checkpoints``) -----------------------


def _write_step_row(p: StoredProcess, claim: Claim, record: StepRecord) -> None:
    """Append the history row, or update the group's when the step is the next part of the group it records.

    Updates the claim's row bookkeeping (``seq``, ``last_row_key``) as ``_step_row_params`` does.
    """
    if len(record.path) > 1 and claim.last_row_key == record.path[0]:
        p.steps = [
            replace(
                row,
                status=record.status,
                state_json=record.row_json,
                created_by=claim.user,
                action=claim.action,
                completed_at=record.completed_at,
            )
            if row.seq == claim.seq
            else row
            for row in p.steps
        ]
        return
    claim.seq += 1
    claim.last_row_key = record.path[0]
    p.steps.append(
        StoredStep(
            seq=claim.seq,
            name=record.row_name,
            step_key=record.path[0],
            status=record.status,
            state_json=record.row_json,
            created_by=claim.user,
            started_at=record.started_at,
            completed_at=record.completed_at,
            action=claim.action,
        )
    )


def _apply_record(p: StoredProcess, claim: Claim, record: StepRecord) -> None:
    """The process's new values after a step, with the retry bookkeeping (as ``_process_values``)."""
    running = record.process_status == ProcessStatus.RUNNING
    p.last_status = record.process_status
    p.last_step = record.step_name
    p.assignee = record.assignee
    p.failed_reason = record.failed_reason
    p.traceback = record.traceback
    p.cursor = record.cursor
    p.seq = claim.seq
    p.last_row_key = claim.last_row_key
    p.last_modified_at = record.completed_at
    p.claimed_by = claim.worker_id if running else None
    p.lease_until = record.completed_at + claim.lease if running else None
    if record.process_state_json is not None:  # None: a failed step, the process keeps its state
        p.state_json = record.process_state_json
    if "callback_token" in record.meta:
        p.callback_token = record.meta["callback_token"]
    if "callback_timeout" in record.meta:
        timeout = record.meta["callback_timeout"]
        p.callback_deadline = record.completed_at + timeout if timeout else None
    if record.status == StepStatus.WAITING:  # the runner decided when the next try is due
        claim.retry_count += 1
        p.retry_count = claim.retry_count
        p.next_retry_at = record.retry_at
    elif claim.retry_count:  # no automatic retry is due any more; a failure keeps the count to show
        p.next_retry_at = None
        if record.status != StepStatus.FAILED:
            claim.retry_count = 0
            p.retry_count = 0


def _write_aborted(p: StoredProcess, claim: Claim, state_json: bytes, user: str | None, now: datetime) -> None:
    """End the process aborted: the "User Aborted" history row and the aborted values (as ``write_aborted``)."""
    claim.seq += 1
    claim.last_row_key = "User Aborted"
    p.steps.append(
        StoredStep(claim.seq, "User Aborted", "User Aborted", StepStatus.ABORT, state_json, user, now, now, "abort")
    )
    p.last_status = ProcessStatus.ABORTED
    p.last_step = "User Aborted"
    p.assignee = "SYSTEM"
    p.cursor = None
    p.seq = claim.seq
    p.last_row_key = claim.last_row_key
    p.last_modified_at = now
    p.claimed_by = None
    p.lease_until = None
    p.callback_token = None
    p.abort_requested = False
    p.abort_requested_by = None
    p.run_by, p.run_action = None, None


# --- the journal: one staged change per step, swapped in at commit -----------------------------


class MemoryStoreJournal:
    """The runner's journal on a ``MemoryProcessStore``: what a checkpoint writes counts only at commit.

    The checkpoint stages the step on a copy of the process; ``abort`` and ``hand_back`` change the
    copy; ``commit`` puts it in place. A step that ends without commit (it raised, its claim was
    lost) leaves the store as it was.
    """

    def __init__(
        self,
        store: MemoryProcessStore,
        claim: Claim,
        *,
        should_stop: Callable[[], bool] | None = None,
        context: StepContext | None = None,
    ) -> None:
        self.store = store
        self.claim = claim
        self._should_stop = should_stop  # a worker shutting down hands the process back at the next boundary
        self.context = context or StepContext(claim.process_id, claim.workflow_name)
        self._staged: StoredProcess | None = None  # the process as this step leaves it, until commit
        self._before: tuple[int, str | None, int] | None = None  # the claim's bookkeeping before the checkpoint
        self._holding = False  # the store's lock, from checkpoint to commit
        self._abort_requested_by: str | None = None  # who asked for the abort the last checkpoint found

    def should_stop(self) -> bool:
        return self._should_stop is not None and self._should_stop()

    def infrastructure_error(self, error: BaseException) -> bool:
        return False  # memory does not fail

    def recover(self, attempt: int) -> bool:
        return False

    @contextmanager
    def step(self) -> Iterator[MemoryStoreJournal]:
        try:
            yield self
        except BaseException:
            self._rollback()
            raise
        finally:
            self._staged = None  # not committed: it never happened
            self._release()

    def discard(self) -> None:
        """Nothing to roll back: a step in memory has no effects in the store of its own."""

    def checkpoint(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> Signals:
        """The record alone: the followers run next (in memory a checkpoint costs no round trip)."""
        claim = self.claim
        self._before = claim.seq, claim.last_row_key, claim.retry_count
        if not self._holding:
            self.store._lock.acquire()
            self._holding = True
        live = self.store._processes.get(claim.process_id)
        if live is None or live.claimed_by != claim.worker_id:  # the claim was lost: none of this step may count
            self._rollback()
            return Signals(kept=False)
        staged = live.copy()
        _write_step_row(staged, claim, record)
        _apply_record(staged, claim, record)
        self._staged = staged
        self._abort_requested_by = live.abort_requested_by
        return Signals(kept=True, abort_requested=live.abort_requested, paused=self.store._paused)

    def started(self) -> list[uuid.UUID]:
        return []  # no child processes without a database

    def close(self) -> None:
        pass  # it keeps nothing between steps

    def abort(self, record: StepRecord) -> None:
        assert self._staged is not None
        state_json = record.process_state_json or dumps(self.claim.state)
        user = self._abort_requested_by or self.claim.user  # the requester, not who caused this run
        _write_aborted(self._staged, self.claim, state_json, user, record.completed_at)

    def hand_back(self) -> None:
        # stop at this boundary; unpausing (or any other worker) picks the process up again
        assert self._staged is not None
        self._staged.claimed_by = None
        self._staged.lease_until = None

    def commit(self) -> None:
        if self._staged is not None:
            self.store._processes[self._staged.process_id] = self._staged
        self._staged, self._before = None, None
        self._release()

    def _rollback(self) -> None:
        if self._before is not None:
            self.claim.seq, self.claim.last_row_key, self.claim.retry_count = self._before
            self._before = None
        self._staged = None
        self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self.store._lock.release()


# --- the store --------------------------------------------------------------------------------


class MemoryProcessStore:
    """``ProcessStore`` in memory; thread-safe (one lock), nothing survives the object."""

    def __init__(self, callback_route: Callable[[uuid.UUID, str], str] = rest_callback_route) -> None:
        self.callback_route = callback_route
        self._lock = threading.RLock()  # re-entrant: a journal holds it from checkpoint to commit
        self._processes: dict[uuid.UUID, StoredProcess] = {}
        self._workflows: dict[str, bool] = {}  # the workflow "rows": name -> is_task
        self._paused = False

    def _process(self, process_id: uuid.UUID) -> StoredProcess:
        found = self._processes.get(process_id)
        if found is None:
            raise ProcessNotFoundError(f"Process {process_id} not found")
        return found

    # --- the workflow rows ----------------------------------------------------------------------

    def set_is_task(self, workflow_name: str, is_task: bool) -> None:
        """Say whether the workflow's processes are tasks (what the catalogue does to the ``workflows`` row).

        Applies to processes created from now on; without it a workflow's first process decides
        (``wf.is_task``), and that stays, as a workflow row stays once created.
        """
        with self._lock:
            self._workflows[workflow_name] = is_task

    # --- creating and running -------------------------------------------------------------------

    def create_process(
        self,
        wf: Workflow,
        state: State,
        initial_input: State,
        user: str,
        *,
        worker_id: str | None,
        lease: timedelta,
        within: Callable[[Any, datetime], None] | None = None,
        opening: tuple[StepRecord, ...] = (),
    ) -> Claim:
        _no_database(within)  # ``opening``: left to the run (in memory a checkpoint costs nothing)
        process_id = uuid.UUID(str(state["process_id"]))
        now = utcnow()
        cursor = wf.first_path()
        with self._lock:
            if self._paused:
                raise EnginePausedError
            if process_id in self._processes:
                raise ProcessConflictError(f"Process {process_id} exists already")
            is_task = self._workflows.setdefault(wf.name, wf.is_task)
            self._processes[process_id] = StoredProcess(
                process_id=process_id,
                workflow_name=wf.name,
                workflow_fingerprint=wf.fingerprint,
                is_task=is_task,
                created_by=user,
                started_at=now,
                last_modified_at=now,
                state_json=dumps(state),
                cursor=cursor,
                claimed_by=worker_id,
                lease_until=now + lease if worker_id else None,
                inputs=[StoredInput("initial_state", dumps(initial_input), now)],
            )
        return Claim.new(process_id, wf, cursor, state, is_task=is_task, user=user, worker_id=worker_id, lease=lease)

    def claim(self, process_id: uuid.UUID, worker_id: str, lease: timedelta) -> Claim | None:
        now = utcnow()
        with self._lock:
            p = self._processes.get(process_id)
            if p is None or not p.in_flight:
                return None
            if p.claimed_by is not None and not (p.lease_until is not None and p.lease_until <= now):
                return None  # a live worker owns it
            if self._paused:  # a paused engine gives no claims (and takes a lapsed one back)
                p.claimed_by, p.lease_until = None, None
                return None
            if p.claimed_by is not None:  # its worker's lease lapsed (it crashed or hangs): the run is taken over
                p.run_by, p.run_action = "SYSTEM", "takeover"
            p.claimed_by, p.lease_until = worker_id, now + lease
            return Claim.of(p, p.process_id, p.workflow_name, worker_id, lease)

    def journal(self, claim: Claim, should_stop: Callable[[], bool] | None = None) -> MemoryStoreJournal:
        context = StepContext(claim.process_id, claim.workflow_name, self.callback_route)
        return MemoryStoreJournal(self, claim, should_stop=should_stop, context=context)

    def release(self, claim: Claim) -> None:
        with self._lock:
            p = self._processes.get(claim.process_id)
            if p is not None and p.claimed_by == claim.worker_id:
                p.claimed_by, p.lease_until = None, None

    def renew_leases(self, worker_id: str, process_ids: list[uuid.UUID], lease: timedelta) -> None:
        until = utcnow() + lease
        with self._lock:
            for process_id in process_ids:
                p = self._processes.get(process_id)
                if p is not None and p.claimed_by == worker_id:
                    p.lease_until = until

    def recoverable(self, grace: timedelta | None = None, *, abandoned_only: bool = False) -> list[uuid.UUID]:
        """In flight, owned by no live worker, ranked as ``claims.recoverable`` ranks them."""
        now = utcnow()
        with self._lock:
            in_flight = [p for p in self._processes.values() if p.in_flight]
            dead = {p.claimed_by for p in in_flight if p.claimed_by and is_dead_local_worker(p.claimed_by)}
            for p in self._processes.values():
                if p.claimed_by in dead:
                    p.lease_until = now

            def rank(p: StoredProcess) -> int | None:  # None: a live worker owns it, or its message may be on its way
                if p.claimed_by is not None and not (p.lease_until is not None and p.lease_until <= now):
                    return None
                if p.last_status == ProcessStatus.RUNNING:
                    return 0
                if p.claimed_by is not None:
                    return 1
                if abandoned_only or (grace is not None and p.last_modified_at > now - grace):
                    return None
                return 2

            ranked = [(r, p.process_id) for p in in_flight if (r := rank(p)) is not None]
        random.shuffle(ranked)
        ranked.sort(key=lambda ranked_id: ranked_id[0])  # stable: random within a rank
        return [process_id for _, process_id in ranked]

    def mark_workflow_changed(self, claim: Claim, fingerprint: str) -> None:
        with self._lock:
            p = self._claimed(claim)
            if p is not None:
                p.last_modified_at, p.workflow_fingerprint = utcnow(), fingerprint

    def fail_unrunnable(self, claim: Claim, reason: str, traceback: str | None = None) -> None:
        with self._lock:
            p = self._claimed(claim)
            if p is not None:
                p.last_modified_at, p.last_status = utcnow(), ProcessStatus.FAILED
                p.failed_reason, p.traceback = reason, traceback
                p.claimed_by, p.lease_until = None, None

    def _claimed(self, claim: Claim) -> StoredProcess | None:
        p = self._processes.get(claim.process_id)
        return p if p is not None and p.claimed_by == claim.worker_id else None

    # --- reading --------------------------------------------------------------------------------

    def get(self, process_id: uuid.UUID) -> ProcessSnapshot:
        with self._lock:
            return _snapshot(self._process(process_id))

    def last_status(self, process_id: uuid.UUID) -> ProcessStatus:
        with self._lock:
            return self._process(process_id).last_status

    def process(self, process_id: uuid.UUID) -> StoredProcess:
        """A copy of everything kept for the process (for tests: claims, leases, retries, deadlines)."""
        with self._lock:
            return self._process(process_id).copy()

    def history(self, process_id: uuid.UUID) -> list[tuple[str, str, State]]:
        """The history rows in order: (name, status, state); empty for an unknown (or deleted) process."""
        with self._lock:
            p = self._processes.get(process_id)
            rows = list(p.steps) if p is not None else []
        return [(row.name, row.status.value, row.state) for row in rows]

    def inputs(self, process_id: uuid.UUID) -> list[tuple[str, State]]:
        """The input rows in order: (input type, input); empty for an unknown (or deleted) process."""
        with self._lock:
            p = self._processes.get(process_id)
            rows = list(p.inputs) if p is not None else []
        return [(row.input_type, row.input_state) for row in rows]

    # --- steering -------------------------------------------------------------------------------

    def abort(self, process_id: uuid.UUID, user: str, *, by_owner: bool = False) -> ProcessStatus:
        """Abort now, or, while a live worker runs the process, at its next step boundary."""
        now = utcnow()
        with self._lock:
            p = self._process(process_id)
            if p.last_status in TERMINAL_STATUSES:
                return p.last_status
            owned = p.claimed_by is not None and p.lease_until is not None and p.lease_until > now
            if p.in_flight and owned and not by_owner:
                p.abort_requested = True
                if p.abort_requested_by is None:  # the first to ask is the one the history row names
                    p.abort_requested_by = user
                return p.last_status
            if by_owner and p.abort_requested_by is not None:  # carrying out an abort someone asked for
                user = p.abort_requested_by
            _write_aborted(p, Claim.of(p, p.process_id, p.workflow_name, "", timedelta(0)), p.state_json, user, now)
            return ProcessStatus.ABORTED

    def resume(
        self,
        seen: ProcessSnapshot,
        record: StepRecord | None,
        user_input: State,
        user: str,
        *,
        worker_id: str | None,
        lease: timedelta,
        fingerprint: str | None = None,
        callback_token: str | None = None,
        automatic: bool = False,
    ) -> Claim:
        """Mark the process resumed; refused when it changed since ``seen``, or no longer awaits the callback."""
        now = utcnow()
        with self._lock:
            p = self._process(seen.process_id)
            if callback_token is not None:
                awaiting = p.last_status == ProcessStatus.AWAITING_CALLBACK and p.callback_token is not None
                if not awaiting or not secrets.compare_digest(p.callback_token or "", callback_token):
                    raise NotAwaitingCallbackError(f"Process {seen.process_id} is not awaiting a callback")
            elif p.last_status != seen.status or p.seq != seen.seq:
                raise ProcessConflictError(f"Process {seen.process_id} changed while resuming it; try again")
            claim = Claim.of(p, p.process_id, p.workflow_name, p.claimed_by or "", lease)
            claim.user, claim.action = user, resume_action(p.last_status, callback_token, automatic=automatic)
            p.run_by, p.run_action = claim.user, claim.action
            if p.last_status != ProcessStatus.WAITING and p.retry_count:  # a person's retry: a fresh set of attempts
                claim.retry_count = p.retry_count = 0
                p.next_retry_at = None
            p.last_status = ProcessStatus.RESUMED
            p.last_modified_at = now
            p.claimed_by = worker_id
            p.lease_until = now + lease if worker_id else None
            p.failed_reason, p.traceback = None, None
            if record is not None:
                _write_step_row(p, claim, record)
                p.cursor = record.cursor or None
                p.state_json = record.row_json
                p.seq, p.last_row_key = claim.seq, claim.last_row_key
                p.last_step = record.step_name
                p.assignee = "SYSTEM"
                p.callback_token, p.callback_deadline, p.callback_progress_json = None, None, None
                claim.cursor = record.cursor
                claim.state = record.row_state
                if fingerprint is not None:
                    p.workflow_fingerprint = claim.fingerprint = fingerprint
            else:  # a retry: the failed row stays in the history; a retried group sub-step starts a new group row
                claim.last_row_key = p.last_row_key = None
            p.inputs.append(StoredInput("user_input", dumps(user_input), now))
        claim.worker_id = worker_id or ""
        return claim

    def report_progress(self, process_id: uuid.UUID, token: str, progress: Any) -> None:
        with self._lock:
            p = self._process(process_id)
            if p.last_status != ProcessStatus.AWAITING_CALLBACK:
                raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
            if not p.callback_token or not secrets.compare_digest(p.callback_token, token):
                raise InvalidCallbackTokenError("Invalid token")
            p.callback_progress_json = dumps(progress)
            p.last_modified_at = utcnow()

    def set_note(self, process_id: uuid.UUID, note: str | None) -> None:
        with self._lock:
            self._process(process_id).note = note

    def delete(self, process_id: uuid.UUID, *, within: Callable[[Any], None] | None = None) -> None:
        """Delete a process and its history; refused while a worker may be running it."""
        _no_database(within)
        with self._lock:
            p = self._process(process_id)
            if p.in_flight and p.claimed_by is not None:
                raise ProcessConflictError(f"Process {process_id} is running; abort it first")
            del self._processes[process_id]

    # --- the engine switch ----------------------------------------------------------------------

    def is_paused(self) -> bool:
        with self._lock:
            return self._paused

    def set_paused(self, paused: bool, *, within: Switched | None = None) -> list[uuid.UUID]:
        """Pause or continue; continuing returns the processes in flight that no worker holds."""
        _no_database(within)
        with self._lock:
            self._paused = paused
            if paused:
                return []
            return [p.process_id for p in self._processes.values() if p.in_flight and p.claimed_by is None]

    # --- sweeps (applied at once, also when a task's step calls them) ---------------------------

    def due_retries(self, now: datetime) -> list[uuid.UUID]:
        """Waiting processes whose backoff has passed, the longest-waiting first."""
        with self._lock:
            due = [
                p
                for p in self._processes.values()
                if p.last_status == ProcessStatus.WAITING and (p.next_retry_at is None or p.next_retry_at <= now)
            ]
        due.sort(key=lambda p: (p.next_retry_at is not None, p.next_retry_at or now))
        return [p.process_id for p in due]

    def expired_callbacks(self, now: datetime) -> list[uuid.UUID]:
        with self._lock:
            return [
                p.process_id
                for p in self._processes.values()
                if p.last_status == ProcessStatus.AWAITING_CALLBACK
                and p.callback_deadline is not None
                and p.callback_deadline <= now
            ]

    def fail_timed_out_callback(
        self, process_id: uuid.UUID, now: datetime, restart: Callable[[str, Path], Path], actor: str
    ) -> bool:
        """Fail a process whose callback did not come in time (as ``steering.fail_timed_out_callback``)."""
        with self._lock:
            p = self._processes.get(process_id)
            if p is None or p.last_status != ProcessStatus.AWAITING_CALLBACK:
                return False
            deadline = p.callback_deadline
            if deadline is None or deadline > now:
                return False
            reason = f"Callback timed out: no answer by {deadline.isoformat()}; retry to run the callback step again"
            cursor = p.cursor or ()
            if cursor and p.last_row_key == cursor[0]:  # the group's row shows the failure, as any failed step's would
                failed = dumps(error_state(CallbackTimeoutError(reason))[0])
                p.steps = [
                    replace(
                        row,
                        status=StepStatus.FAILED,
                        state_json=failed,
                        completed_at=now,
                        created_by=actor,
                        action=CALLBACK_TIMEOUT,
                    )
                    if row.seq == p.seq
                    else row
                    for row in p.steps
                ]
            p.last_status = ProcessStatus.FAILED
            p.failed_reason, p.traceback = reason, None
            p.assignee = "SYSTEM"
            p.cursor = restart(p.workflow_name, cursor) if cursor else ()
            p.callback_token, p.callback_deadline = None, None
            p.last_modified_at = now
            return True

    def _completed_tasks_before(self, before: datetime) -> list[StoredProcess]:
        return [
            p
            for p in self._processes.values()
            if p.is_task and p.last_status == ProcessStatus.COMPLETED and p.last_modified_at < before
        ]

    def delete_completed_tasks(self, before: datetime) -> int:
        with self._lock:
            old = self._completed_tasks_before(before)
            for p in old:
                del self._processes[p.process_id]
            return len(old)

    def has_completed_tasks_before(self, before: datetime) -> bool:
        with self._lock:
            return bool(self._completed_tasks_before(before))

    def tasks_in(self, statuses: Collection[ProcessStatus]) -> list[uuid.UUID]:
        with self._lock:
            found = [p for p in self._processes.values() if p.is_task and p.last_status in statuses]
        found.sort(key=lambda p: (p.started_at, p.process_id))
        return [p.process_id for p in found]

    def instance_in_flight(self, workflow_name: str) -> bool:
        with self._lock:
            return any(p.workflow_name == workflow_name and p.in_flight for p in self._processes.values())

    def uncompleted_instances(self, workflow_name: str) -> int:
        finished = (ProcessStatus.COMPLETED, ProcessStatus.ABORTED)
        with self._lock:
            return sum(
                p.workflow_name == workflow_name and p.last_status not in finished for p in self._processes.values()
            )

    def awaiting_callbacks_with_deadline(self) -> int:
        with self._lock:
            return sum(
                p.last_status == ProcessStatus.AWAITING_CALLBACK and p.callback_deadline is not None
                for p in self._processes.values()
            )


if TYPE_CHECKING:  # mypy holds the memory store to the protocol the SQL store implements
    _protocol_check: ProcessStore = MemoryProcessStore()


def _no_database(within: object) -> None:
    if within is not None:
        raise TypeError("the memory store has no database for work that commits with its changes")
