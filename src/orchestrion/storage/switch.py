"""The engine switch (pause and continue) and the light reads that waiting on a process needs."""

from __future__ import annotations

import uuid
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
                    and_(ProcessTable.last_status.in_(IN_FLIGHT), ProcessTable.claimed_by.is_(None))
                )
            ).scalars()
        )


def engine_changed_at(session: Session) -> datetime | None:
    """When the engine was last paused or continued."""
    return session.scalar(select(EngineSettingsTable.changed_at))
