"""The durable process store: SQL for creating, claiming, checkpointing and steering processes.

Every change to a process goes through here, in short transactions with the process row locked
(``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write transactions are exclusive already). A
worker owns a process through a *claim* with a lease; every checkpoint renews it, and a checkpoint
whose claim was lost (another worker took over a lapsed lease) rolls back, so a process never runs
twice in parallel.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from orchestrion.db import Database, RawJSON, bind_session
from orchestrion.db.models import (
    EngineSettingsTable,
    InputStateTable,
    ProcessStepTable,
    ProcessTable,
    WorkflowTable,
)
from orchestrion.engine.runner import StepRecord, utcnow
from orchestrion.engine.serialization import dumps
from orchestrion.engine.status import IN_FLIGHT_STATUSES, TERMINAL_STATUSES, ProcessStatus, StepStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.errors import ProcessNotFoundError
from orchestrion.types import State

logger = structlog.get_logger(__name__)

P = ProcessTable.__table__
S = ProcessStepTable.__table__
_IN_FLIGHT = [s.value for s in IN_FLIGHT_STATUSES]
_GLOBAL_LOCK = select(EngineSettingsTable.global_lock).where(EngineSettingsTable.id == 1).scalar_subquery()


def new_worker_id() -> str:
    """``host:pid:random``: unique, and tells whether a claim's holder still lives on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _is_dead_local_worker(worker_id: str) -> bool:
    host, _, rest = worker_id.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(slots=True)
class Claim:
    """What a worker holds while it runs a process: enough to run it without reading it again."""

    process_id: uuid.UUID
    worker_id: str
    workflow_name: str
    fingerprint: str
    cursor: Path | None
    state: State
    seq: int
    last_row_key: str | None
    is_task: bool
    abort_requested: bool
    retry_count: int
    user: str | None
    lease: timedelta


# --- workflows --------------------------------------------------------------------------------


def workflow_id_for(session: Session, wf: Workflow) -> uuid.UUID:
    """The ``workflows`` row of a workflow from the code registry, created on first use."""
    found = session.execute(select(WorkflowTable.workflow_id).where(WorkflowTable.name == wf.name)).scalar()
    if found is not None:
        return found
    workflow_id = uuid.uuid4()
    session.execute(
        insert(WorkflowTable).values(
            workflow_id=workflow_id,
            name=wf.name,
            target=wf.target.value,
            description=wf.description or wf.name,
            is_task=wf.is_task,
            created_at=utcnow(),
        )
    )
    return workflow_id


# --- creating and claiming ----------------------------------------------------------------------


def create_process(
    db: Database,
    wf: Workflow,
    state: State,
    initial_input: State,
    user: str,
    *,
    worker_id: str | None,
    lease: timedelta,
) -> Claim:
    """Insert a ``created`` process and its initial input; claimed for ``worker_id`` when given."""
    process_id = uuid.UUID(str(state["process_id"]))
    now = utcnow()
    raw = RawJSON(dumps(state).decode())
    cursor = wf.first_path()
    with db.write() as session:
        workflow_id = workflow_id_for(session, wf)
        session.execute(
            insert(ProcessTable).values(
                process_id=process_id,
                workflow_id=workflow_id,
                workflow_fingerprint=wf.fingerprint,
                assignee="SYSTEM",
                last_status=ProcessStatus.CREATED.value,
                started_at=now,
                last_modified_at=now,
                created_by=user,
                is_task=wf.is_task,
                cursor=list(cursor),
                state=raw,
                seq=0,
                abort_requested=False,
                retry_count=0,
                claimed_by=worker_id,
                lease_until=now + lease if worker_id else None,
            )
        )
        session.execute(
            insert(InputStateTable).values(
                input_state_id=uuid.uuid4(),
                process_id=process_id,
                input_state=initial_input,
                input_time=now,
                input_type="initial_state",
            )
        )
    return Claim(
        process_id=process_id,
        worker_id=worker_id or "",
        workflow_name=wf.name,
        fingerprint=wf.fingerprint,
        cursor=cursor,
        state=state,
        seq=0,
        last_row_key=None,
        is_task=wf.is_task,
        abort_requested=False,
        retry_count=0,
        user=user,
        lease=lease,
    )


_CLAIM = (
    update(ProcessTable)
    .where(
        ProcessTable.process_id == bindparam("pid"),
        ProcessTable.last_status.in_(_IN_FLIGHT),
        or_(
            ProcessTable.claimed_by.is_(None),
            ProcessTable.lease_until < bindparam("now"),
        ),
    )
    .values(claimed_by=bindparam("worker"), lease_until=bindparam("lease_until"))
    .returning(
        ProcessTable.workflow_id,
        ProcessTable.workflow_fingerprint,
        ProcessTable.cursor,
        ProcessTable.state,
        ProcessTable.seq,
        ProcessTable.last_row_key,
        ProcessTable.is_task,
        ProcessTable.abort_requested,
        ProcessTable.retry_count,
        ProcessTable.created_by,
        _GLOBAL_LOCK,
    )
)


