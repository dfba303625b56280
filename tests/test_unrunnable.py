"""A process in flight that cannot continue fails once, with the reason, and is not taken over again.

Without this, a row whose position matches no step of its workflow (or whose run breaks outside
any step) would be claimed, found unrunnable and handed back on every heartbeat, for ever.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from tests.process_support import history, process_row

from orchestrion.db import Database, get_database
from orchestrion.db.models import ProcessTable
from orchestrion.executors.execution import execute_process
from orchestrion.runtime import current
from orchestrion.types import State
from orchestrion.workflow import ProcessStatus, StepList, Workflow, done, init, step

RAN: list[str] = []
LEASE = timedelta(seconds=10)


@step("Only step")
def only_step() -> State:
    RAN.append("Only step")
    return {}


def _in_flight_with(register: Callable[[str, StepList], Workflow], **columns: Any) -> uuid.UUID:
    """A created process of a fresh workflow, not run yet, whose row is then given ``columns``."""
    wf = register("unrunnable", init >> only_step >> done)
    process_id = uuid.uuid4()
    current().store.create_process(wf, {"process_id": process_id}, {}, "SYSTEM", worker_id=None, lease=LEASE)
    with get_database().write() as session:
        session.execute(update(ProcessTable).where(ProcessTable.process_id == process_id).values(**columns))
    RAN.clear()
    return process_id


@pytest.mark.parametrize(
    ("columns", "reason"),
    [
        ({"cursor": None}, "has no next step recorded"),
        ({"cursor": ["Only step", "No such part"]}, "The engine could not run this process"),
    ],
    ids=["no position", "a position the runner cannot follow"],
)
def test_it_fails_once_with_the_reason(
    database: Database, register: Callable[[str, StepList], Workflow], columns: dict[str, Any], reason: str
) -> None:
    process_id = _in_flight_with(register, **columns)

    assert execute_process(process_id, "a-worker", LEASE) is None
    assert execute_process(process_id, "another-worker", LEASE) is None, "not claimed a second time"

    p = process_row(process_id)
    assert p.last_status == ProcessStatus.FAILED
    assert reason in (p.failed_reason or "")
    assert p.claimed_by is None
    assert RAN == []
    assert history(process_id) == []  # created, never run: no step row came of it
    assert process_id not in current().store.recoverable(), "a failed process is not taken over again"
