"""Who runs a process: creating it (claimed for a local worker), claiming it, leases and recovery.

A worker owns a process through a *claim* with a lease; every checkpoint renews it, and a
checkpoint whose claim was lost (another worker took over a lapsed lease) rolls back, so a process
never runs twice in parallel. A process in flight that no live worker owns is found again
(``recoverable``) and taken over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orchestrion.db.database import Database, RawJSON
from orchestrion.db.models import ProcessTable, WorkflowTable
from orchestrion.db.statements import FastStatement, RawConnection, RawTransaction
from orchestrion.engine.clock import utcnow
from orchestrion.engine.serialization import dumps
from orchestrion.engine.status import ProcessStatus
from orchestrion.engine.workflow import Path, Workflow
from orchestrion.errors import EnginePausedError
from orchestrion.storage.tables import (
    ENGINE_RUNS,
    IN_FLIGHT,
    INSERT_STEP,
    PAUSED,
    I,
    P,
    S,
    bind,
    history_rows_params,
    insert_history_rows,
    is_dead_local_worker,
    local_worker_prefix,
)
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.types import State


@dataclass(frozen=True, slots=True)
class ChainTip:
    """The process's latest history row as its hash chain needs it: the next row links to ``row_hash``,
    and a step group's row, rewritten by its next part, keeps ``step_id``, ``started_at`` and ``prev_hash``."""

    step_id: uuid.UUID
    started_at: datetime
    prev_hash: str | None
    row_hash: str | None


_TIP = select(S.c.step_id, S.c.started_at, S.c.prev_hash, S.c.row_hash)


def chain_tip(connection: Connection, process_id: uuid.UUID, seq: int) -> ChainTip | None:
    """The tip of a process's chain: its row ``seq`` (None before its first row)."""
    if not seq:
        return None
    row = connection.execute(_TIP.where(S.c.process_id == process_id, S.c.seq == seq)).first()
    return ChainTip(*row) if row is not None else None


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
    user: str | None  # who caused this run: written on its history rows with ``action``
    lease: timedelta
    action: str = "start"
    parent_process_id: uuid.UUID | None = None  # a child process: its parent, woken when it ends
    child_group: str | None = None
    branch: str | None = None  # the parallel branch it runs (``engine.workflow.encode_branch``)
    tip: ChainTip | None = None  # the latest history row (row ``seq``), kept in memory from row to row

    @classmethod
    def of(cls, row: Any, process_id: uuid.UUID, workflow_name: str, worker_id: str, lease: timedelta) -> Claim:
        """The claim on a process whose row (or ``RETURNING`` values) ``row`` is."""
        return cls(
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
            user=row.run_by if row.run_by is not None else row.created_by,
            lease=lease,
            action=row.run_action or "start",
            parent_process_id=row.parent_process_id,
            child_group=row.child_group,
            branch=row.branch,
        )

    @classmethod
    def new(
        cls,
        process_id: uuid.UUID,
        wf: Workflow,
        cursor: Path | None,
        state: State,
        *,
        is_task: bool,
        user: str,
        worker_id: str | None,
        lease: timedelta,
    ) -> Claim:
        """The claim on a process just created (by the worker ``worker_id``, if any): nothing run yet."""
        return cls(
            process_id=process_id,
            worker_id=worker_id or "",
            workflow_name=wf.name,
            fingerprint=wf.fingerprint,
            cursor=cursor,
            state=state,
            seq=0,
            last_row_key=None,
            is_task=is_task,
            abort_requested=False,
            retry_count=0,
            user=user,
            lease=lease,
        )


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


def _insert_process_statement(columns: tuple[str, ...] = _PROCESS_CREATE_COLUMNS, *, started: bool = True) -> Any:
    """``INSERT INTO processes ... SELECT <values>, workflow_id, is_task FROM workflows WHERE name = :wf_name``.

    Whether the process is a task is its workflow row's say (the catalogue may mark a VALIDATE
    workflow as a task). Inserts nothing when the workflow has no row yet (the caller creates it
    and tries again), nor, for a process ``started`` by someone (not a step's child), while the
    engine is paused.
    """
    wf = WorkflowTable.__table__
    values = select(*[bind(P, c, "p_") for c in columns], wf.c.workflow_id, wf.c.is_task).where(
        wf.c.name == bindparam("wf_name", type_=wf.c.name.type)
    )
    if started:
        values = values.where(ENGINE_RUNS)
    return insert(P).from_select([*columns, "workflow_id", "is_task"], values)


