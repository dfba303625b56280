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
from typing import Any, cast

import structlog
from sqlalchemy import Connection, Table, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrion import retry
from orchestrion.db.database import Database, RawJSON
from orchestrion.db.models import (
    EngineSettingsTable,
    InputStateTable,
    ProcessStepTable,
    ProcessTable,
    WorkflowTable,
)
from orchestrion.db.sessions import StepSession, bind_session
from orchestrion.db.statements import FastStatement, RawConnection, RawTransaction
from orchestrion.engine.runner import CheckpointRejectedError, StepRecord, utcnow
from orchestrion.engine.serialization import dumps
from orchestrion.engine.status import IN_FLIGHT_STATUSES, TERMINAL_STATUSES, ProcessStatus, StepStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.errors import ProcessConflictError, ProcessNotFoundError
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.types import State

logger = structlog.get_logger(__name__)

P = cast(Table, ProcessTable.__table__)
S = cast(Table, ProcessStepTable.__table__)
I = cast(Table, InputStateTable.__table__)  # noqa: E741
_IN_FLIGHT = [s.value for s in IN_FLIGHT_STATUSES]
_GLOBAL_LOCK = select(EngineSettingsTable.global_lock).where(EngineSettingsTable.id == 1).scalar_subquery()


def _bind(table: Any, column: str, prefix: str) -> Any:
    """A named parameter for ``column``, typed like it (so values are converted as the ORM would)."""
    return bindparam(f"{prefix}{column}", type_=table.c[column].type)


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


# --- creating and claiming ----------------------------------------------------------------------


_PROCESS_CREATE_COLUMNS = (
    "process_id",
    "workflow_fingerprint",
    "assignee",
    "last_status",
    "started_at",
    "last_modified_at",
    "created_by",
    "cursor",
    "state",
    "seq",
    "abort_requested",
    "retry_count",
    "claimed_by",
    "lease_until",
)
_INPUT_COLUMNS = ("input_state_id", "input_state", "input_time", "input_type")


def _insert_process_statement() -> Any:
    """``INSERT INTO processes ... SELECT <values>, workflow_id, is_task FROM workflows WHERE name = :wf_name``.

    Whether the process is a task is its workflow row's say (the catalogue may mark a VALIDATE
    workflow as a task). Inserts nothing when the workflow has no row yet (the caller creates it
    and tries again).
    """
    wf = WorkflowTable.__table__
    values = select(*[_bind(P, c, "p_") for c in _PROCESS_CREATE_COLUMNS], wf.c.workflow_id, wf.c.is_task).where(
        wf.c.name == bindparam("wf_name", type_=wf.c.name.type)
    )
    return insert(P).from_select([*_PROCESS_CREATE_COLUMNS, "workflow_id", "is_task"], values)


def _insert_input_statement() -> Any:
    return insert(I).values({c: _bind(I, c, "i_") for c in (*_INPUT_COLUMNS, "process_id")})


def _create_process_combined_statement() -> Any:
    """PostgreSQL: the process row (in a CTE) and its initial input in one statement, hence one transaction."""
    new_process = _insert_process_statement().returning(P.c.process_id, P.c.is_task).cte("new_process")
    values = select(*[_bind(I, c, "i_") for c in _INPUT_COLUMNS], new_process.c.process_id)
    is_task = select(new_process.c.is_task).scalar_subquery().label("is_task")
    return insert(I).from_select([*_INPUT_COLUMNS, "process_id"], values).returning(is_task)


