"""Steering a process from outside its run: abort, resume, callbacks and their progress, notes, deletion, timeouts.

Each is one short transaction with the process row locked (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transactions are exclusive already), and each checks under the lock
that the process is still as the caller saw it, so a concurrent change makes it refuse rather
than overwrite.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from orchestrion.db.chain import step_row_hash
from orchestrion.db.database import Database, RawJSON
from orchestrion.db.models import InputStateTable, ProcessStepTable, ProcessTable
from orchestrion.engine.clock import utcnow
from orchestrion.engine.runner import StepRecord, error_state
from orchestrion.engine.serialization import dumps
from orchestrion.engine.status import IN_FLIGHT_STATUSES, TERMINAL_STATUSES, ProcessStatus, StepStatus
from orchestrion.engine.workflow import Path
from orchestrion.errors import (
    InvalidCallbackTokenError,
    NotAwaitingCallbackError,
    OrchestrionError,
    ProcessConflictError,
    ProcessNotFoundError,
)
from orchestrion.storage.checkpoints import write_aborted, write_step_row
from orchestrion.storage.children import abort_descendants, descendant_ids
from orchestrion.storage.claims import Claim, chain_tip
from orchestrion.types import State


class CallbackTimeoutError(OrchestrionError):
    """Recorded as the error of a callback step nobody answered in time."""


@dataclass(frozen=True, slots=True)
class ProcessSnapshot:
    """A process as steering sees it (a copy: no ORM row leaves the store)."""

    process_id: uuid.UUID
    workflow_name: str
    status: ProcessStatus
    cursor: Path | None
    state: State
    seq: int
    is_task: bool
    callback_token: str | None
    failed_reason: str | None = None
    traceback: str | None = None
    parent_process_id: uuid.UUID | None = None  # a child process: its parent (woken when it ends)


def _snapshot(p: ProcessTable) -> ProcessSnapshot:
    return ProcessSnapshot(
        process_id=p.process_id,
        workflow_name=p.workflow.name,
        status=ProcessStatus(p.last_status),
        cursor=tuple(p.cursor) if p.cursor else None,
        state=p.state,
        seq=p.seq,
        is_task=p.is_task,
        callback_token=p.callback_token,
        failed_reason=p.failed_reason,
        traceback=p.traceback,
        parent_process_id=p.parent_process_id,
    )


def _locked(session: Session, process_id: uuid.UUID) -> ProcessTable:
    found = session.execute(
        select(ProcessTable).where(ProcessTable.process_id == process_id).with_for_update(of=ProcessTable)
    ).scalar_one_or_none()
    if found is None:
        raise ProcessNotFoundError(f"Process {process_id} not found")
    return found


def get(db: Database, process_id: uuid.UUID) -> ProcessSnapshot:
    with db.read() as session:
        p = session.execute(select(ProcessTable).where(ProcessTable.process_id == process_id)).scalar_one_or_none()
        if p is None:
            raise ProcessNotFoundError(f"Process {process_id} not found")
        return _snapshot(p)


def abort(db: Database, process_id: uuid.UUID, user: str, *, by_owner: bool = False) -> ProcessStatus:
    """Abort now, or, while a live worker runs the process, at its next step boundary (it never overwrites this).

    ``by_owner``: the worker holding the claim aborts it itself (the history row names who asked for it).
    """
    now = utcnow()
    with db.write() as session:
        p = _locked(session, process_id)
        status = ProcessStatus(p.last_status)
        if status in TERMINAL_STATUSES:
            return status
        owned = p.claimed_by is not None and p.lease_until is not None and p.lease_until > now
        abort_descendants(session, process_id, user)  # children stop with their parent
        if status in IN_FLIGHT_STATUSES and owned and not by_owner:
            p.abort_requested = True
            if p.abort_requested_by is None:  # the first to ask is the one the history row names
                p.abort_requested_by = user
            return status
        if by_owner and p.abort_requested_by is not None:  # carrying out an abort someone asked for
            user = p.abort_requested_by
        claim = Claim.of(p, p.process_id, "", "", timedelta(0))
        claim.tip = chain_tip(session.connection(), p.process_id, p.seq)
        write_aborted(session.connection(), claim, RawJSON(dumps(p.state).decode()), user, now)
        session.expire(p)
        return ProcessStatus.ABORTED


def resume_action(status: ProcessStatus, callback_token: str | None = None, *, automatic: bool = False) -> str:
    """What resuming a process in ``status`` is, for its history: resume, retry, callback or automatic retry.

    ``automatic``: the retry policy's own retry of a waiting process (``task_resume_workflows``).
    """
    if callback_token is not None:
        return "callback"
    if status == ProcessStatus.SUSPENDED or status == ProcessStatus.AWAITING_CALLBACK:
        return "resume"  # with a person's input (or pushed on without the callback)
    if status == ProcessStatus.WAITING and automatic:
        return "automatic retry"
    return "retry"


def resume(
    db: Database,
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
    """Mark a process ``resumed``: record the step the resume completes (if any) and the input given.

    ``user`` and the action (``resume_action``) become the run's actor: the history rows from here on
    name them, also those a worker claiming the process later writes.

    Refused (``ProcessConflictError``) when the process changed since ``seen`` was taken; with
    ``callback_token``, a callback delivery, refused unless the process still awaits that callback.
    ``fingerprint``: the workflow whose step list placed the new cursor (it is recorded with it).
    """
    now = utcnow()
    with db.write() as session:
        p = _locked(session, seen.process_id)
        if callback_token is not None:
            awaiting = p.last_status == ProcessStatus.AWAITING_CALLBACK and p.callback_token is not None
            if not awaiting or not secrets.compare_digest(p.callback_token or "", callback_token):
                raise NotAwaitingCallbackError(f"Process {seen.process_id} is not awaiting a callback")
        elif p.last_status != seen.status.value or p.seq != seen.seq:
            raise ProcessConflictError(f"Process {seen.process_id} changed while resuming it; try again")
        claim = Claim.of(p, p.process_id, p.workflow.name, p.claimed_by or "", lease)
        claim.tip = chain_tip(session.connection(), p.process_id, p.seq)
        claim.user, claim.action = (
            user,
            resume_action(ProcessStatus(p.last_status), callback_token, automatic=automatic),
        )
        values: dict[str, Any] = {
            "run_by": claim.user,
            "run_action": claim.action,
            "last_status": ProcessStatus.RESUMED.value,
            "last_modified_at": now,
            "claimed_by": worker_id,
            "lease_until": now + lease if worker_id else None,
            "failed_reason": None,
            "traceback": None,
        }
        if p.last_status != ProcessStatus.WAITING and p.retry_count:  # a person's retry: a fresh set of attempts
            claim.retry_count = 0
            values.update(retry_count=0, next_retry_at=None)
        if record is not None:
            write_step_row(session.connection(), claim, record)
            values.update(
                cursor=list(record.cursor) if record.cursor else None,
                state=RawJSON(record.row_json.decode()),
                seq=claim.seq,
                last_row_key=claim.last_row_key,
                last_step=record.step_name,
                assignee="SYSTEM",
                callback_token=None,
                callback_deadline=None,
                callback_progress=None,
            )
            claim.cursor = record.cursor
            claim.state = record.row_state
            if fingerprint is not None:
                values["workflow_fingerprint"] = claim.fingerprint = fingerprint
        else:  # a retry: the failed row stays in the history; a retried group sub-step starts a new group row
            claim.last_row_key = None
            values["last_row_key"] = None
        session.execute(
            insert(InputStateTable).values(
                input_state_id=uuid.uuid4(),
                process_id=p.process_id,
                input_state=user_input,
                input_time=now,
                input_type="user_input",
            )
        )
        session.execute(update(ProcessTable).where(ProcessTable.process_id == p.process_id).values(**values))
    claim.worker_id = worker_id or ""
    return claim


def report_progress(db: Database, process_id: uuid.UUID, token: str, progress: Any) -> None:
    """Keep what the external system reports while the process awaits its callback (shown, not acted on)."""
    with db.write() as session:
        p = _locked(session, process_id)
        if p.last_status != ProcessStatus.AWAITING_CALLBACK:
            raise NotAwaitingCallbackError(f"Process {process_id} is not awaiting a callback")
        if not p.callback_token or not secrets.compare_digest(p.callback_token, token):
            raise InvalidCallbackTokenError("Invalid token")
        p.callback_progress = progress
        p.last_modified_at = utcnow()


def set_note(db: Database, process_id: uuid.UUID, note: str | None) -> None:
    """Keep a person's note on the process (None clears it); only the note changes, so no run is disturbed."""
    with db.write() as session:
        changed = session.execute(update(ProcessTable).where(ProcessTable.process_id == process_id).values(note=note))
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            raise ProcessNotFoundError(f"Process {process_id} not found")