def _insert_input_statement() -> Any:
    return insert(I).values({c: bind(I, c, "i_") for c in (*_INPUT_COLUMNS, "process_id")})


_created_statements: dict[tuple[tuple[str, ...], int], FastStatement] = {}


def _created_statement(columns: tuple[str, ...], rows: int) -> FastStatement:
    """PostgreSQL: the process row (in a CTE), its initial input and its first ``rows`` history rows in one
    statement, hence one transaction, each written only if the process row was; ``RETURNING`` its ``is_task``."""
    key = (columns, rows)
    if (found := _created_statements.get(key)) is not None:
        return found
    new_process = _insert_process_statement(columns).returning(P.c.process_id, P.c.is_task).cte("new_process")
    values = select(*[bind(I, c, "i_") for c in _INPUT_COLUMNS], new_process.c.process_id)
    new_input = insert(I).from_select([*_INPUT_COLUMNS, "process_id"], values)
    is_task = select(new_process.c.is_task).scalar_subquery().label("is_task")
    statement = (
        insert_history_rows(new_process, rows).add_cte(new_process).add_cte(new_input.cte("new_input"))
        if rows
        else new_input
    )
    found = _created_statements[key] = FastStatement(statement.returning(is_task))
    return found


_inserted_statements: dict[tuple[str, ...], FastStatement] = {}


def _insert_process(columns: tuple[str, ...]) -> FastStatement:
    """The process row alone, ``RETURNING`` its ``is_task``; its input and history rows follow in its transaction."""
    if (found := _inserted_statements.get(columns)) is None:
        found = _inserted_statements[columns] = FastStatement(_insert_process_statement(columns).returning(P.c.is_task))
    return found


_INSERT_CHILD_FAST = FastStatement(
    _insert_process_statement(
        (*_PROCESS_CREATE_COLUMNS, "parent_process_id", "child_group", "branch"), started=False
    ).returning(P.c.is_task)
)
_IS_PAUSED = FastStatement(select(PAUSED))
_INSERT_INPUT_FAST = FastStatement(_insert_input_statement())


_WAITING = {"last_status": ProcessStatus.CREATED.value, "claimed_by": None, "lease_until": None}


@dataclass(frozen=True)
class Opening:
    """What a process created running is created with (``checkpoints.opening``): its process row's values after
    the pure steps it begins with, and their history rows' parameters (``s_``-prefixed)."""

    values: dict[str, Any]
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class _Creation:
    """One new process as its statements write it: their parameters, its row's columns, its history rows."""

    params: dict[str, Any]
    columns: tuple[str, ...] = _PROCESS_CREATE_COLUMNS
    rows: tuple[dict[str, Any], ...] = ()

    def single(self, connection: RawConnection) -> tuple[Any, ...] | None:
        params = history_rows_params(self.rows) | self.params if self.rows else self.params
        return _created_statement(self.columns, len(self.rows)).fetchone(connection, params)

    def insert_process(self, connection: Connection | RawConnection) -> tuple[Any, ...] | None:
        return _insert_process(self.columns).fetchone(connection, self.params)

    def insert_rest(self, connection: Connection | RawConnection) -> None:
        _INSERT_INPUT_FAST.run(connection, self.params)
        for row in self.rows:
            INSERT_STEP.run(connection, row)


