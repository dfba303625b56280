"""Pure steps (``done``, ``abort``, ``init`` after a step) are written with the checkpoint of the step before
them where nothing stands in the way: the same rows, statuses and hash chain as a checkpoint each, one
statement fewer. An abort asked for or a pause met at that checkpoint still stops the process before them.
A process a free worker here runs at once is created running, with the rows of the pure steps it begins with.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from orchestrion import db
from orchestrion.db import Database, get_database
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.engine.outcomes import Success
from orchestrion.engine.runner import MemoryJournal, StepRecord, opening_records, pure_followers, run
from orchestrion.engine.steps import abort
from orchestrion.errors import EnginePausedError
from orchestrion.executors import set_executor
from orchestrion.executors.execution import execute_process
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.runtime import current
from orchestrion.services.audit import verify
from orchestrion.services.engine import pause_engine, unpause_engine
from orchestrion.services.processes import abort_process, resume_process, start_process, wait_for_process
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.types import State
from orchestrion.workflow import ProcessStatus, Workflow, done, init, step, step_group


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


def _with_row(wf: Workflow) -> Workflow:
    """Its ``workflows`` row, as any start but a workflow's very first finds it."""
    with get_database().write() as s:
        ensure_workflow_row(s, wf.name, wf.target, description=wf.description)
    return wf


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
    # one checkpoint wrote both: Done began when Provision ended, and took no time
    assert rows[2].started_at == rows[1].completed_at == rows[2].completed_at


@step("Write a row")
def write_a_row() -> State:
    db.session().execute(text("INSERT INTO ride_along_effects (name) VALUES ('written')"))
    return {"written": True}


@pytest.fixture
def effects(database: Database) -> Iterator[Callable[[], list[str]]]:
    with database.write() as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS ride_along_effects (name VARCHAR(50))"))
        s.execute(text("DELETE FROM ride_along_effects"))

    def read() -> list[str]:
        with database.read() as s:
            return [r[0] for r in s.execute(text("SELECT name FROM ride_along_effects"))]

    yield read
    with database.write() as s:
        s.execute(text("DROP TABLE IF EXISTS ride_along_effects"))


def test_done_is_written_in_the_transaction_of_a_step_that_used_the_database(
    database: Database, register: Callable[..., Workflow], effects: Callable[[], list[str]]
) -> None:
    register("ride_session", init >> write_a_row >> done)

    process_id = start_process("ride_session")

    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    assert effects() == ["written"]
    rows = _rows(process_id)
    assert [(r.name, r.status) for r in rows] == [
        ("Start", "success"),
        ("Write a row", "success"),
        ("Done", "complete"),
    ]
    assert rows[1].completed_at == rows[2].started_at == rows[2].completed_at
    assert verify([process_id])[0].broken is None


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


@step("Provision again")
def provision_again() -> State:
    return {"again": True}


def test_a_process_created_running_has_the_rows_of_the_pure_steps_it_begins_with(
    database: Database, register: Callable[..., Workflow]
) -> None:
    wf = _with_row(register("ride_opening", init >> init >> provision >> done))
    executor = ThreadPoolExecutor(current(), max_workers=1)
    set_executor(executor)  # the database fixture shuts it down at teardown
    assert executor.lease is not None
    process_id = uuid.uuid4()
    state = {"process_id": str(process_id), "reporter": "tester", "customer": "c1"}
    opening = opening_records(wf, state)
    assert [(r.step_name, r.path, r.cursor) for r in opening] == [
        ("Start", ("Start",), ("Start#2",)),
        ("Start", ("Start#2",), ("Provision",)),
    ]

    claim = current().store.create_process(
        wf, state, {"customer": "c1"}, "tester", worker_id=executor.worker_id, lease=executor.lease, opening=opening
    )

    assert (claim.cursor, claim.seq, claim.last_row_key, claim.state["customer"]) == (
        ("Provision",),
        2,
        "Start#2",
        "c1",
    )
    p = _process(process_id)
    assert (p.last_status, p.last_step, p.cursor, p.seq, p.last_row_key, p.claimed_by) == (
        "running",
        "Start",
        ["Provision"],
        2,
        "Start#2",
        executor.worker_id,
    )
    rows = _rows(process_id)
    assert [(r.seq, r.name, r.status, r.created_by, r.action) for r in rows] == [
        (1, "Start", "success", "tester", "start"),
        (2, "Start", "success", "tester", "start"),
    ]
    assert rows[1].state["customer"] == "c1"
    assert verify([process_id])[0].broken is None

    executor.submit(process_id, claim)  # the run goes on from there, and its chain from theirs
    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    assert [r.name for r in _rows(process_id)] == ["Start", "Start", "Provision", "Done"]
    assert verify([process_id])[0].broken is None


def test_a_process_for_workers_elsewhere_is_created_waiting_with_the_rows_of_its_opening_steps(
    database: Database, register: Callable[..., Workflow]
) -> None:
    """As a start with Celery creates it: unclaimed and ``created``, its Start written, for a worker to go on from."""
    wf = _with_row(register("ride_elsewhere", init >> provision >> done))
    process_id = uuid.uuid4()
    state = {"process_id": str(process_id), "reporter": "tester"}
    opening = opening_records(wf, state)
    current().store.create_process(wf, state, {}, "tester", worker_id=None, lease=timedelta(0), opening=opening)

    p = _process(process_id)
    assert (p.last_status, p.last_step, p.cursor, p.seq, p.claimed_by, p.lease_until) == (
        "created",
        "Start",
        ["Provision"],
        1,
        None,
        None,
    )
    assert [(r.seq, r.name, r.status) for r in _rows(process_id)] == [(1, "Start", "success")]
    # a worker elsewhere claims it and goes on from the next step, and its chain from that row
    assert execute_process(process_id, "elsewhere-1", timedelta(seconds=10)) is not None
    assert _process(process_id).last_status == "completed"
    assert [r.name for r in _rows(process_id)] == ["Start", "Provision", "Done"]
    assert verify([process_id])[0].broken is None