def delete_process(db: Database, process_id: uuid.UUID, within: Callable[[Session], None] | None = None) -> None:
    """Delete a process, its children (and theirs) and their history; refused (under the row lock) while a
    worker may be running any of them. ``within(session)`` runs last in the deletion's transaction."""
    with db.write() as session:
        p = _locked(session, process_id)
        if ProcessStatus(p.last_status) in IN_FLIGHT_STATUSES and p.claimed_by is not None:
            raise ProcessConflictError(f"Process {process_id} is running; abort it first")
        family = [process_id, *descendant_ids(session, process_id)]
        running = session.execute(
            select(ProcessTable.process_id).where(
                ProcessTable.process_id.in_(family[1:]),
                ProcessTable.last_status.in_([s.value for s in IN_FLIGHT_STATUSES]),
                ProcessTable.claimed_by.is_not(None),
            )
        ).first()
        if running is not None:
            raise ProcessConflictError(f"Process {process_id} has a child process running; abort it first")
        session.execute(delete(ProcessStepTable).where(ProcessStepTable.process_id.in_(family)))
        session.execute(delete(InputStateTable).where(InputStateTable.process_id.in_(family)))
        session.execute(delete(ProcessTable).where(ProcessTable.process_id.in_(family)))
        if within is not None:
            within(session)


