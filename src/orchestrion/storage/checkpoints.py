"""Checkpoints, the engine's hot path: a step's history row and the process's new values, in the step's transaction.

The statements are compiled once per dialect (``FastStatement``) and run on the step's own
connection. On PostgreSQL the history row and the process row are written by one statement (the
history row in a data-modifying CTE), so a checkpoint is one round trip plus the commit; SQLite
runs the two statements one after the other (it has no data-modifying CTEs; its round trips cost
nothing). The checkpoint's ``RETURNING`` tells the runner whether an abort was requested or the
engine paused meanwhile, and whether the claim still holds; the runner decides what follows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from itertools import pairwise
from typing import Any

import structlog
from sqlalchemy import Connection, bindparam, false, update

from orchestrion.db.chain import step_hash
from orchestrion.db.database import Database, RawJSON, still_fresh
from orchestrion.db.failures import is_transient, rejects_data, retry_delay
from orchestrion.db.sessions import StepSession, bind_session
from orchestrion.db.statements import FastStatement, RawConnection, RawTransaction
from orchestrion.engine.children import AWAIT_META_KEY
from orchestrion.engine.context import StepContext
from orchestrion.engine.runner import CheckpointRejectedError, Signals, StepRecord
from orchestrion.engine.serialization import dumps, loads
from orchestrion.engine.status import SETTLED_STATUSES, ProcessStatus, StepStatus
from orchestrion.storage import claims
from orchestrion.storage.claims import ChainTip, Claim, confirm
from orchestrion.storage.tables import (
    ENGINE_RUNS,
    GLOBAL_LOCK,
    INSERT_STEP,
    P,
    S,
    bind,
    history_rows_params,
    insert_history_rows,
    insert_step_statement,
    update_process,
)
from orchestrion.storage.wakeups import wake_parent

logger = structlog.get_logger(__name__)


# a group's row names who moved it on last (the callback that answered its await step, say); its hash changes
# with it, linked to the same row before it
_GROUP_COLUMNS = ("status", "state", "created_by", "action", "completed_at", "row_hash")


def _update_group_row_statement() -> Any:
    return (
        update(S)
        .where(S.c.process_id == bind(S, "process_id", "s_"), S.c.seq == bindparam("s_row_seq", type_=S.c.seq.type))
        .values({c: bind(S, c, "s_") for c in _GROUP_COLUMNS})
    )


_UPDATE_GROUP_ROW_FAST = FastStatement(_update_group_row_statement())
_CHECKPOINT_RETURNING = (P.c.abort_requested, GLOBAL_LOCK, P.c.abort_requested_by)
_checkpoint_statements: dict[tuple[bool, str | None, tuple[str, ...]], FastStatement] = {}


def _checkpoint_statement(combined: bool, row: str | None, keys: tuple[str, ...]) -> FastStatement:
    """``UPDATE processes ... RETURNING abort_requested, <engine paused>, abort_requested_by`` for these columns,
    only if still claimed.

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
        .values({c: bind(P, c, "p_") for c in keys})
        .returning(*_CHECKPOINT_RETURNING)
    )
    if combined:
        row_statement = insert_step_statement() if row == "insert" else _update_group_row_statement()
        statement = statement.add_cte(row_statement.cte("step_row"))
    found = _checkpoint_statements[key] = FastStatement(statement)
    return found


_single_statements: dict[tuple[str, tuple[str, ...], int], FastStatement] = {}
_UNSTOPPED = (P.c.abort_requested == false(), ENGINE_RUNS)


