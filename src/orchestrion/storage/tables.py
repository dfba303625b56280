"""The process tables as the store's statements use them, and what those statements share."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, false, func, insert, select, union_all, update

from orchestrion.db.models import EngineSettingsTable, InputStateTable, ProcessStepTable, ProcessTable
from orchestrion.db.statements import FastStatement, RawConnection
from orchestrion.engine.status import IN_FLIGHT_STATUSES

P = cast(Table, ProcessTable.__table__)
S = cast(Table, ProcessStepTable.__table__)
I = cast(Table, InputStateTable.__table__)  # noqa: E741
IN_FLIGHT = [s.value for s in IN_FLIGHT_STATUSES]
GLOBAL_LOCK = select(EngineSettingsTable.global_lock).where(EngineSettingsTable.id == 1).scalar_subquery()
PAUSED = func.coalesce(GLOBAL_LOCK, false())  # the engine's pause flag
ENGINE_RUNS = false() == PAUSED


def bind(table: Any, column: str, prefix: str) -> Any:
    """A named parameter for ``column``, typed like it (so values are converted as the ORM would)."""
    return bindparam(f"{prefix}{column}", type_=table.c[column].type)


STEP_COLUMNS = (
    "step_id",
    "process_id",
    "seq",
    "name",
    "step_key",
    "status",
    "state",
    "created_by",
    "action",
    "started_at",
    "completed_at",
    "prev_hash",
    "row_hash",
)


def insert_step_statement() -> Any:
    """``INSERT INTO process_steps``: one history row, of the ``s_`` parameters."""
    return insert(S).values({c: bind(S, c, "s_") for c in STEP_COLUMNS})


INSERT_STEP = FastStatement(insert_step_statement())


def _history_row_prefix(i: int) -> str:
    """The parameters of the ``i``-th history row one statement inserts: ``s_``, then ``s1_``, ``s2_``, ..."""
    return f"s{i}_" if i else "s_"


def history_rows_params(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One statement's parameters for these history rows (each ``s_``-prefixed, as ``INSERT_STEP`` takes them)."""
    params = dict(rows[0])
    for i, row in enumerate(rows[1:], 1):
        prefix = _history_row_prefix(i)
        params.update((prefix + key[2:], value) for key, value in row.items())
    return params


def insert_history_rows(source: Any, rows: int) -> Any:
    """``INSERT INTO process_steps`` of ``rows`` rows (``history_rows_params``), one for each row of ``source``: a
    data-modifying CTE's ``RETURNING``, so the history is written only if that statement's row was."""
    selects = [
        select(*[bind(S, c, _history_row_prefix(i)) for c in STEP_COLUMNS]).select_from(source) for i in range(rows)
    ]
    return insert(S).from_select(list(STEP_COLUMNS), selects[0] if rows == 1 else union_all(*selects))


def new_worker_id() -> str:
    """``host:pid:random``: unique, and tells whether a claim's holder still lives on this host."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def local_worker_prefix() -> str:
    """How the ids of this host's workers begin."""
    return f"{socket.gethostname()}:"


def is_dead_local_worker(worker_id: str) -> bool:
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


_update_process_statements: dict[tuple[str, ...], FastStatement] = {}


def update_process(connection: Connection | RawConnection, process_id: uuid.UUID, values: dict[str, Any]) -> None:
    """``UPDATE processes SET <values> WHERE process_id = ...`` (the caller holds the row or the claim)."""
    keys = tuple(values)
    statement = _update_process_statements.get(keys)
    if statement is None:
        statement = _update_process_statements[keys] = FastStatement(
            update(P)
            .where(P.c.process_id == bindparam("w_pid", type_=P.c.process_id.type))
            .values({c: bind(P, c, "p_") for c in keys})
        )
    params = {"p_" + column: value for column, value in values.items()}
    params["w_pid"] = process_id
    statement.run(connection, params)