_INSERT_PROCESS_FAST = FastStatement(_insert_process_statement().returning(P.c.is_task))
_INSERT_INPUT_FAST = FastStatement(_insert_input_statement())
_CREATE_PROCESS_FAST = FastStatement(_create_process_combined_statement())


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
    """Insert a ``created`` process and its initial input; claimed for ``worker_id`` when given.

    One transaction. On PostgreSQL it is a single statement (committed on its own: no BEGIN round
    trip); the ``workflows`` row is looked up inside it, and created first when it is missing.
    """
    process_id = uuid.UUID(str(state["process_id"]))
    now = utcnow()
    cursor = wf.first_path()
    params: dict[str, Any] = {
        "wf_name": wf.name,
        "p_process_id": process_id,
        "p_workflow_fingerprint": wf.fingerprint,
        "p_assignee": "SYSTEM",
        "p_last_status": ProcessStatus.CREATED.value,
        "p_started_at": now,
        "p_last_modified_at": now,
        "p_created_by": user,
        "p_cursor": list(cursor),
        "p_state": RawJSON(dumps(state).decode()),
        "p_seq": 0,
        "p_abort_requested": False,
        "p_retry_count": 0,
        "p_claimed_by": worker_id,
        "p_lease_until": now + lease if worker_id else None,
        "i_input_state_id": uuid.uuid4(),
        "i_process_id": process_id,
        "i_input_state": initial_input,
        "i_input_time": now,
        "i_input_type": "initial_state",
    }
    inserted: tuple[Any, ...] | None = None  # (is_task,) of the inserted process
    if db.is_sqlite:
        tx = RawTransaction(db)
        try:
            if inserted := _INSERT_PROCESS_FAST.fetchone(tx, params):
                _INSERT_INPUT_FAST.run(tx, params)
                tx.commit()
        finally:
            tx.close()  # rolls back what was not committed
    else:
        with db.single_statements() as single:
            inserted = _CREATE_PROCESS_FAST.fetchone(single, params)
    if inserted is None:  # the workflow's first process: create its row, then insert
        for attempt in (1, 2):
            try:
                with db.write() as session:
                    connection = session.connection()
                    if (inserted := _INSERT_PROCESS_FAST.fetchone(connection, params)) is None:
                        ensure_workflow_row(session, wf.name, wf.target, description=wf.description)
                        inserted = _INSERT_PROCESS_FAST.fetchone(connection, params)
                    _INSERT_INPUT_FAST.run(connection, params)
                break
            except IntegrityError:
                if attempt == 2:  # not a concurrent first start creating the same workflow row
                    raise
    return Claim(
        process_id=process_id,
        worker_id=worker_id or "",
        workflow_name=wf.name,
        fingerprint=wf.fingerprint,
        cursor=cursor,
        state=state,
        seq=0,
        last_row_key=None,
        is_task=bool(inserted[0]) if inserted else wf.is_task,
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
            session.execute(
                update(ProcessTable)
                .where(ProcessTable.process_id == process_id)
                .values(claimed_by=None, lease_until=None)
            )
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


def recoverable(db: Database, grace: timedelta | None = None) -> list[uuid.UUID]:
    """Processes in flight that no live worker owns: unclaimed, lapsed leases, or dead workers on this host.

    ``grace`` (a running worker's heartbeat): leave alone unclaimed ``created``/``resumed`` processes
    changed more recently than this, whose broker message may still be on its way to a worker. At
    startup (no grace) nothing can be on its way for this process's executor: all are recovered.
    """
    now = utcnow()
    with db.write() as session:
        rows = session.execute(
            select(
                ProcessTable.process_id,
                ProcessTable.claimed_by,
                ProcessTable.lease_until,
                ProcessTable.last_status,
                ProcessTable.last_modified_at,
            ).where(ProcessTable.last_status.in_(_IN_FLIGHT))
        ).all()
        dead = sorted({r.claimed_by for r in rows if r.claimed_by and _is_dead_local_worker(r.claimed_by)})
        if dead:
            session.execute(update(ProcessTable).where(ProcessTable.claimed_by.in_(dead)).values(lease_until=now))
    in_transit = (ProcessStatus.CREATED.value, ProcessStatus.RESUMED.value)
    return [
        r.process_id
        for r in rows
        if (r.claimed_by is None or r.claimed_by in dead or (r.lease_until is not None and r.lease_until <= now))
        and not (
            grace is not None
            and r.claimed_by is None
            and r.last_status in in_transit
            and r.last_modified_at > now - grace
        )
    ]


# --- checkpoints -------------------------------------------------------------------------------
#
# The checkpoint is the engine's hot path: one per step. Its statements are compiled once per
# dialect (``FastStatement``) and run on the step's connection, in the step's transaction. On
# PostgreSQL the history row and the process row are written by one statement (the history row in
# a data-modifying CTE), so a checkpoint is one round trip plus the commit; SQLite runs the two
# statements one after the other (it has no data-modifying CTEs; its round trips cost nothing).

_STEP_COLUMNS = (
    "step_id",
    "process_id",
    "seq",
    "name",
    "step_key",
    "status",
    "state",
    "created_by",
    "started_at",
    "completed_at",
)
_GROUP_COLUMNS = ("status", "state", "completed_at")


def _insert_step_statement() -> Any:
    return insert(S).values({c: _bind(S, c, "s_") for c in _STEP_COLUMNS})


def _update_group_row_statement() -> Any:
    return (
        update(S)
        .where(S.c.process_id == _bind(S, "process_id", "s_"), S.c.seq == bindparam("s_row_seq", type_=S.c.seq.type))
        .values({c: _bind(S, c, "s_") for c in _GROUP_COLUMNS})
    )


_INSERT_STEP_FAST = FastStatement(_insert_step_statement())
_UPDATE_GROUP_ROW_FAST = FastStatement(_update_group_row_statement())
_CHECKPOINT_RETURNING = (P.c.abort_requested, _GLOBAL_LOCK)
_checkpoint_statements: dict[tuple[bool, str | None, tuple[str, ...]], FastStatement] = {}


def _checkpoint_statement(combined: bool, row: str | None, keys: tuple[str, ...]) -> FastStatement:
    """``UPDATE processes ... RETURNING abort_requested, <engine paused>`` for these columns, only if still claimed.

    ``combined`` (PostgreSQL): the history row's INSERT (``row="insert"``) or group-row UPDATE
    (``row="group"``) rides along as a data-modifying CTE of the same statement.
    """
    key = (combined, row if combined else None, keys)
    found = _checkpoint_statements.get(key)
    if found is not None:
        return found
    statement = (
        update(P)
        .where(P.c.process_id == bindparam("w_pid", type_=P.c.process_id.type))
        .where(P.c.claimed_by == bindparam("w_worker", type_=P.c.claimed_by.type))
        .values({c: _bind(P, c, "p_") for c in keys})
        .returning(*_CHECKPOINT_RETURNING)
    )
    if combined:
        row_statement = _insert_step_statement() if row == "insert" else _update_group_row_statement()
        statement = statement.add_cte(row_statement.cte("step_row"))
    found = _checkpoint_statements[key] = FastStatement(statement)
    return found


def _step_row_params(claim: Claim, record: StepRecord, user: str | None, state: RawJSON) -> tuple[str, dict[str, Any]]:
    """Whether the step inserts its history row or updates the group's (``"insert"``/``"group"``), and the values.

    Updates the claim's row bookkeeping (``seq``, ``last_row_key``) as the row is written.
    """
    if len(record.path) > 1 and claim.last_row_key == record.path[0]:
        return "group", {
            "s_process_id": claim.process_id,
            "s_row_seq": claim.seq,
            "s_status": record.status.value,
            "s_state": state,
            "s_completed_at": record.completed_at,
        }
    claim.seq += 1
    claim.last_row_key = record.path[0]
    return "insert", {
        "s_step_id": uuid.uuid4(),
        "s_process_id": claim.process_id,
        "s_seq": claim.seq,
        "s_name": record.row_name,
        "s_step_key": record.path[0],
        "s_status": record.status.value,
        "s_state": state,
        "s_created_by": user,
        "s_started_at": record.started_at,
        "s_completed_at": record.completed_at,
    }


def _step_row(session: Session, claim: Claim, record: StepRecord, user: str | None) -> None:
    """Insert the history row, or update it when the step is the next part of the group the last row records."""
    row, params = _step_row_params(claim, record, user, RawJSON(record.row_json.decode()))
    (_INSERT_STEP_FAST if row == "insert" else _UPDATE_GROUP_ROW_FAST).run(session.connection(), params)


def _process_values(claim: Claim, record: StepRecord, row_state: RawJSON | None = None) -> dict[str, Any]:
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
        if row_state is not None and record.process_state_json is record.row_json:
            values["state"] = row_state  # the same JSON: decoded once
        else:
            values["state"] = RawJSON(record.process_state_json.decode())
    if "callback_token" in record.meta:
        values["callback_token"] = record.meta["callback_token"]
    if "callback_timeout" in record.meta:
        timeout = record.meta["callback_timeout"]
        values["callback_deadline"] = record.completed_at + timeout if timeout else None
    if record.status == StepStatus.WAITING:
        claim.retry_count += 1
        values["retry_count"] = claim.retry_count
        values["next_retry_at"] = record.completed_at + retry.policy().delay(claim.retry_count)
    elif claim.retry_count:  # no automatic retry is due any more; a failure keeps the count to show
        values["next_retry_at"] = None
        if record.status != StepStatus.FAILED:
            claim.retry_count = 0
            values["retry_count"] = 0
    return values


def _abort_row(
    connection: Connection | RawConnection, claim: Claim, state_json: RawJSON, user: str | None, now: datetime
) -> None:
    claim.seq += 1
    claim.last_row_key = "User Aborted"
    _INSERT_STEP_FAST.run(
        connection,
        {
            "s_step_id": uuid.uuid4(),
            "s_process_id": claim.process_id,
            "s_seq": claim.seq,
            "s_name": "User Aborted",
            "s_step_key": "User Aborted",
            "s_status": StepStatus.ABORT.value,
            "s_state": state_json,
            "s_created_by": user,
            "s_started_at": now,
            "s_completed_at": now,
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


_update_process_statements: dict[tuple[str, ...], FastStatement] = {}


def _update_process(connection: Connection | RawConnection, process_id: uuid.UUID, values: dict[str, Any]) -> None:
    """``UPDATE processes SET <values> WHERE process_id = ...`` (the caller holds the row or the claim)."""
    keys = tuple(values)
    statement = _update_process_statements.get(keys)
    if statement is None:
        statement = _update_process_statements[keys] = FastStatement(
            update(P)
            .where(P.c.process_id == bindparam("w_pid", type_=P.c.process_id.type))
            .values({c: _bind(P, c, "p_") for c in keys})
        )
    params = {"p_" + column: value for column, value in values.items()}
    params["w_pid"] = process_id
    statement.run(connection, params)


def _rejects_data(error: BaseException) -> bool:
    """A data or integrity error (from SQLAlchemy or straight from the driver): retrying cannot help."""
    return any(cls.__name__ in ("DataError", "IntegrityError") for cls in type(error).__mro__)


class DbJournal:
    """The runner's journal on the database: one transaction per step, effects and checkpoint together.

    The step's session is opened only if the step (or a result hook) uses the database; the
    checkpoint then commits in it, with the step's effects. A step that did not touch the database
    is checkpointed on a bare pooled connection: same statements, same single transaction, without
    the ORM session's bookkeeping.
    """

    def __init__(
        self, db: Database, claim: Claim, user: str | None = None, should_stop: Callable[[], bool] | None = None
    ) -> None:
        self.db = db
        self.claim = claim
        self.user = user or claim.user
        self.should_stop = should_stop  # a worker shutting down hands the process back at the next boundary
        self._step: StepSession | None = None

    @contextmanager
    def step(self) -> Iterator[DbJournal]:
        current = StepSession(self.db)
        self._step = current
        try:
            with bind_session(current):
                yield self
        except BaseException:
            if current.session is not None:
                current.session.rollback()
            raise
        finally:
            if current.session is not None:
                current.session.close()
            self._step = None

    def discard(self) -> None:
        assert self._step is not None
        if self._step.session is not None:
            self._step.session.rollback()

    def checkpoint(self, record: StepRecord) -> bool:
        assert self._step is not None
        claim = self.claim
        before = claim.seq, claim.last_row_key, claim.retry_count
        session = self._step.session
        try:
            if session is not None:  # the step's own work is in this session's transaction: commit it all together
                return self._checkpoint(record, session.connection(), session.commit, session.rollback)
            tx = RawTransaction(self.db)
            try:
                return self._checkpoint(record, tx, tx.commit, tx.rollback)
            finally:
                tx.close()  # rolls back what was not committed (an error in the step's checkpoint)
        except Exception as e:
            if not _rejects_data(e):
                raise
            if session is not None:
                session.rollback()
            claim.seq, claim.last_row_key, claim.retry_count = before
            raise CheckpointRejectedError(f"The database refused the step's result: {e}") from e

    def _checkpoint(
        self,
        record: StepRecord,
        connection: Connection | RawConnection,
        commit: Callable[[], None],
        rollback: Callable[[], None],
    ) -> bool:
        claim = self.claim
        if record.status == StepStatus.WAITING:  # the last allowed attempt fails the process instead
            record = retry.policy().give_up(record, claim.retry_count)
        seq_before, key_before, retries_before = claim.seq, claim.last_row_key, claim.retry_count
        state = RawJSON(record.row_json.decode())
        row, params = _step_row_params(claim, record, self.user, state)
        values = _process_values(claim, record, state)
        params["w_pid"] = claim.process_id
        params["w_worker"] = claim.worker_id
        for column, value in values.items():
            params["p_" + column] = value
        if self.db.is_sqlite:
            (_INSERT_STEP_FAST if row == "insert" else _UPDATE_GROUP_ROW_FAST).run(connection, params)
            returned = _checkpoint_statement(False, None, tuple(values)).fetchone(connection, params)
        else:
            returned = _checkpoint_statement(True, row, tuple(values)).fetchone(connection, params)
        if returned is None:  # the claim was lost: none of this step may count
            rollback()
            claim.seq, claim.last_row_key, claim.retry_count = seq_before, key_before, retries_before
            logger.warning("Lost the claim on a process; its step was rolled back", process_id=str(claim.process_id))
            return False
        abort_requested, paused = returned
        running = record.process_status == ProcessStatus.RUNNING
        if abort_requested and record.process_status not in TERMINAL_STATUSES:
            state_json = RawJSON((record.process_state_json or dumps(claim.state)).decode())
            _abort_row(connection, claim, state_json, self.user, record.completed_at)
            _update_process(connection, claim.process_id, _aborted_values(claim, record.completed_at))
            commit()
            return False
        if running and (paused or (self.should_stop is not None and self.should_stop())):
            # stop at this boundary; unpausing (or any other worker) picks the process up again
            _update_process(connection, claim.process_id, {"claimed_by": None, "lease_until": None})
            commit()
            return False
        commit()
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
        _abort_row(session.connection(), claim, RawJSON(dumps(p.state).decode()), user, now)
        _update_process(session.connection(), process_id, _aborted_values(claim, now))
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
    fingerprint: str | None = None,
) -> Claim:
    """Mark a locked process ``resumed``: record the step the resume completes (if any) and the input given.

    ``fingerprint``: the workflow whose step list placed the new cursor (it is recorded with it).
    """
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
    if p.last_status != ProcessStatus.WAITING and p.retry_count:  # a person's retry: a fresh set of attempts
        claim.retry_count = 0
        values.update(retry_count=0, next_retry_at=None)
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
    """Delete a process and its history; refused (under the row lock) while a worker may be running it."""
    with db.write() as session:
        p = _locked(session, process_id)
        if ProcessStatus(p.last_status) in IN_FLIGHT_STATUSES and p.claimed_by is not None:
            raise ProcessConflictError(f"Process {process_id} is running; abort it first")
        session.execute(delete(ProcessStepTable).where(ProcessStepTable.process_id == process_id))
        session.execute(delete(InputStateTable).where(InputStateTable.process_id == process_id))
        session.execute(delete(ProcessTable).where(ProcessTable.process_id == process_id))


# --- engine switch -----------------------------------------------------------------------------


_LAST_STATUS_FAST = FastStatement(
    select(P.c.last_status).where(P.c.process_id == bindparam("w_pid", type_=P.c.process_id.type))
)


def last_status(db: Database, process_id: uuid.UUID) -> ProcessStatus:
    """The process's status as committed now (one light query: for waiting on a process)."""
    with db.single_statements() as connection:
        row = _LAST_STATUS_FAST.fetchone(connection, {"w_pid": process_id})
    if row is None:
        raise ProcessNotFoundError(f"Process {process_id} not found")
    return ProcessStatus(row[0])


_IS_PAUSED_FAST = FastStatement(select(EngineSettingsTable.global_lock))


def is_paused(db: Database) -> bool:
    with db.single_statements() as connection:
        row = _IS_PAUSED_FAST.fetchone(connection, {})
    return bool(row[0]) if row is not None else False


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