def claim(db: Database, process_id: uuid.UUID, worker_id: str, lease: timedelta) -> Claim | None:
    """Take a process that is in flight and not owned by a live worker; None if that is not possible now.

    A paused engine gives no claims: the process stays where it is until the engine continues.
    """
    now = utcnow()
    with db.write() as session:
        row = session.execute(
            _CLAIM, {"pid": process_id, "worker": worker_id, "now": now, "lease_until": now + lease}
        ).first()
        if row is None:
            return None
        if row[-1]:  # engine paused: give the claim back
            session.execute(update(ProcessTable).where(ProcessTable.process_id == process_id).values(claimed_by=None))
            return None
        workflow_name = session.execute(
            select(WorkflowTable.name).where(WorkflowTable.workflow_id == row.workflow_id)
        ).scalar_one()
    return Claim(
        process_id=process_id,
        worker_id=worker_id,
        workflow_name=workflow_name,
        fingerprint=row.workflow_fingerprint,
        cursor=tuple(row.cursor) if row.cursor else None,
        state=row.state,
        seq=row.seq,
        last_row_key=row.last_row_key,
        is_task=row.is_task,
        abort_requested=row.abort_requested,
        retry_count=row.retry_count,
        user=row.created_by,
        lease=lease,
    )


def release(db: Database, claim: Claim) -> None:
    """Give a claim back without changing the process (shutdown, or an unexpected error)."""
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id)
            .values(claimed_by=None, lease_until=None)
        )


def renew_leases(db: Database, worker_id: str, process_ids: list[uuid.UUID], lease: timedelta) -> None:
    """Heartbeat: extend the leases of the processes this worker is running."""
    if not process_ids:
        return
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id.in_(process_ids), ProcessTable.claimed_by == worker_id)
            .values(lease_until=utcnow() + lease)
        )


def recoverable(db: Database) -> list[uuid.UUID]:
    """Processes in flight that no live worker owns: unclaimed, lapsed leases, or dead workers on this host."""
    now = utcnow()
    with db.write() as session:
        rows = session.execute(
            select(ProcessTable.process_id, ProcessTable.claimed_by, ProcessTable.lease_until).where(
                ProcessTable.last_status.in_(_IN_FLIGHT)
            )
        ).all()
        dead = sorted({r.claimed_by for r in rows if r.claimed_by and _is_dead_local_worker(r.claimed_by)})
        if dead:
            session.execute(update(ProcessTable).where(ProcessTable.claimed_by.in_(dead)).values(lease_until=now))
    return [
        r.process_id
        for r in rows
        if r.claimed_by is None or r.claimed_by in dead or (r.lease_until is not None and r.lease_until <= now)
    ]


# --- checkpoints -------------------------------------------------------------------------------

_INSERT_STEP = insert(ProcessStepTable)
_UPDATE_GROUP_ROW = (
    update(ProcessStepTable)
    .where(ProcessStepTable.process_id == bindparam("pid"), ProcessStepTable.seq == bindparam("row_seq"))
    .values(
        status=bindparam("status"),
        state=bindparam("state"),
        completed_at=bindparam("completed_at"),
    )
)
_CHECKPOINT_RETURNING = (ProcessTable.abort_requested, _GLOBAL_LOCK)


def _step_row(session: Session, claim: Claim, record: StepRecord, user: str | None) -> None:
    """Insert the history row, or update it when the step is the next part of the group the last row records."""
    state = RawJSON(record.row_json.decode())
    if len(record.path) > 1 and claim.last_row_key == record.path[0]:
        session.execute(
            _UPDATE_GROUP_ROW,
            {
                "pid": claim.process_id,
                "row_seq": claim.seq,
                "status": record.status.value,
                "state": state,
                "completed_at": record.completed_at,
            },
        )
        return
    claim.seq += 1
    claim.last_row_key = record.path[0]
    session.execute(
        _INSERT_STEP,
        {
            "step_id": uuid.uuid4(),
            "process_id": claim.process_id,
            "seq": claim.seq,
            "name": record.row_name,
            "step_key": record.path[0],
            "status": record.status.value,
            "state": state,
            "created_by": user,
            "started_at": record.started_at,
            "completed_at": record.completed_at,
        },
    )


