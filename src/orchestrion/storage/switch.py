"""The engine switch (pause and continue) and the light reads that waiting on a process needs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from orchestrion.db.database import Database
from orchestrion.db.models import EngineSettingsTable, ProcessTable
from orchestrion.db.statements import FastStatement
from orchestrion.engine.clock import utcnow
from orchestrion.engine.status import ProcessStatus
from orchestrion.errors import ProcessNotFoundError
from orchestrion.storage.tables import IN_FLIGHT, P

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


Switched = Callable[[Session, list[uuid.UUID]], None]  # work committing with a switch, given the stopped processes


def set_paused(db: Database, paused: bool, within: Switched | None = None) -> list[uuid.UUID]:
    """Pause or continue the engine; continuing returns the processes that were stopped by the pause.

    ``within(session, stopped)`` runs last in the switch's transaction (its audit entry).
    """
    with db.write() as session:
        session.execute(
            update(EngineSettingsTable)
            .where(EngineSettingsTable.id == 1)
            .values(global_lock=paused, changed_at=utcnow())
        )
        stopped = (
            []
            if paused
            else list(
                session.execute(
                    select(ProcessTable.process_id).where(
                        and_(ProcessTable.last_status.in_(IN_FLIGHT), ProcessTable.claimed_by.is_(None))
                    )
                ).scalars()
            )
        )
        if within is not None:
            within(session, stopped)
        return stopped


def engine_changed_at(session: Session) -> datetime | None:
    """When the engine was last paused or continued."""
    return session.scalar(select(EngineSettingsTable.changed_at))