def _single_statement(row: str, keys: tuple[str, ...], followers: int = 0) -> FastStatement:
    """PostgreSQL, committed on its own: the process row's UPDATE (in a CTE) and the history row's INSERT
    (``row="insert"``, with ``followers`` more rows after it: pure steps' rows) or the group row's UPDATE
    (``row="group"``), all only if the claim still holds, no abort was requested and the engine is not
    paused. ``RETURNING`` says whether it applied.

    The history rows are written from the CTE's row, so when the process row is not updated nothing is:
    the statement is its own transaction, there is nothing to roll back.
    """
    key = (row, keys, followers)
    if (found := _single_statements.get(key)) is not None:
        return found
    claimed = (
        update(P)
        .where(P.c.process_id == bindparam("w_pid", type_=P.c.process_id.type))
        .where(P.c.claimed_by == bindparam("w_worker", type_=P.c.claimed_by.type), *_UNSTOPPED)
        .values({c: bind(P, c, "p_") for c in keys})
        .returning(P.c.process_id)
        .cte("claimed")
    )
    statement: Any
    if row == "insert":
        statement = insert_history_rows(claimed, 1 + followers)
    else:
        statement = (
            update(S)
            .where(S.c.process_id == claimed.c.process_id, S.c.seq == bindparam("s_row_seq", type_=S.c.seq.type))
            .values({c: bind(S, c, "s_") for c in _GROUP_COLUMNS})
        )
    found = _single_statements[key] = FastStatement(statement.add_cte(claimed).returning(S.c.seq))
    return found


def _chained_state(record: StepRecord) -> dict[str, Any]:
    """The row's state as the chain hashes it: its canonical JSON when the engine wrote that (a step's
    new state, almost always), else the state as stored and read back (a failure's error: its JSON, parsed)."""
    if record.row_canonical:
        return {"state": None, "state_json": record.row_json}
    if record.process_state_json is record.row_json:
        return {"state": record.row_state}
    return {"state": loads(record.row_json)}


def _step_row_params(claim: Claim, record: StepRecord, state: RawJSON) -> tuple[str, dict[str, Any]]:
    """Whether the step inserts its history row or updates the group's (``"insert"``/``"group"``), and the values.

    The row names the claim's actor and action (who caused this run, and how). Updates the claim's
    row bookkeeping (``seq``, ``last_row_key``, the chain's ``tip``) as the row is written; the hash
    is computed here from the values at hand, the previous one is the claim's.
    """
    tip = claim.tip
    if _is_group_part(claim, record):
        row_hash = (
            None
            if tip is None
            else step_hash(  # no tip: a bug, which ``audit verify`` will report
                tip.prev_hash,
                step_id=tip.step_id,
                process_id=claim.process_id,
                seq=claim.seq,
                name=record.row_name,
                step_key=record.path[0],
                status=record.status.value,
                **_chained_state(record),
                created_by=claim.user,
                action=claim.action,
                started_at=tip.started_at,
                completed_at=record.completed_at,
            )
        )
        if tip is not None:
            claim.tip = ChainTip(tip.step_id, tip.started_at, tip.prev_hash, row_hash)
        return "group", {
            "s_process_id": claim.process_id,
            "s_row_seq": claim.seq,
            "s_status": record.status.value,
            "s_state": state,
            "s_created_by": claim.user,
            "s_action": claim.action,
            "s_completed_at": record.completed_at,
            "s_row_hash": row_hash,
        }
    claim.seq += 1
    claim.last_row_key = record.path[0]
    params = _new_row(
        claim,
        name=record.row_name,
        step_key=record.path[0],
        status=record.status.value,
        state=state,
        chained=_chained_state(record),
        created_by=claim.user,
        action=claim.action,
        started_at=record.started_at,
        completed_at=record.completed_at,
    )
    return "insert", params


def _is_group_part(claim: Claim, record: StepRecord) -> bool:
    """The step is the next part of the group the process's last history row records (it updates that row)."""
    return len(record.path) > 1 and claim.last_row_key == record.path[0]