CALLBACK_TIMEOUT = "callback timeout"  # the history's action of a callback group failed by its deadline


def fail_timed_out_callback(
    session: Session, process_id: uuid.UUID, now: datetime, restart: Callable[[str, Path], Path], actor: str
) -> bool:
    """Fail a process whose callback did not come in time; False when it no longer awaits one.

    The process row is locked and its status checked again under the lock, so a callback that
    arrives at the same moment either wins (the process moved on: nothing happens here) or finds
    the process failed and is refused. ``restart(workflow_name, cursor)`` says where a retry
    begins: the first step of the callback group, so it calls the action again with a fresh token.
    The group's row names ``actor`` (the policy that failed it) and the action ``callback timeout``.
    """
    p = session.execute(
        select(ProcessTable).where(ProcessTable.process_id == process_id).with_for_update(of=ProcessTable)
    ).scalar_one_or_none()
    if p is None or p.last_status != ProcessStatus.AWAITING_CALLBACK:
        return False
    deadline = p.callback_deadline
    if deadline is None or deadline > now:
        return False
    reason = f"Callback timed out: no answer by {deadline.isoformat()}; retry to run the callback step again"
    cursor = tuple(p.cursor or ())
    if cursor and p.last_row_key == cursor[0]:  # the group's history row shows the failure, as any failed step's would
        _fail_group_row(session, process_id, p.seq, reason, now, actor)
    session.execute(
        update(ProcessTable)
        .where(ProcessTable.process_id == process_id)
        .values(
            last_status=ProcessStatus.FAILED,
            failed_reason=reason,
            traceback=None,
            assignee="SYSTEM",
            cursor=list(restart(p.workflow.name, cursor)) if cursor else [],
            callback_token=None,
            callback_deadline=None,
            last_modified_at=now,
        )
    )
    session.expire(p)
    return True


def _fail_group_row(session: Session, process_id: uuid.UUID, seq: int, reason: str, now: datetime, actor: str) -> None:
    """Mark a callback group's row failed by ``actor``, its hash recomputed (linked to the same row before it)."""
    row = session.execute(
        select(ProcessStepTable).where(ProcessStepTable.process_id == process_id, ProcessStepTable.seq == seq)
    ).scalar_one()
    row.status, row.completed_at = StepStatus.FAILED.value, now
    row.created_by, row.action = actor, CALLBACK_TIMEOUT
    row.state = error_state(CallbackTimeoutError(reason))[0]
    row.row_hash = step_row_hash(row, row.prev_hash)
    session.flush()