def _process_values(claim: Claim, record: StepRecord) -> dict[str, Any]:
    running = record.process_status == ProcessStatus.RUNNING
    values: dict[str, Any] = {
        "last_status": record.process_status.value,
        "last_step": record.step_name,
        "assignee": record.assignee,
        "failed_reason": record.failed_reason,
        "traceback": record.traceback,
        "cursor": list(record.cursor) if record.cursor is not None else None,
        "seq": claim.seq,
        "last_row_key": claim.last_row_key,
        "last_modified_at": record.completed_at,
        "claimed_by": claim.worker_id if running else None,
        "lease_until": record.completed_at + claim.lease if running else None,
    }
    if record.process_state_json is not None:
        values["state"] = RawJSON(record.process_state_json.decode())
    if "callback_token" in record.meta:
        values["callback_token"] = record.meta["callback_token"]
    if "callback_timeout" in record.meta:
        timeout = record.meta["callback_timeout"]
        values["callback_deadline"] = record.completed_at + timeout if timeout else None
    if record.status == StepStatus.WAITING:
        claim.retry_count += 1
        values["retry_count"] = claim.retry_count
        values["next_retry_at"] = record.completed_at + retry_delay(claim.retry_count)
    elif claim.retry_count and record.status != StepStatus.FAILED:
        claim.retry_count = 0
        values["retry_count"] = 0
        values["next_retry_at"] = None
    return values


def retry_delay(attempt: int) -> timedelta:
    """Exponential backoff for ``retrystep`` failures: 10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** (attempt - 1), 3600))


def _abort_row(session: Session, claim: Claim, state_json: RawJSON, user: str | None, now: datetime) -> None:
    claim.seq += 1
    claim.last_row_key = "User Aborted"
    session.execute(
        _INSERT_STEP,
        {
            "step_id": uuid.uuid4(),
            "process_id": claim.process_id,
            "seq": claim.seq,
            "name": "User Aborted",
            "step_key": "User Aborted",
            "status": StepStatus.ABORT.value,
            "state": state_json,
            "created_by": user,
            "started_at": now,
            "completed_at": now,
        },
    )


def _aborted_values(claim: Claim, now: datetime) -> dict[str, Any]:
    return {
        "last_status": ProcessStatus.ABORTED.value,
        "last_step": "User Aborted",
        "assignee": "SYSTEM",
        "cursor": None,
        "seq": claim.seq,
        "last_row_key": claim.last_row_key,
        "last_modified_at": now,
        "claimed_by": None,
        "lease_until": None,
        "callback_token": None,
        "abort_requested": False,
    }


class DbJournal:
    """The runner's journal on the database: one transaction per step, effects and checkpoint together."""

    def __init__(
        self, db: Database, claim: Claim, user: str | None = None, should_stop: Callable[[], bool] | None = None
    ) -> None:
        self.db = db
        self.claim = claim
        self.user = user or claim.user
        self.should_stop = should_stop  # a worker shutting down hands the process back at the next boundary
        self._session: Session | None = None

    @contextmanager
    def step(self) -> Iterator[DbJournal]:
        session = self.db.write_session()
        self._session = session
        try:
            with bind_session(session):
                yield self
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            self._session = None

    def discard(self) -> None:
        assert self._session is not None
        self._session.rollback()

    def checkpoint(self, record: StepRecord) -> bool:
        session = self._session
        assert session is not None
        claim = self.claim
        seq_before, key_before, retries_before = claim.seq, claim.last_row_key, claim.retry_count
        _step_row(session, claim, record, self.user)
        row = session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id)
            .values(**_process_values(claim, record))
            .returning(*_CHECKPOINT_RETURNING)
        ).first()
        if row is None:  # the claim was lost: none of this step may count
            session.rollback()
            claim.seq, claim.last_row_key, claim.retry_count = seq_before, key_before, retries_before
            logger.warning("Lost the claim on a process; its step was rolled back", process_id=str(claim.process_id))
            return False
        abort_requested, paused = row
        running = record.process_status == ProcessStatus.RUNNING
        if abort_requested and record.process_status not in TERMINAL_STATUSES:
            state_json = RawJSON((record.process_state_json or dumps(claim.state)).decode())
            _abort_row(session, claim, state_json, self.user, record.completed_at)
            session.execute(
                update(ProcessTable)
                .where(ProcessTable.process_id == claim.process_id)
                .values(**_aborted_values(claim, record.completed_at))
            )
            session.commit()
            return False
        if running and (paused or (self.should_stop is not None and self.should_stop())):
            # stop at this boundary; unpausing (or any other worker) picks the process up again
            session.execute(
                update(ProcessTable)
                .where(ProcessTable.process_id == claim.process_id)
                .values(claimed_by=None, lease_until=None)
            )
            session.commit()
            return False
        session.commit()
        return running


# --- steering: abort, resume, callbacks, delete -------------------------------------------------


def _locked(session: Session, process_id: uuid.UUID) -> ProcessTable:
    found = session.execute(
        select(ProcessTable).where(ProcessTable.process_id == process_id).with_for_update(of=ProcessTable)
    ).scalar_one_or_none()
    if found is None:
        raise ProcessNotFoundError(f"Process {process_id} not found")
    return found