def create_process(
    db: Database,
    wf: Workflow,
    state: State,
    initial_input: State,
    user: str,
    *,
    worker_id: str | None,
    lease: timedelta,
    within: Callable[[Session, datetime], None] | None = None,
    opening: Callable[[Claim], Opening] | None = None,
) -> Claim:
    """Insert a process and its initial input: ``created``, claimed for ``worker_id`` when given; or, with
    ``opening``, with the history rows of the pure steps it begins with, its claim moved past them
    (``checkpoints.opening``): running for ``worker_id``, or, without one, ``created`` and unclaimed, for a
    worker elsewhere to claim and go on from there.

    One transaction. On PostgreSQL it is usually a single statement (committed on its own: no BEGIN
    round trip); the ``workflows`` row is looked up inside it, and the engine's pause flag too. When
    nothing was written, or with work ``within``, it is the ORM session's transaction: a paused engine
    starts nothing (``EnginePausedError``), a missing ``workflows`` row is created first.
    ``within``: more work that must commit with the process or not at all (reserving its
    subscriptions, remembering its idempotency key), run in the same transaction after the insert and
    given the process's creation instant (a process created running: when its opening steps began).
    """
    process_id = uuid.UUID(str(state["process_id"]))
    cursor = wf.first_path()
    claim = Claim.new(process_id, wf, cursor, state, is_task=wf.is_task, user=user, worker_id=worker_id, lease=lease)
    opened = opening(claim) if opening is not None else None
    # a process created running was created when its opening steps ran: none of its rows is older than it
    now = opened.rows[0]["s_started_at"] if opened else utcnow()
    params = _create_params(wf.name, wf.fingerprint, cursor, state, initial_input, user, worker_id, lease, now)
    if opened:
        # for workers elsewhere: no one's claim yet, and created until one takes it
        values = opened.values if worker_id else opened.values | _WAITING
        params.update(("p_" + column, value) for column, value in values.items())
        columns = tuple(dict.fromkeys((*_PROCESS_CREATE_COLUMNS, *opened.values)))
        creation = _Creation(params, columns, tuple(opened.rows))
    else:
        creation = _Creation(params)
    # (is_task,) of the inserted process; ``within``'s work needs the ORM session's transaction below
    inserted = _insert_fast(db, creation) if within is None else None
    if inserted is None:  # the workflow's first process (create its row, then insert), or work ``within``
        for attempt in (1, 2):
            try:
                with db.write() as session:
                    connection = session.connection()
                    if _paused(connection):
                        raise EnginePausedError
                    if (inserted := creation.insert_process(connection)) is None:
                        ensure_workflow_row(session, wf.name, wf.target, description=wf.description)
                        inserted = creation.insert_process(connection)
                    creation.insert_rest(connection)
                    if within is not None:
                        within(session, now)
                break
            except IntegrityError:
                if attempt == 2:  # not a concurrent first start creating the same workflow row
                    raise
    claim.is_task = bool(inserted[0]) if inserted else wf.is_task
    return claim


def _paused(connection: Connection) -> bool:
    row = _IS_PAUSED.fetchone(connection, {})
    return bool(row[0]) if row is not None else False


