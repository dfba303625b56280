"""``orchestrion audit verify`` on both databases: intact chains verify OK with counts; an edited history row, a
deleted middle row, a history cut short and an edited or deleted audit entry are each reported, at the first
broken link, with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from orchestrion.db import Database
from orchestrion.db.models import AuditLogTable, ProcessStepTable
from orchestrion.services import audit
from orchestrion.services.processes import start_process
from orchestrion.services.subscriptions import set_in_sync
from orchestrion.storage.verify import Break, ChainReport
from orchestrion.types import State
from orchestrion.workflow import StepList, Workflow, begin, done, init, step, step_group

ORCHESTRION = Path(sys.executable).with_name("orchestrion")


@step("One")
def one() -> State:
    return {"one": 1, "nested": {"b": [1.5, "x"], "a": None}}


@step("Two")
def two() -> State:
    return {"two": "zwei"}


@step("Three")
def three(one: int) -> State:
    return {"three": one + 2}


def cli(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(DATABASE_URI=database.uri, LOG_LEVEL="WARNING")
    return subprocess.run([str(ORCHESTRION), *args], env=env, capture_output=True, text=True, timeout=120)


def verify(database: Database) -> subprocess.CompletedProcess[str]:
    return cli(database, "audit", "verify")


@pytest.fixture
def processes(database: Database, register: object) -> list[uuid.UUID]:
    """Two processes of a workflow with a step group (a row rewritten by each part) and a few audit entries."""
    steps: StepList = init >> one >> step_group("Group", begin >> two >> three) >> done
    register("verify_chain", steps)  # type: ignore[operator]
    started = [start_process("verify_chain") for _ in range(2)]
    for _ in range(3):
        with pytest.raises(Exception, match="not found"):
            set_in_sync(uuid.uuid4())  # refused: an entry each
    return started


def _steps(database: Database, process_id: uuid.UUID) -> list[ProcessStepTable]:
    with database.read() as s:
        rows = s.execute(select(ProcessStepTable).where(ProcessStepTable.process_id == process_id)).scalars()
        return sorted(rows, key=lambda r: r.seq)


def test_intact_chains_verify_ok_with_counts(database: Database, processes: list[uuid.UUID]) -> None:
    rows = _steps(database, processes[0])
    assert [r.name for r in rows] == ["Start", "One", "Group", "Done"]
    assert rows[0].prev_hash is None and [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]

    done_ = verify(database)

    assert done_.returncode == 0, done_.stderr
    assert done_.stdout.splitlines() == ["history: OK (8 rows of 2 processes)", "audit log: OK (3 entries)"]
    exported = [json.loads(line) for line in cli(database, "audit", "list", "--json").stdout.splitlines()]
    assert [(e["id"], e["action"], e["outcome"]) for e in exported] == [
        (n, "subscription.set_in_sync", "refused") for n in (3, 2, 1)
    ]
    assert exported[-1]["prev_hash"] is None and exported[0]["prev_hash"] == exported[1]["row_hash"]


def test_an_edited_history_row_is_reported(database: Database, processes: list[uuid.UUID]) -> None:
    edited = _steps(database, processes[1])[1]
    with database.write() as s:
        s.execute(update(ProcessStepTable).where(ProcessStepTable.step_id == edited.step_id).values(state={"one": 2}))

    done_ = verify(database)

    assert done_.returncode == 1
    assert f"history: BROKEN at process {processes[1]}, step 2 ({edited.step_id})" in done_.stderr
    assert "its content does not match its hash" in done_.stderr
    assert "audit log: OK (3 entries)" in done_.stdout


def test_a_deleted_middle_row_is_reported(database: Database, processes: list[uuid.UUID]) -> None:
    middle = _steps(database, processes[0])[1]
    with database.write() as s:
        s.execute(delete(ProcessStepTable).where(ProcessStepTable.step_id == middle.step_id))

    broken = audit.verify()[0].broken

    assert broken is not None and broken.chain == f"process {processes[0]}" and broken.row.startswith("step 3 ")
    assert broken.what == "step 2 is missing (deleted): the history jumps to step 3"


def test_renumbered_rows_and_a_history_cut_short_are_reported(database: Database, processes: list[uuid.UUID]) -> None:
    rows = _steps(database, processes[0])
    with database.write() as s:  # the middle row removed and the later ones renumbered: the link breaks
        s.execute(delete(ProcessStepTable).where(ProcessStepTable.step_id == rows[1].step_id))
        for row in rows[2:]:
            s.execute(update(ProcessStepTable).where(ProcessStepTable.step_id == row.step_id).values(seq=row.seq - 1))
    broken = audit.verify()[0].broken
    assert broken is not None and "but the row before it hashes to" in broken.what

    with database.write() as s:
        s.execute(delete(ProcessStepTable).where(ProcessStepTable.process_id == processes[0]))
    last = _steps(database, processes[1])[-1]
    with database.write() as s:
        s.execute(delete(ProcessStepTable).where(ProcessStepTable.step_id == last.step_id))
    broken = audit.verify()[0].broken
    assert broken == Break(f"process {processes[1]}", "step 3", "the process's last step is 4: rows are missing")

    with database.write() as s:
        s.execute(delete(ProcessStepTable).where(ProcessStepTable.process_id == processes[1]))
    broken = audit.verify()[0].broken  # no rows left at all: still told
    assert broken is not None and broken.what == "the process's last step is 4: rows are missing"


def test_an_edited_or_deleted_audit_entry_is_reported(database: Database, processes: list[uuid.UUID]) -> None:
    with database.write() as s:
        s.execute(update(AuditLogTable).where(AuditLogTable.id == 2).values(user="mallory"))
    done_ = verify(database)
    assert done_.returncode == 1
    assert "history: OK (8 rows of 2 processes)" in done_.stdout
    assert "audit log: BROKEN at audit log, entry 2: its content does not match its hash" in done_.stderr

    with database.write() as s:
        s.execute(delete(AuditLogTable).where(AuditLogTable.id == 2))
    assert audit.verify()[1].broken == Break("audit log", "entry 3", "entry 2 is missing (deleted)")

    with database.write() as s:
        s.execute(delete(AuditLogTable).where(AuditLogTable.id == 1))
    broken = audit.verify()[1].broken
    assert broken is not None and "entries before it are missing, and no retention sweep recorded" in broken.what


def test_deleting_a_process_removes_its_chain_and_says_so(database: Database, processes: list[uuid.UUID]) -> None:
    from orchestrion.services.processes import delete_process

    delete_process(processes[0])

    history, log = audit.verify()
    assert (history.broken, history.chains, history.rows) == (None, 1, 4)
    assert log.broken is None
    with database.read() as s:
        last = s.execute(select(AuditLogTable).order_by(AuditLogTable.id.desc()).limit(1)).scalar_one()
        assert s.execute(select(func.count()).select_from(AuditLogTable)).scalar_one() == 4
    assert (last.action, last.target_id, last.details["history_rows"]) == ("process.delete", str(processes[0]), 4)


def test_a_workflow_without_steps_of_its_own_has_a_chain_too(database: Database, register: object) -> None:
    wf: Workflow = register("verify_empty", init >> done)  # type: ignore[operator]
    process_id = start_process(wf.name)
    assert [r.prev_hash is None for r in _steps(database, process_id)] == [True, False]
    assert audit.verify()[0].broken is None


def test_the_migration_chains_the_rows_written_before_it(tmp_path: Path) -> None:
    from orchestrion.db.migrate import upgrade
    from orchestrion.db.models import ProcessTable, WorkflowTable
    from orchestrion.storage.verify import verify_history

    old = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(old, "0009")
    process_id, workflow_id, now = uuid.uuid4(), uuid.uuid4(), datetime.now(UTC)
    with old.engine.begin() as connection:
        connection.execute(insert(WorkflowTable.__table__).values(workflow_id=workflow_id, name="old", target="CREATE"))
        connection.execute(
            insert(ProcessTable.__table__).values(
                process_id=process_id,
                workflow_id=workflow_id,
                workflow_fingerprint="f",
                assignee="SYSTEM",
                last_status="completed",
                started_at=now,
                last_modified_at=now,
                is_task=False,
                state={},
                seq=3,
                abort_requested=False,
                retry_count=0,
            )
        )
        for seq, name in enumerate(("Start", "Work", "Done"), 1):
            connection.execute(
                insert(ProcessStepTable.__table__).values(
                    step_id=uuid.uuid4(),
                    process_id=process_id,
                    seq=seq,
                    name=name,
                    step_key=name,
                    status="success",
                    state={"n": seq},
                    started_at=now,
                    completed_at=now,
                )
            )

    upgrade(old, "heads")

    with old.read() as s:
        assert verify_history(s) == ChainReport(1, 3, None)
        rows = s.execute(select(ProcessStepTable).order_by(ProcessStepTable.seq)).scalars().all()
    assert rows[0].prev_hash is None and [r.prev_hash for r in rows[1:]] == [r.row_hash for r in rows[:-1]]
    old.dispose()