def _claim_of(p: ProcessTable, workflow_name: str, lease: timedelta) -> Claim:
    return Claim(
        process_id=p.process_id,
        worker_id=p.claimed_by or "",
        workflow_name=workflow_name,
        fingerprint=p.workflow_fingerprint,
        cursor=tuple(p.cursor) if p.cursor else None,
        state=p.state,
        seq=p.seq,
        last_row_key=p.last_row_key,
        is_task=p.is_task,
        abort_requested=p.abort_requested,
        retry_count=p.retry_count,
        user=p.created_by,
        lease=lease,
    )


@contextmanager
def locked_process(db: Database, process_id: uuid.UUID) -> Iterator[tuple[Session, ProcessTable]]:
    """A write transaction holding the process row lock."""
    with db.write() as session:
        yield session, _locked(session, process_id)


def abort(db: Database, process_id: uuid.UUID, user: str, *, by_owner: bool = False) -> ProcessStatus:
    """Abort now, or, while a live worker runs the process, at its next step boundary (it never overwrites this).

    ``by_owner``: the worker holding the claim aborts it itself.
    """
    now = utcnow()
    with locked_process(db, process_id) as (session, p):
        status = ProcessStatus(p.last_status)
        if status in TERMINAL_STATUSES:
            return status
        owned = p.claimed_by is not None and p.lease_until is not None and p.lease_until > now
        if status in IN_FLIGHT_STATUSES and owned and not by_owner:
            p.abort_requested = True
            return status
        claim = _claim_of(p, "", timedelta(0))
        _abort_row(session, claim, RawJSON(dumps(p.state).decode()), user, now)
        session.execute(
            update(ProcessTable).where(ProcessTable.process_id == process_id).values(**_aborted_values(claim, now))
        )
        session.expire(p)
        return ProcessStatus.ABORTED


def write_resumed(
    session: Session,
    p: ProcessTable,
    record: StepRecord | None,
    user_input: State,
    user: str,
    *,
    worker_id: str | None,
    lease: timedelta,
) -> Claim:
    """Mark a locked process ``resumed``: record the step the resume completes (if any) and the input given."""
    now = utcnow()
    claim = _claim_of(p, p.workflow.name, lease)
    values: dict[str, Any] = {
        "last_status": ProcessStatus.RESUMED.value,
        "last_modified_at": now,
        "claimed_by": worker_id,
        "lease_until": now + lease if worker_id else None,
        "failed_reason": None,
        "traceback": None,
    }
    if record is not None:
        _step_row(session, claim, record, user)
        values.update(
            cursor=list(record.cursor) if record.cursor else None,
            state=RawJSON(record.row_json.decode()),
            seq=claim.seq,
            last_row_key=claim.last_row_key,
            last_step=record.step_name,
            assignee="SYSTEM",
            callback_token=None,
            callback_deadline=None,
        )
        claim.cursor = record.cursor
        claim.state = record.row_state
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


def mark_workflow_changed(db: Database, claim: Claim, fingerprint: str | None, reason: str | None) -> None:
    """Record a new workflow fingerprint, or fail the process (with ``reason``) when it cannot continue."""
    now = utcnow()
    values: dict[str, Any] = {"last_modified_at": now}
    if fingerprint is not None:
        values["workflow_fingerprint"] = fingerprint
    if reason is not None:
        values.update(
            last_status=ProcessStatus.FAILED.value,
            failed_reason=reason,
            traceback=None,
            claimed_by=None,
            lease_until=None,
        )
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id)
            .values(**values)
        )


def delete_process(db: Database, process_id: uuid.UUID) -> None:
    with db.write() as session:
        _locked(session, process_id)
        session.execute(delete(ProcessStepTable).where(ProcessStepTable.process_id == process_id))
        session.execute(delete(InputStateTable).where(InputStateTable.process_id == process_id))
        session.execute(delete(ProcessTable).where(ProcessTable.process_id == process_id))


# --- engine switch -----------------------------------------------------------------------------


def is_paused(db: Database) -> bool:
    with db.read() as session:
        return bool(session.execute(select(EngineSettingsTable.global_lock)).scalar())


def set_paused(db: Database, paused: bool) -> list[uuid.UUID]:
    """Pause or continue the engine; continuing returns the processes that were stopped by the pause."""
    with db.write() as session:
        session.execute(
            update(EngineSettingsTable)
            .where(EngineSettingsTable.id == 1)
            .values(global_lock=paused, changed_at=utcnow())
        )
        if paused:
            return []
        return list(
            session.execute(
                select(ProcessTable.process_id).where(
                    and_(ProcessTable.last_status.in_(_IN_FLIGHT), ProcessTable.claimed_by.is_(None))
                )
            ).scalars()
        )
