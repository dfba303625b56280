"""Crash safety with a real crash: a worker process is killed with SIGKILL in the middle of a step.

The worker (tests/crash_worker.py, a subprocess) starts a ``crash_recovery`` process and blocks in
``step_two`` after that step wrote its effect, inside the step's open transaction. The test kills
it, checks that only the committed steps left traces, recovers the process in this process and
checks that it completed from its last checkpoint with each step's effect committed exactly once.
A second group of tests checks that recovery leaves processes alone that a live worker owns.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tests import crash_workflow
from tests.crash_support import aware, crash_worker, effects, effects_table, history, process

from orchestrion.db import Database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.executors import set_executor
from orchestrion.services.processes import recover, start_process
from orchestrion.storage.claims import Claim
from orchestrion.workflows import register_workflow


@pytest.fixture
def effects_db(database: Database) -> Iterator[Database]:
    """The test database with an empty ``effects`` table and the crash workflow registered."""
    register_workflow(crash_workflow.crash_recovery, crash_workflow.WORKFLOW_NAME)  # again, if a test removed it
    with effects_table(database):
        yield database


def test_process_killed_mid_step_is_recovered_from_its_last_checkpoint(effects_db: Database, tmp_path: Path) -> None:
    db = effects_db
    signal_file = tmp_path / "in_step_two.json"
    with crash_worker(db, tmp_path, env={crash_workflow.SIGNAL_FILE_ENV: str(signal_file)}) as worker:
        worker.wait_for(signal_file.exists, "step_two blocked")
        worker.kill()
    started = json.loads(signal_file.read_text())
    process_id = uuid.UUID(started["process_id"])
    worker_id = started["worker_id"]
    assert worker_id.split(":")[:2] == [socket.gethostname(), str(worker.proc.pid)]

    # After the crash: step_one is the last checkpoint; step_two's insert died with its transaction.
    p = process(db, process_id)
    assert p.last_status == "running"
    assert p.claimed_by == worker_id  # the dead worker still holds the claim ...
    assert p.lease_until is not None
    assert aware(p.lease_until) > datetime.now(UTC)  # ... and its lease has not lapsed
    assert p.cursor == ["Step two"]
    assert p.seq == 2
    assert p.state["counter"] == 1
    assert effects(db) == [("step_one", str(process_id))]
    assert history(db, process_id) == [(1, "Start", "success"), (2, "Step one", "success")]

    # Recovery in this process (the fixture's inline executor runs it here, to its end).
    assert recover() == [process_id]

    p = process(db, process_id)
    assert p.last_status == "completed"
    assert p.claimed_by is None
    assert p.cursor is None
    assert p.state["counter"] == 3  # continued from the checkpointed state, step_one not run again
    assert effects(db) == [
        ("step_one", str(process_id)),
        ("step_three", str(process_id)),
        ("step_two", str(process_id)),
    ]
    assert history(db, process_id) == [
        (1, "Start", "success"),
        (2, "Step one", "success"),
        (3, "Step two", "success"),
        (4, "Step three", "success"),
        (5, "Done", "complete"),
    ]
    with db.read() as session:  # the rows after the crash name the takeover, not the start
        actions = session.execute(
            select(ProcessStepTable.created_by, ProcessStepTable.action)
            .where(ProcessStepTable.process_id == process_id)
            .order_by(ProcessStepTable.seq)
        ).all()
    assert [tuple(a) for a in actions] == [("SYSTEM", "start")] * 2 + [("SYSTEM", "takeover")] * 3
    assert recover() == []  # nothing is left in flight


class _BusyWorker:
    """An executor that claims the processes it is given and never runs them: a live worker, busy."""

    def __init__(self, worker_id: str, lease: timedelta) -> None:
        self.worker_id = worker_id
        self.lease = lease
        self.submitted: list[uuid.UUID] = []

    def submit(self, process_id: uuid.UUID, claim: Claim | None = None, **kind: bool) -> None:
        assert claim is not None and claim.worker_id == self.worker_id
        self.submitted.append(process_id)

    def runs_at_once(self) -> bool:
        return False  # it never runs them

    def shutdown(self, wait: bool = True) -> None:
        pass


def _start_claimed_by(worker_id: str) -> uuid.UUID:
    busy = _BusyWorker(worker_id, timedelta(hours=1))
    previous = set_executor(busy)
    try:
        process_id = start_process(crash_workflow.WORKFLOW_NAME)
    finally:
        set_executor(previous)
    assert busy.submitted == [process_id]
    return process_id


OWNERS = {
    # this very process (alive), but another worker in it
    "live pid on this host": lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}",
    # a pid that does not exist here says nothing about a worker on another host
    "other host": lambda: f"elsewhere.invalid:999999999:{uuid.uuid4().hex[:8]}",
}


@pytest.mark.parametrize("owner", list(OWNERS))
def test_recover_leaves_a_live_claim_alone(effects_db: Database, owner: str) -> None:
    db = effects_db
    worker_id = OWNERS[owner]()
    process_id = _start_claimed_by(worker_id)
    before = process(db, process_id)
    assert (before.last_status, before.claimed_by) == ("created", worker_id)

    assert recover() == []

    after = process(db, process_id)
    assert (after.last_status, after.claimed_by, after.lease_until) == ("created", worker_id, before.lease_until)
    assert after.seq == 0
    assert history(db, process_id) == []
    assert effects(db) == []


def test_recover_takes_over_a_claim_whose_lease_lapsed(effects_db: Database) -> None:
    """The counterpart of the test above: the same live owner, once its lease lapsed, loses the process."""
    db = effects_db
    process_id = _start_claimed_by(OWNERS["live pid on this host"]())
    with db.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == process_id)
            .values(lease_until=datetime.now(UTC) - timedelta(minutes=1))
        )

    assert recover() == [process_id]

    assert process(db, process_id).last_status == "completed"
    assert [name for _, name, _ in history(db, process_id)] == ["Start", "Step one", "Step two", "Step three", "Done"]
    assert [step for step, _ in effects(db)] == ["step_one", "step_three", "step_two"]