def _new_row(
    claim: Claim, *, state: RawJSON, chained: dict[str, Any], started_at: datetime, **fields: Any
) -> dict[str, Any]:
    """The parameters of history row ``claim.seq``, chained to the claim's tip (which it becomes);
    ``chained``: the state as the chain hashes it (``_chained_state``)."""
    step_id = uuid.uuid4()
    prev = claim.tip.row_hash if claim.tip is not None else None
    row_hash = step_hash(
        prev, step_id=step_id, process_id=claim.process_id, seq=claim.seq, started_at=started_at, **chained, **fields
    )
    claim.tip = ChainTip(step_id, started_at, prev, row_hash)
    params = {"s_" + name: value for name, value in fields.items()}
    params.update(
        s_step_id=step_id,
        s_process_id=claim.process_id,
        s_seq=claim.seq,
        s_state=state,
        s_started_at=started_at,
        s_prev_hash=prev,
        s_row_hash=row_hash,
    )
    return params


def write_step_row(connection: Connection | RawConnection, claim: Claim, record: StepRecord) -> None:
    """Insert the history row, or update it when the step is the next part of the group the last row records."""
    row, params = _step_row_params(claim, record, RawJSON(record.row_json.decode()))
    (INSERT_STEP if row == "insert" else _UPDATE_GROUP_ROW_FAST).run(connection, params)


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
    if AWAIT_META_KEY in record.meta:  # what the process waits for (None: it waits for no children any more)
        values["awaiting_children"] = record.meta[AWAIT_META_KEY]
    if "callback_timeout" in record.meta:
        timeout = record.meta["callback_timeout"]
        values["callback_deadline"] = record.completed_at + timeout if timeout else None
    if record.status == StepStatus.WAITING:  # the runner decided when the next try is due
        claim.retry_count += 1
        values["retry_count"] = claim.retry_count
        values["next_retry_at"] = record.retry_at
    elif claim.retry_count:  # no automatic retry is due any more; a failure keeps the count to show
        values["next_retry_at"] = None
        if record.status != StepStatus.FAILED:
            claim.retry_count = 0
            values["retry_count"] = 0
    return values


def write_aborted(
    connection: Connection | RawConnection, claim: Claim, state_json: RawJSON, user: str | None, now: datetime
) -> uuid.UUID | None:
    """End the process aborted: the "User Aborted" history row (naming ``user``, action ``abort``) and the
    process's aborted values. Returns the process's parent if that woke it (``wakeups``)."""
    _abort_row(connection, claim, state_json, user, now)
    update_process(connection, claim.process_id, _aborted_values(claim, now))
    return wake_parent(connection, claim.parent_process_id, claim.child_group, now)


def _abort_row(
    connection: Connection | RawConnection, claim: Claim, state_json: RawJSON, user: str | None, now: datetime
) -> None:
    claim.seq += 1
    claim.last_row_key = "User Aborted"
    params = _new_row(
        claim,
        name="User Aborted",
        step_key="User Aborted",
        status=StepStatus.ABORT.value,
        state=state_json,
        chained={"state": loads(state_json.encode())},
        created_by=user,
        action="abort",
        started_at=now,
        completed_at=now,
    )
    INSERT_STEP.run(connection, params)


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
        "abort_requested_by": None,
        "run_by": None,
        "run_action": None,
    }


# --- a process created running ----------------------------------------------------------------------


def opening(records: tuple[StepRecord, ...], claim: Claim) -> claims.Opening:
    """What a process created running is written with: the history rows of the pure steps it begins with
    (``runner.opening_records``: ``init``) and the process row's values after them. Moves the new claim past them:
    the run goes on from there and saves their checkpoint."""
    _, rows, state = _history_rows(claim, records)
    values = _process_values(claim, records[-1], state)
    claim.cursor = records[-1].cursor
    claim.state = records[-1].row_state
    return claims.Opening(values, rows)