def _create_params(
    workflow_name: str,
    fingerprint: str,
    cursor: Path,
    state: State,
    initial_input: State,
    user: str,
    worker_id: str | None,
    lease: timedelta,
    now: datetime,
) -> dict[str, Any]:
    process_id = uuid.UUID(str(state["process_id"]))
    return {
        "wf_name": workflow_name,
        "p_process_id": process_id,
        "p_workflow_fingerprint": fingerprint,
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


def create_child(
    session: Session,
    wf: Workflow,
    state: State,
    initial_input: State,
    user: str,
    *,
    parent: uuid.UUID,
    group: str,
    branch: str | None,
) -> uuid.UUID:
    """Insert a ``created`` child process of ``wf``, unclaimed, in the parent step's transaction (``session``'s).

    Its workflow's row is created if it has none yet (a branch uses its parent's, which exists).
    """
    params = _create_params(
        wf.name, wf.fingerprint, wf.first_path(), state, initial_input, user, None, timedelta(0), utcnow()
    )
    params.update(p_parent_process_id=parent, p_child_group=group, p_branch=branch)
    connection = session.connection()
    if _INSERT_CHILD_FAST.fetchone(connection, params) is None:
        ensure_workflow_row(session, wf.name, wf.target, description=wf.description)
        _INSERT_CHILD_FAST.fetchone(connection, params)
    _INSERT_INPUT_FAST.run(connection, params)
    return uuid.UUID(str(state["process_id"]))


def _insert_fast(db: Database, creation: _Creation) -> tuple[Any, ...] | None:
    """The process and its input (and history rows) in one transaction without the ORM; None when nothing was
    written: the workflow has no row yet, or the engine is paused (the caller's transaction tells which)."""
    if not db.is_sqlite:
        with db.single_statements() as single:
            return creation.single(single)
    tx = RawTransaction(db)
    try:
        if inserted := creation.insert_process(tx):
            creation.insert_rest(tx)
            tx.commit()
        return inserted
    finally:
        tx.close()  # rolls back what was not committed


_CLAIMED_COLUMNS = (
    "workflow_fingerprint",
    "cursor",
    "state",
    "seq",
    "last_row_key",
    "is_task",
    "abort_requested",
    "retry_count",
    "created_by",
    "run_by",
    "run_action",
    "parent_process_id",
    "child_group",
    "branch",
)
# Textual, so both tables stay qualified: SQLAlchemy renders RETURNING's columns unqualified on SQLite,
# and there ``workflow_id = workflow_id`` inside the subquery would compare the workflows row with itself.
_WORKFLOW_NAME = literal_column(
    "(SELECT workflows.name FROM workflows WHERE workflows.workflow_id = processes.workflow_id)", String
)
# The tip of the process's hash chain (its row ``seq``), which a takeover continues: textual for the same reason.
_TIP_COLUMNS = tuple(
    literal_column(
        f"(SELECT process_steps.{column} FROM process_steps WHERE process_steps.process_id = processes.process_id "
        "AND process_steps.seq = processes.seq)",
        S.c[column].type,
    )
    for column in ("step_id", "started_at", "prev_hash", "row_hash")
)
_TAKEN_OVER = P.c.claimed_by.is_not(None)  # a claim some worker still held (its lease lapsed: it crashed or hangs)
_CLAIM = FastStatement(
    update(P)
    .where(
        P.c.process_id == bind(P, "process_id", "w_"),
        or_(*(P.c.last_status == status for status in IN_FLIGHT)),  # literals: compiled once, no expanding IN
        or_(P.c.claimed_by.is_(None), P.c.lease_until <= bind(P, "lease_until", "now_")),  # lapsed: as recoverable()
    )
    .values(
        # a paused engine gives no claims, and takes a lapsed one back
        claimed_by=case((PAUSED, None), else_=bind(P, "claimed_by", "p_")),
        lease_until=case((PAUSED, None), else_=bind(P, "lease_until", "p_")),
        run_by=case((and_(_TAKEN_OVER, ~PAUSED), "SYSTEM"), else_=P.c.run_by),
        run_action=case((and_(_TAKEN_OVER, ~PAUSED), "takeover"), else_=P.c.run_action),
    )
    .returning(*[P.c[c] for c in _CLAIMED_COLUMNS], *_TIP_COLUMNS, _WORKFLOW_NAME, PAUSED)
)


def claim(db: Database, process_id: uuid.UUID, worker_id: str, lease: timedelta) -> Claim | None:
    """Take a process that is in flight and not owned by a live worker; None if that is not possible now.

    One statement, committed on its own, so one round trip: the workflow's name comes back from a
    subquery in ``RETURNING`` (a Celery worker knows nothing but the process id). A paused engine
    gives no claims: the process stays where it is until the engine continues.
    """
    now = utcnow()
    params = {
        "w_process_id": process_id,
        "now_lease_until": now,
        "p_claimed_by": worker_id,
        "p_lease_until": now + lease,
    }
    with db.single_statements() as single:
        row = _CLAIM.row(single, params)
    if row is None or row[-1]:  # nothing to claim, or the engine is paused
        return None
    values = SimpleNamespace(**dict(zip(_CLAIMED_COLUMNS, row, strict=False)))
    claimed = Claim.of(values, process_id, row[-2], worker_id, lease)
    tip = row[len(_CLAIMED_COLUMNS) : len(_CLAIMED_COLUMNS) + len(_TIP_COLUMNS)]
    claimed.tip = ChainTip(*tip) if tip[0] is not None else None  # a takeover continues the chain from its rows
    return claimed


def release(db: Database, claim: Claim) -> None:
    """Give a claim back without changing the process (shutdown, or an unexpected error)."""
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id)
            .values(claimed_by=None, lease_until=None)
        )


def confirm(db: Database, claim: Claim) -> bool:
    """Renew one claim's lease while the process is where the claim last left it: its ``seq``, and its
    latest history row still the one whose hash the claim holds.

    False when the claim no longer holds (another worker took the process), or when the process
    moved on: a checkpoint whose COMMIT lost its connection may have committed after all, and then
    the step must not run again here (the process continues from what was committed). A new row
    moves ``seq``; a later part of a step group rewrites the group's row instead, and so its hash.
    """
    unmoved = [ProcessTable.seq == claim.seq]
    if claim.tip is not None and claim.tip.row_hash is not None:
        tip = (S.c.process_id == claim.process_id, S.c.seq == claim.seq, S.c.row_hash == claim.tip.row_hash)
        unmoved.append(exists().where(*tip))
    with db.write() as session:
        result = session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id, *unmoved)
            .values(lease_until=utcnow() + claim.lease)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