@step("Wait for the test")
def wait_for_the_test() -> State:
    assert released.wait(10), "the test did not let the step go on"
    return {}


released = threading.Event()


def test_a_process_no_free_worker_runs_is_created_as_before(
    database: Database, register: Callable[..., Workflow]
) -> None:
    _with_row(register("ride_busy", init >> wait_for_the_test >> done))
    _with_row(register("ride_queued", init >> provision >> done))
    executor = ThreadPoolExecutor(current(), max_workers=1)
    set_executor(executor)  # the database fixture shuts it down at teardown
    released.clear()
    try:
        busy = start_process("ride_busy")
        assert _process(busy).last_status == "running"  # created running: the one thread was free
        assert not executor.runs_at_once()

        queued = start_process("ride_queued")
        p = _process(queued)
        assert (p.last_status, p.seq, p.cursor) == ("created", 0, ["Start"])
        assert _rows(queued) == []
    finally:
        released.set()
    assert wait_for_process(busy, 10) == wait_for_process(queued, 10) == ProcessStatus.COMPLETED
    assert [r.name for r in _rows(queued)] == ["Start", "Provision", "Done"]


@pytest.fixture
def free_worker(database: Database) -> ThreadPoolExecutor:
    executor = ThreadPoolExecutor(current(), max_workers=1)
    set_executor(executor)  # the database fixture shuts it down at teardown
    return executor


def _create_running(wf: Workflow, worker: ThreadPoolExecutor, **kwargs: object) -> uuid.UUID:
    """Create a process as a start with ``worker`` free does (without running it)."""
    assert worker.lease is not None
    process_id = uuid.uuid4()
    state = {"process_id": str(process_id), "reporter": "tester"}
    current().store.create_process(
        wf,
        state,
        {},
        "tester",
        worker_id=worker.worker_id,
        lease=worker.lease,
        opening=opening_records(wf, state),
        **kwargs,  # type: ignore[arg-type]
    )
    return process_id


def test_a_workflows_first_process_is_created_running_with_its_workflows_row(
    register: Callable[..., Workflow], free_worker: ThreadPoolExecutor
) -> None:
    wf = register("ride_first", init >> provision >> done)  # no workflows row yet

    process_id = _create_running(wf, free_worker)

    p = _process(process_id)
    assert (p.last_status, p.cursor, p.seq, p.workflow.name) == ("running", ["Provision"], 1, "ride_first")
    rows = _rows(process_id)
    assert [(r.seq, r.name) for r in rows] == [(1, "Start")]
    assert p.started_at == rows[0].started_at, "created when its opening step ran, not after it"


def test_work_that_commits_with_a_process_created_running_commits_with_its_rows(
    register: Callable[..., Workflow], free_worker: ThreadPoolExecutor
) -> None:
    wf = _with_row(register("ride_within", init >> provision >> done))
    seen: list[tuple[int, datetime]] = []

    def within(session: Session, created_at: datetime) -> None:  # in the creating transaction: the rows are there
        seen.append((len(session.execute(text("SELECT seq FROM process_steps")).all()), created_at))

    process_id = _create_running(wf, free_worker, within=within)
    p = _process(process_id)
    assert seen == [(1, p.started_at)], "given the instant the process was created at: its opening row's start"
    assert p.last_status == "running"

    def refuse(session: Session, created_at: datetime) -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        _create_running(wf, free_worker, within=refuse)
    with get_database().read() as s:  # neither the refused process nor its rows were written
        assert s.scalar(text("SELECT count(*) FROM processes")) == 1
        assert s.scalar(text("SELECT count(*) FROM process_steps")) == 1


def test_a_paused_engine_creates_no_process_running(
    register: Callable[..., Workflow], free_worker: ThreadPoolExecutor, unpaused: None
) -> None:
    wf = _with_row(register("ride_paused", init >> provision >> done))
    pause_engine()

    with pytest.raises(EnginePausedError):
        _create_running(wf, free_worker)
    with get_database().read() as s:
        assert s.scalar(text("SELECT count(*) FROM processes")) == 0
        assert s.scalar(text("SELECT count(*) FROM process_steps")) == 0


def test_a_group_of_pure_steps_after_init_runs_part_by_part(
    register: Callable[..., Workflow], free_worker: ThreadPoolExecutor
) -> None:
    # each part of a group updates the group's one row: none is written with another step's row
    register("ride_group", init >> step_group("Checks", init >> init) >> provision >> done)

    process_id = start_process("ride_group")

    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    assert [(r.seq, r.name, r.status) for r in _rows(process_id)] == [
        (1, "Start", "success"),
        (2, "Checks", "success"),
        (3, "Provision", "success"),
        (4, "Done", "complete"),
    ]
    assert verify([process_id])[0].broken is None


def test_a_keyed_start_is_created_running_with_its_key(
    register: Callable[..., Workflow], free_worker: ThreadPoolExecutor
) -> None:
    _with_row(register("ride_keyed", init >> provision >> done))

    process_id = start_process("ride_keyed", idempotency_key="order-17")

    assert wait_for_process(process_id, 10) == ProcessStatus.COMPLETED
    rows = _rows(process_id)
    # created running: the process began when its Start did (a run after the creation would begin later)
    assert _process(process_id).started_at == rows[0].started_at
    assert [r.name for r in rows] == ["Start", "Provision", "Done"]
    assert start_process("ride_keyed", idempotency_key="order-17") == process_id  # the key committed with it
