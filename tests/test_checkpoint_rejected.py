"""A checkpoint the database refuses fails the step with the reason: it is never re-run for ever."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from orchestrion import db
from orchestrion.db import Database
from orchestrion.db.models import ProcessStepTable, ProcessTable, WorkflowTable
from orchestrion.db.types import utcnow
from orchestrion.testing import WorkflowInstanceForTests, assert_complete, assert_failed, extract_error, run_workflow
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow

RUNS = {"count": 0}


@step("Add a duplicate row")
def add_duplicate() -> State:
    RUNS["count"] += 1
    # Flushed only when the checkpoint commits: the unique name clashes there, not in the step.
    db.session().add(
        WorkflowTable(
            workflow_id=uuid.uuid4(),
            name="rejected",
            target="SYSTEM",
            description="",
            is_task=True,
            created_at=utcnow(),
        )
    )
    return {"added": True}


@workflow("Rejected")
def rejected() -> StepList:
    return init >> add_duplicate >> done


@step("Return a NUL character")
def return_nul() -> State:
    return {"text": "a\x00b"}


@workflow("Nul")
def nul() -> StepList:
    return init >> return_nul >> done


def test_a_constraint_broken_at_commit_fails_the_step_once(database: Database) -> None:
    RUNS["count"] = 0
    with WorkflowInstanceForTests(rejected, "rejected"):
        result, process, log = run_workflow("rejected", [{}])
    assert_failed(result)
    assert "refused" in (extract_error(result) or "")
    assert RUNS["count"] == 1
    assert [(entry.name, entry.status) for entry in log] == [("Start", "success"), ("Add a duplicate row", "failed")]
    with database.read() as session:
        p = session.get(ProcessTable, process.process_id)
        assert p is not None and p.last_status == "failed" and p.claimed_by is None
        assert session.execute(select(func.count()).select_from(ProcessStepTable)).scalar_one() == 2


def test_a_value_the_database_cannot_store(database: Database) -> None:
    with WorkflowInstanceForTests(nul, "nul"):
        result, _, _ = run_workflow("nul", [{}])
    if database.is_sqlite:
        assert_complete(result)  # SQLite stores NUL characters
    else:
        assert_failed(result)  # PostgreSQL's jsonb refuses them
        assert "refused" in (extract_error(result) or "")