_RENEW_LEASE = FastStatement(
    update(P)
    .where(P.c.process_id == bind(P, "process_id", "r_"), P.c.claimed_by == bind(P, "claimed_by", "r_"))
    .values(lease_until=bind(P, "lease_until", "r_"))
)


def renew_leases(db: Database, worker_id: str, process_ids: list[uuid.UUID], lease: timedelta) -> None:
    """Heartbeat: extend the leases of the processes this worker is running.

    One statement per process, each committed on its own: one UPDATE of them all would hold the
    locks of the rows it renewed while it waits for the next, and a child's last checkpoint holds
    its own row while it waits for its parent's (``wakeups``), so renewing a running parent and
    that child in one transaction could deadlock with it.
    """
    if not process_ids:
        return
    until = utcnow() + lease
    with db.single_statements() as single:
        for process_id in process_ids:
            _RENEW_LEASE.run(single, {"r_process_id": process_id, "r_claimed_by": worker_id, "r_lease_until": until})


def recoverable(db: Database, grace: timedelta | None = None, *, abandoned_only: bool = False) -> list[uuid.UUID]:
    """Processes in flight that no live worker owns, in the order to take them over.

    First the *abandoned* ones, which a worker held and cannot go on with (its lease lapsed, it
    died on this host, or it handed the process back at a step boundary): those that were running
    before those it had only claimed. Nothing else will run them, no message is on its way. Then,
    unless ``abandoned_only``, the unclaimed ``created``/``resumed`` ones whose message must be
    lost; ``grace`` (a running worker's heartbeat) leaves alone those changed more recently than
    this, whose message may still be on its way (at startup nothing can be on its way for this
    process's executor: all are recovered). Random order within each rank, so workers scanning at
    once mostly go for different processes.

    Both queries go through the index on ``last_status`` (O(in flight), never O(all processes)),
    and only the processes returned and the distinct claim holders on this host (whose pids are
    checked) come back, not every process in flight: a long queue costs little.
    """
    now = utcnow()
    in_flight = P.c.last_status.in_(IN_FLIGHT)
    running = P.c.last_status == ProcessStatus.RUNNING.value
    unclaimed: ColumnElement[bool] = P.c.claimed_by.is_(None)
    if abandoned_only:
        unclaimed = and_(unclaimed, running)
    elif grace is not None:
        unclaimed = and_(unclaimed, or_(running, P.c.last_modified_at <= now - grace))
    rank = case((running, 0), (P.c.claimed_by.is_not(None), 1), else_=2)
    with db.write() as session:
        holders = select(P.c.claimed_by).distinct().where(in_flight, P.c.lease_until > now)
        local = holders.where(P.c.claimed_by.startswith(local_worker_prefix(), autoescape=True))
        dead = sorted(worker for worker in session.execute(local).scalars() if is_dead_local_worker(worker))
        if dead:
            session.execute(update(P).where(P.c.claimed_by.in_(dead)).values(lease_until=now))
        found = select(P.c.process_id).where(in_flight, or_(P.c.lease_until <= now, unclaimed))
        return list(session.execute(found.order_by(rank, func.random())).scalars())


def mark_workflow_changed(db: Database, claim: Claim, fingerprint: str) -> None:
    """Record the workflow's new fingerprint: the process continues in the changed workflow."""
    _update_claimed(db, claim, {"workflow_fingerprint": fingerprint, "last_modified_at": utcnow()})


def fail_unrunnable(db: Database, claim: Claim, reason: str, traceback: str | None = None) -> None:
    """Fail a claimed process that cannot continue, with the reason: it is not claimed again until someone acts."""
    values = {
        "last_status": ProcessStatus.FAILED.value,
        "failed_reason": reason,
        "traceback": traceback,
        "claimed_by": None,
        "lease_until": None,
        "last_modified_at": utcnow(),
    }
    _update_claimed(db, claim, values)


def _update_claimed(db: Database, claim: Claim, values: dict[str, Any]) -> None:
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == claim.process_id, ProcessTable.claimed_by == claim.worker_id)
            .values(**values)
        )
