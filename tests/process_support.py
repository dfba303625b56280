"""Reading what the process store wrote, for tests: the process row, its history and its inputs."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from orchestrion.db import get_database
from orchestrion.db.models import InputStateTable, ProcessStepTable, ProcessTable
from orchestrion.types import State


def process_row(process_id: uuid.UUID) -> ProcessTable:
    with get_database().read() as s:
        p = s.get(ProcessTable, process_id)
        assert p is not None
        return p


def step_rows(process_id: uuid.UUID) -> list[ProcessStepTable]:
    with get_database().read() as s:
        query = select(ProcessStepTable).where(ProcessStepTable.process_id == process_id)
        return list(s.execute(query.order_by(ProcessStepTable.seq)).scalars())


def history(process_id: uuid.UUID) -> list[tuple[str, str]]:
    """(name, status) of every history row, in order."""
    return [(r.name, r.status) for r in step_rows(process_id)]


def input_rows(process_id: uuid.UUID) -> list[tuple[str, State]]:
    with get_database().read() as s:
        query = select(InputStateTable).where(InputStateTable.process_id == process_id)
        rows = s.execute(query.order_by(InputStateTable.input_time)).scalars()
        return [(r.input_type, r.input_state) for r in rows]
