"""Pure steps (``done``, ``abort``, ``init`` after a step) are written with the checkpoint of the step before
them where nothing stands in the way: the same rows, statuses and hash chain as a checkpoint each, one
statement fewer. An abort asked for or a pause met at that checkpoint still stops the process before them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from orchestrion.db import Database, get_database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.engine.outcomes import Success
from orchestrion.engine.runner import MemoryJournal, StepRecord, pure_followers, run
from orchestrion.engine.steps import abort
from orchestrion.services.audit import verify
from orchestrion.services.engine import pause_engine, unpause_engine
from orchestrion.services.processes import abort_process, resume_process, start_process, wait_for_process
from orchestrion.types import State
from orchestrion.workflow import ProcessStatus, Workflow, done, init, step


@step("Provision")
def provision() -> State:
    return {"provisioned": True}


@step("Ask for an abort")
def ask_for_an_abort(process_id: str) -> State:
    abort_process(uuid.UUID(process_id), user="operator")
    return {"asked": True}


@step("Pause the engine")
def pause_the_engine() -> State:
    pause_engine()
    return {"paused_here": True}


@pytest.fixture
def unpaused(database: Database) -> Iterator[None]:
    yield
    unpause_engine()


def _rows(process_id: uuid.UUID) -> list[ProcessStepTable]:
    with get_database().read() as s:
        return list(
            s.scalars(
                select(ProcessStepTable).where(ProcessStepTable.process_id == process_id).order_by(ProcessStepTable.seq)
            )
        )


def _process(process_id: uuid.UUID) -> ProcessTable:
    with get_database().read() as s:
        found = s.get(ProcessTable, process_id)
        assert found is not None
        return found


def test_done_is_written_with_the_last_step(database: Database, register: Callable[..., Workflow]) -> None:
    register("ride_done", init >> provision >> done)

    process_id = start_process("ride_done")

    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    rows = _rows(process_id)
    assert [(r.seq, r.name, r.status) for r in rows] == [
        (1, "Start", "success"),
        (2, "Provision", "success"),
        (3, "Done", "complete"),
    ]
    assert rows[2].state == rows[1].state and rows[2].state["provisioned"] is True
    p = _process(process_id)
    assert (p.last_status, p.last_step, p.seq, p.cursor, p.claimed_by) == ("completed", "Done", 3, None, None)
    assert p.state["provisioned"] is True
    assert verify([process_id])[0].broken is None
    if not database.is_sqlite:  # one statement wrote both: Done began when Provision ended, and took no time
        assert rows[2].started_at == rows[1].completed_at == rows[2].completed_at


def test_consecutive_pure_steps_ride_along_to_the_end(database: Database, register: Callable[..., Workflow]) -> None:
    register("ride_abort", init >> provision >> init >> abort)

    process_id = start_process("ride_abort")

    assert wait_for_process(process_id, 10) == ProcessStatus.ABORTED
    rows = _rows(process_id)
    assert [(r.name, r.status) for r in rows] == [
        ("Start", "success"),
        ("Provision", "success"),
        ("Start", "success"),
        ("Abort", "abort"),
    ]
    assert [r.step_key for r in rows] == ["Start", "Provision", "Start#2", "Abort"]
    assert verify([process_id])[0].broken is None
    if not database.is_sqlite:
        assert rows[1].completed_at == rows[2].started_at == rows[3].completed_at


def test_an_abort_asked_for_during_the_last_step_ends_the_process_before_done(
    database: Database, register: Callable[..., Workflow]
) -> None:
    register("ride_abort_asked", init >> ask_for_an_abort >> done)

    process_id = start_process("ride_abort_asked")

    assert wait_for_process(process_id, 10) == ProcessStatus.ABORTED
    assert [(r.name, r.status, r.created_by) for r in _rows(process_id)][1:] == [
        ("Ask for an abort", "success", "SYSTEM"),
        ("User Aborted", "abort", "operator"),
    ]
    assert verify([process_id])[0].broken is None


def test_a_pause_met_at_the_last_step_hands_the_process_back_before_done(
    database: Database, register: Callable[..., Workflow], unpaused: None
) -> None:
    register("ride_paused", init >> pause_the_engine >> done)

    process_id = start_process("ride_paused")

    assert wait_for_process(process_id, 10) == ProcessStatus.RUNNING
    p = _process(process_id)
    assert (p.cursor, p.claimed_by, p.last_step) == (["Done"], None, "Pause the engine")
    assert [r.name for r in _rows(process_id)] == ["Start", "Pause the engine"]

    assert unpause_engine() == 1
    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    assert [r.name for r in _rows(process_id)] == ["Start", "Pause the engine", "Done"]
    assert verify([process_id])[0].broken is None


@step("Fail once")
def fail_once(attempts: int = 0) -> State:
    if attempts == 0:
        raise ValueError("not yet")
    return {"fixed": True}


@step("Count the attempt")
def count_the_attempt(attempts: int = 0) -> State:
    return {"attempts": attempts + 1}


def test_a_failed_step_takes_no_followers_and_its_retry_does(
    database: Database, register: Callable[..., Workflow]
) -> None:
    register("ride_retry", init >> fail_once >> done)

    process_id = start_process("ride_retry")
    assert wait_for_process(process_id, 10) == ProcessStatus.FAILED
    assert [(r.name, r.status) for r in _rows(process_id)] == [("Start", "success"), ("Fail once", "failed")]

    with get_database().write() as s:  # what an operator's fix would be: the state the retry runs on
        p = s.get(ProcessTable, process_id)
        assert p is not None
        p.state = {**p.state, "attempts": 1}
    resume_process(process_id)
    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    rows = _rows(process_id)
    assert [(r.name, r.status) for r in rows] == [
        ("Start", "success"),
        ("Fail once", "failed"),
        ("Fail once", "success"),
        ("Done", "complete"),
    ]
    assert verify([process_id])[0].broken is None
    if not database.is_sqlite:
        assert rows[2].completed_at == rows[3].started_at


def test_pure_followers_stop_at_a_step_that_does_something() -> None:
    wf = Workflow("ride_followers", "Followers", init >> count_the_attempt >> init >> count_the_attempt >> done)
    journal = MemoryJournal()

    outcome = run(wf, ("Start",), {}, journal)

    assert outcome.s["attempts"] == 2
    names = [r.step_name for r in journal.records]
    assert names == ["Start", "Count the attempt", "Start", "Count the attempt", "Done"]
    first, after_first = journal.records[0], journal.records[1]
    assert pure_followers(wf, first, _success(first)) == ()  # Count the attempt is no pure step
    found = pure_followers(wf, after_first, _success(after_first))
    assert [(r.step_name, r.path, r.cursor) for r, _ in found] == [("Start", ("Start#2",), ("Count the attempt#2",))]


def _success(record: StepRecord) -> Success:
    return Success(record.row_state)