def _history_rows(claim: Claim, records: tuple[StepRecord, ...]) -> tuple[str, list[dict[str, Any]], RawJSON]:
    """Whether the first record inserts its history row or updates its group's (``_step_row_params``), the
    parameters of the records' rows and the last one's state, each state decoded once however many rows share it."""
    state = RawJSON(records[0].row_json.decode())
    kind, first = _step_row_params(claim, records[0], state)
    rows = [first]
    for before, record in pairwise(records):
        if record.row_json is not before.row_json:
            state = RawJSON(record.row_json.decode())
        rows.append(_step_row_params(claim, record, state)[1])
    return kind, rows, state


class DbJournal:
    """The runner's journal on the database: one transaction per step, effects and checkpoint together.

    The step's session is opened only if the step (or a result hook) uses the database; the
    checkpoint then commits in it, with the step's effects. A step that did not touch the database
    is checkpointed on a bare pooled connection: same statements, same single transaction, without
    the ORM session's bookkeeping. While the process runs on, one-statement checkpoints keep their
    connection from step to step instead of taking it from the pool and handing it back each time
    (``close`` hands it back at the end of the run).
    """

    def __init__(
        self,
        db: Database,
        claim: Claim,
        *,
        should_stop: Callable[[], bool] | None = None,
        context: StepContext | None = None,
        pending: list[uuid.UUID] | None = None,
        abort_children: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.claim = claim
        # processes this step made runnable (children it started or retried, a parent its end woke):
        # the executor submits them once the step committed
        self.pending: list[uuid.UUID] = [] if pending is None else pending
        self._abort_children = abort_children  # aborts the children this step started, with the process
        self._abort_requested_by: str | None = None  # who asked for the abort the last checkpoint found
        self._should_stop = should_stop  # a worker shutting down hands the process back at the next boundary
        self.context = context or StepContext(claim.process_id, claim.workflow_name)
        self._step: StepSession | None = None
        self._tx: RawTransaction | None = None  # the bare transaction of a step that did not use the session
        self._connection: Connection | RawConnection | None = None
        self._committed = False  # the checkpoint was one statement, committed on its own
        self._single: RawConnection | None = None  # the one-statement checkpoints' connection, kept between steps
        self._single_since = 0.0  # when it last answered (monotonic)
        self._keeping = False  # holds one of the database's places for a kept connection
        self._keys: tuple[str, ...] = ()  # the process columns the checkpoint sets
        # the claim's bookkeeping before the checkpoint: seq, last_row_key, retry_count, tip
        self._before: tuple[int, str | None, int, ChainTip | None] | None = None

    def should_stop(self) -> bool:
        return self._should_stop is not None and self._should_stop()

    def infrastructure_error(self, error: BaseException) -> bool:
        return is_transient(error)

    def recover(self, attempt: int) -> bool:
        """Wait, with growing delays, until the database answers and the claim is still ours.

        While the database is away nobody can take the process over; once it is back, the claim
        holds unless the lease lapsed and another worker took it, and then the step is theirs. A
        commit that lost its connection may have landed: when the process has moved on, this run
        stops and the process is handed back, to continue from what was committed.
        """
        while not self.should_stop():
            delay = retry_delay(attempt)
            logger.warning(
                "The database failed during a step; running the step again once it answers",
                process_id=str(self.claim.process_id),
                attempt=attempt + 1,
                delay_seconds=round(delay, 3),
            )
            time.sleep(delay)
            try:
                return confirm(self.db, self.claim)
            except Exception as e:
                if not is_transient(e):
                    raise
            attempt += 1
        return False

    def close(self) -> None:
        """The run ended: hand the connection kept between steps back to the pool."""
        if self._single is not None:
            single, self._single = self._single, None
            self.db.release_autocommit(single)
        if self._keeping:
            self._keeping = False
            self.db.kept_released()

    def _single_connection(self) -> RawConnection:
        """The kept connection, unless it sat idle long enough that the pool should check it (or the server
        spoke on it): then a fresh one from the pool."""
        if self._single is not None and not still_fresh(self._single, self._single_since):
            self.close()
        if self._single is None:
            self._single = self.db.autocommit_connection()
        return self._single

    def started(self) -> list[uuid.UUID]:
        """The processes the committed step made runnable (taken: each is handed out once)."""
        if not self.pending:  # almost every step: no copy
            return self.pending
        found = list(self.pending)
        self.pending.clear()
        return found

    @contextmanager
    def step(self) -> Iterator[DbJournal]:
        self.pending.clear()
        current = StepSession(self.db, before_open=self.close)
        self._step = current
        try:
            with bind_session(current):
                yield self
        except BaseException:
            self._rollback()
            raise
        finally:
            if current.session is not None:
                current.session.close()
            if self._tx is not None:
                self._tx.close()  # rolls back what was not committed
            self._step, self._tx, self._connection, self._committed = None, None, None, False

    def discard(self) -> None:
        assert self._step is not None
        if self._step.session is not None:
            self._step.session.rollback()

    def _rollback(self) -> None:
        self.pending.clear()
        if self._before is not None:  # first: a rollback on a lost connection raises
            self.claim.seq, self.claim.last_row_key, self.claim.retry_count, self.claim.tip = self._before
            self._before = None
        try:
            if self._step is not None and self._step.session is not None:
                self._step.session.rollback()
            if self._tx is not None:
                self._tx.rollback()
        except Exception as e:
            if not is_transient(e):
                raise
            # the connection is gone, and its transaction with it: nothing is left to roll back

    def _rejected(self, error: Exception) -> CheckpointRejectedError:
        self._rollback()
        return CheckpointRejectedError(f"The database refused the step's result: {error}")

    def checkpoint(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> Signals:
        assert self._step is not None
        claim = self.claim
        self._before = claim.seq, claim.last_row_key, claim.retry_count, claim.tip
        session = self._step.session
        if followers and _is_group_part(claim, record):
            followers = ()  # a group's part updates the group's row: one statement writes one
        last = followers[-1] if followers else record  # what the process row ends at
        try:
            if session is None and self._single_statement_applies(last):
                if self._write_single(record, followers):
                    self._committed = True
                    return Signals(kept=True, followed=bool(followers))
                # the claim was lost, an abort was requested or the engine paused: decided in a transaction
                claim.seq, claim.last_row_key, claim.retry_count, claim.tip = self._before
                followers = ()
            self.close()  # a transaction follows: the process stops, or the step used the session
            if session is not None:  # the step's own work is in this session's transaction: it commits with it
                self._connection = session.connection()
            else:
                if self._tx is not None:  # a second checkpoint of the step (its first was refused)
                    self._tx.close()
                self._tx = RawTransaction(self.db)
                self._connection = self._tx
            return self._write(record, self._connection, followers)
        except Exception as e:
            if not rejects_data(e):
                raise
            raise self._rejected(e) from e

    def _single_statement_applies(self, record: StepRecord) -> bool:
        """Whether the checkpoint can be one statement committed on its own (PostgreSQL, most steps).

        Not when the step used the session (its effects are in that transaction), nor when ending the
        process may wake its parent (more statements, under the parent's row lock), nor while the
        worker shuts down (the process is handed back in the checkpoint's transaction).
        """
        if self.db.is_sqlite or self.should_stop():
            return False
        return self.claim.parent_process_id is None or record.process_status not in SETTLED_STATUSES

    def _write_single(self, record: StepRecord, followers: tuple[StepRecord, ...]) -> bool:
        """The checkpoint, with its followers' rows, as one statement in autocommit mode (one round trip);
        whether it applied.

        The connection is kept for the next step while the process runs on and the database has a
        place for it (``Database.may_keep``), else handed back.
        """
        row, params = self._params(record, followers)
        single = self._single_connection()
        try:
            applied = _single_statement(row, self._keys, len(followers)).fetchone(single, params) is not None
        except BaseException:
            self.close()
            raise
        last = followers[-1] if followers else record
        if applied and last.process_status == ProcessStatus.RUNNING and self._may_keep():
            self._single_since = time.monotonic()
        else:
            self.close()
        return applied

    def _may_keep(self) -> bool:
        if not self._keeping:
            self._keeping = self.db.may_keep()
        return self._keeping

    def _params(self, record: StepRecord, followers: tuple[StepRecord, ...] = ()) -> tuple[str, dict[str, Any]]:
        """The history row's kind (``"insert"``/``"group"``) and the parameters of the checkpoint's statements;
        the process row's values are the last follower's, their rows' parameters ``history_rows_params``."""
        claim = self.claim
        records = (record, *followers)
        row, rows, state = _history_rows(claim, records)
        params = history_rows_params(rows)
        values = _process_values(claim, records[-1], state)
        params["w_pid"] = claim.process_id
        params["w_worker"] = claim.worker_id
        for column, value in values.items():
            params["p_" + column] = value
        self._keys = tuple(values)
        return row, params

    def _write(
        self, record: StepRecord, connection: Connection | RawConnection, followers: tuple[StepRecord, ...] = ()
    ) -> Signals:
        """The checkpoint in the transaction; the followers' rows too when it found nothing to stop for (on
        SQLite a statement costs no round trip, and on PostgreSQL two cost less than a commit of their own)."""
        claim = self.claim
        row, params = self._params(record)
        values = self._keys
        if self.db.is_sqlite:
            (INSERT_STEP if row == "insert" else _UPDATE_GROUP_ROW_FAST).run(connection, params)
            returned = _checkpoint_statement(False, None, values).fetchone(connection, params)
        else:
            returned = _checkpoint_statement(True, row, values).fetchone(connection, params)
        if returned is None:  # the claim was lost: none of this step may count
            self._rollback()
            logger.warning("Lost the claim on a process; its step was rolled back", process_id=str(claim.process_id))
            return Signals(kept=False)
        abort_requested, paused, self._abort_requested_by = returned
        followed = bool(followers) and not (abort_requested or paused or self.should_stop())
        if followed:
            for follower in followers:
                write_step_row(connection, claim, follower)
            record = followers[-1]
            update_process(connection, claim.process_id, _process_values(claim, record))
        if record.process_status in SETTLED_STATUSES:  # a child's end may wake its parent
            woken = wake_parent(connection, claim.parent_process_id, claim.child_group, record.completed_at)
            if woken is not None:
                self.pending.append(woken)
        return Signals(kept=True, abort_requested=bool(abort_requested), paused=bool(paused), followed=followed)

    def abort(self, record: StepRecord) -> None:
        assert self._connection is not None
        state_json = RawJSON((record.process_state_json or dumps(self.claim.state)).decode())
        # the requester, not who caused this run (an abort asked for before this revision names the run's actor)
        user = self._abort_requested_by or self.claim.user
        if self.pending and self._abort_children is not None:  # children this very step started
            self._abort_children(user or "SYSTEM")
            self.pending.clear()
        woken = write_aborted(self._connection, self.claim, state_json, user, record.completed_at)
        if woken is not None:
            self.pending.append(woken)

    def hand_back(self) -> None:
        # stop at this boundary; unpausing (or any other worker) picks the process up again
        released = {"claimed_by": None, "lease_until": None}
        if self._committed:  # the worker began shutting down after the checkpoint committed on its own
            try:
                update_process(self._single_connection(), self.claim.process_id, released)
            finally:
                self.close()
            return
        assert self._connection is not None
        update_process(self._connection, self.claim.process_id, released)

    def commit(self) -> None:
        assert self._step is not None
        if self._committed:
            self._before = None
            return
        try:
            if self._step.session is not None:
                self._step.session.commit()
            elif self._tx is not None:
                self._tx.commit()
        except Exception as e:  # the step's own writes may break a constraint only now
            if not rejects_data(e):
                raise
            raise self._rejected(e) from e
        self._before = None
