"""Steering processes on both databases: abort, engine pause, changed workflows, delete and wait.

Where the feature is about a process running in a worker thread, a real ThreadPoolExecutor runs it
and a step is held "in the middle" with Events, so the interleaving is deterministic.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select
from tests.process_support import history, process_row

from orchestrion.db import Database, get_database
from orchestrion.db.models import InputStateTable, ProcessStepTable, ProcessTable
from orchestrion.errors import (
    EnginePausedError,
    ProcessConflictError,
    ProcessNotFoundError,
    ProcessNotResumableError,
    WorkflowChangedError,
)
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import SubmitFormPage
from orchestrion.runtime import current
from orchestrion.services.engine import is_engine_paused, pause_engine, unpause_engine
from orchestrion.services.processes import (
    abort_process,
    delete_process,
    resume_process,
    start_process,
    wait_for_process,
)
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import (
    ProcessStatus,
    StepList,
    Workflow,
    callback_step,
    done,
    init,
    inputstep,
    retrystep,
    step,
)
from orchestrion.workflows import unregister_workflow

calls: Counter[str] = Counter()


class Gate:
    """Holds a step in the middle: the step sets ``entered`` and waits (bounded) for ``release``."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(60), "the test never released the step"


gate = Gate()


@pytest.fixture(autouse=True)
def _reset(database: Database) -> Iterator[None]:
    """Depends on ``database`` so a held step is released before the fixture shuts the executor down."""
    global gate
    calls.clear()
    gate = Gate()
    yield
    gate.release.set()  # never leave a worker thread waiting, even when the test failed


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait (bounded) for a worker to reach a state; woken whenever a worker stops working on a process."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the worker did not get there in time"
        time.sleep(0.005)


@step("Hold")
def hold() -> State:
    calls["Hold"] += 1
    gate.hold()
    return {"held": True}


@step("One")
def one() -> State:
    calls["One"] += 1
    return {"one": 1}


@step("Two")
def two() -> State:
    calls["Two"] += 1
    return {"two": 2}


@step("After")
def after() -> State:
    calls["After"] += 1
    return {"after": True}


@step("New before")
def new_before() -> State:
    calls["New before"] += 1
    return {"new_before": True}


@step("New after")
def new_after(approved: bool) -> State:
    calls["New after"] += 1
    return {"new_after": approved}


@step("Explode")
def explode() -> None:
    raise ValueError("the cable is cut")


@retrystep("Flaky")
def flaky() -> None:
    raise ConnectionError("API down")


@step("Send order")
def send_order(callback_route: str) -> State:
    return {"order_sent": True}


@inputstep("Approve")
def approve_form() -> FormGenerator:
    class ApproveForm(SubmitFormPage):
        approved: bool

    user_input = yield ApproveForm
    return user_input.model_dump()


def _threadpool() -> ThreadPoolExecutor:
    executor = ThreadPoolExecutor(current(), max_workers=2)
    set_executor(executor)  # the database fixture shuts it down at teardown
    return executor


def _stopped_by_pause(register: Callable[[str, StepList], Workflow], name: str) -> tuple[ThreadPoolExecutor, uuid.UUID]:
    """A process of ``init >> Hold >> After >> Two >> done`` that the paused engine stopped before ``After``."""
    register(name, init >> hold >> after >> two >> done)
    executor = _threadpool()
    process_id = start_process(name, [{}])
    assert gate.entered.wait(10)
    pause_engine()
    gate.release.set()
    wait_until(lambda: not executor.owned())
    return executor, process_id


# --- abort ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "status"),
    [
        (init >> one >> approve_form >> done, "suspended"),
        (init >> one >> explode >> done, "failed"),
        (init >> one >> flaky >> done, "waiting"),
        (init >> one >> callback_step("Order", send_order, two) >> done, "awaiting_callback"),
    ],
    ids=["suspended", "failed", "waiting", "awaiting_callback"],
)
def test_abort_a_stopped_process(register: Callable[[str, StepList], Workflow], steps: StepList, status: str) -> None:
    register("ctl_abort", steps)
    process_id = start_process("ctl_abort", [{}])
    assert process_row(process_id).last_status == status
    rows_before = history(process_id)

    assert abort_process(process_id, user="operator") == ProcessStatus.ABORTED

    p = process_row(process_id)
    assert (p.last_status, p.last_step, p.cursor, p.callback_token, p.claimed_by) == (
        "aborted",
        "User Aborted",
        None,
        None,
        None,
    )
    assert history(process_id) == [*rows_before, ("User Aborted", "abort")]
    with get_database().read() as s:
        abort_row = s.execute(
            select(ProcessStepTable).where(ProcessStepTable.process_id == process_id, ProcessStepTable.seq == p.seq)
        ).scalar_one()
    assert (abort_row.name, abort_row.created_by, abort_row.state["one"]) == ("User Aborted", "operator", 1)

    with pytest.raises(ProcessNotResumableError):
        resume_process(process_id, [{"approved": True}])
    assert abort_process(process_id) == ProcessStatus.ABORTED
    assert len(history(process_id)) == len(rows_before) + 1, "a second abort writes nothing"


def test_abort_a_completed_process_changes_nothing(register: Callable[[str, StepList], Workflow]) -> None:
    register("ctl_completed", init >> one >> done)
    process_id = start_process("ctl_completed", [{}])
    rows_before = history(process_id)

    assert abort_process(process_id) == ProcessStatus.COMPLETED

    assert process_row(process_id).last_status == "completed"
    assert history(process_id) == rows_before


def test_abort_while_a_step_runs_takes_effect_at_the_next_boundary(
    register: Callable[[str, StepList], Workflow],
) -> None:
    register("ctl_abort_running", init >> hold >> after >> done)
    executor = _threadpool()
    process_id = start_process("ctl_abort_running", [{}])
    assert gate.entered.wait(10)

    assert abort_process(process_id, user="operator") == ProcessStatus.RUNNING

    p = process_row(process_id)
    assert (p.last_status, p.abort_requested) == ("running", True)
    with pytest.raises(ProcessConflictError):
        delete_process(process_id)

    gate.release.set()

    assert wait_for_process(process_id, timeout=10) == ProcessStatus.ABORTED
    executor.shutdown(wait=True)  # the worker is gone: nothing can overwrite the abort any more
    p = process_row(process_id)
    assert (p.last_status, p.abort_requested, p.claimed_by, p.cursor) == ("aborted", False, None, None)
    assert calls == {"Hold": 1}, "the step after the abort never ran"
    assert history(process_id) == [("Start", "success"), ("Hold", "success"), ("User Aborted", "abort")]


# --- engine pause --------------------------------------------------------------------------------


def test_pause_stops_at_the_next_boundary_and_unpause_continues(
    register: Callable[[str, StepList], Workflow],
) -> None:
    register("ctl_waiting_for_input", init >> approve_form >> done)
    suspended = start_process("ctl_waiting_for_input", [{}])

    _, process_id = _stopped_by_pause(register, "ctl_pause")

    assert is_engine_paused()
    p = process_row(process_id)
    assert (p.last_status, p.claimed_by, p.cursor) == ("running", None, ["After"])
    assert calls == {"Hold": 1}
    assert history(process_id) == [("Start", "success"), ("Hold", "success")]
    with pytest.raises(EnginePausedError):
        start_process("ctl_pause", [{}])
    with pytest.raises(EnginePausedError):
        resume_process(suspended, [{"approved": True}])
    assert process_row(suspended).last_status == "suspended"

    assert unpause_engine() == 1

    assert not is_engine_paused()
    assert wait_for_process(process_id, timeout=10) == ProcessStatus.COMPLETED
    assert calls == {"Hold": 1, "After": 1, "Two": 1}
    assert history(process_id) == [
        ("Start", "success"),
        ("Hold", "success"),
        ("After", "success"),
        ("Two", "success"),
        ("Done", "complete"),
    ]
    resume_process(suspended, [{"approved": True}])
    assert wait_for_process(suspended, timeout=10) == ProcessStatus.COMPLETED


def test_abort_a_process_stopped_by_the_pause(register: Callable[[str, StepList], Workflow]) -> None:
    _, process_id = _stopped_by_pause(register, "ctl_pause_abort")

    assert abort_process(process_id) == ProcessStatus.ABORTED, "no worker owns it, so the abort is immediate"
    assert unpause_engine() == 0

    assert process_row(process_id).last_status == "aborted"
    assert calls == {"Hold": 1}
    assert history(process_id)[-1] == ("User Aborted", "abort")


# --- changed workflows ---------------------------------------------------------------------------


def test_a_changed_workflow_continues_by_step_identity(register: Callable[[str, StepList], Workflow]) -> None:
    old = register("ctl_changing", init >> one >> approve_form >> two >> done)
    process_id = start_process("ctl_changing", [{}])
    assert process_row(process_id).workflow_fingerprint == old.fingerprint

    unregister_workflow("ctl_changing")
    new = register("ctl_changing", init >> one >> new_before >> approve_form >> new_after >> two >> done)
    assert new.fingerprint != old.fingerprint

    resume_process(process_id, [{"approved": True}])

    p = process_row(process_id)
    assert p.last_status == "completed"
    assert p.workflow_fingerprint == new.fingerprint
    assert calls == {"One": 1, "New after": 1, "Two": 1}, "a step inserted before the resume point does not run"
    assert p.state["new_after"] is True
    assert history(process_id) == [
        ("Start", "success"),
        ("One", "success"),
        ("Approve", "suspend"),
        ("Approve", "success"),
        ("New after", "success"),
        ("Two", "success"),
        ("Done", "complete"),
    ]


def test_a_process_whose_next_step_was_removed_fails(register: Callable[[str, StepList], Workflow]) -> None:
    _, process_id = _stopped_by_pause(register, "ctl_removed")
    unregister_workflow("ctl_removed")
    new = register("ctl_removed", init >> hold >> two >> done)

    assert unpause_engine() == 1

    assert wait_for_process(process_id, timeout=10) == ProcessStatus.FAILED
    p = process_row(process_id)
    assert p.failed_reason is not None
    assert "'After' no longer exists" in p.failed_reason
    assert p.workflow_fingerprint != new.fingerprint, "the step list it ran under stays: a retry checks again"
    assert calls == {"Hold": 1}, "nothing ran in the changed workflow"
    assert history(process_id) == [("Start", "success"), ("Hold", "success")]

    with pytest.raises(WorkflowChangedError):
        resume_process(process_id, [{}])
    assert abort_process(process_id) == ProcessStatus.ABORTED


def test_resume_at_a_removed_input_step_is_refused(register: Callable[[str, StepList], Workflow]) -> None:
    register("ctl_removed_input", init >> one >> approve_form >> two >> done)
    process_id = start_process("ctl_removed_input", [{}])
    seq = process_row(process_id).seq
    unregister_workflow("ctl_removed_input")
    register("ctl_removed_input", init >> one >> two >> done)

    with pytest.raises(WorkflowChangedError):
        resume_process(process_id, [{"approved": True}])

    p = process_row(process_id)
    assert (p.last_status, p.seq) == ("suspended", seq)
    assert calls == {"One": 1}


# --- delete and wait -----------------------------------------------------------------------------


def _count(table: type[ProcessTable | ProcessStepTable | InputStateTable], process_id: uuid.UUID) -> int:
    with get_database().read() as s:
        return s.execute(select(func.count()).select_from(table).where(table.process_id == process_id)).scalar_one()


def test_delete_process_removes_it_and_its_rows(register: Callable[[str, StepList], Workflow]) -> None:
    register("ctl_delete", init >> one >> approve_form >> done)
    doomed = start_process("ctl_delete", [{}])
    kept = start_process("ctl_delete", [{}])
    resume_process(doomed, [{"approved": False}])

    delete_process(doomed)

    for table in (ProcessTable, ProcessStepTable, InputStateTable):
        assert _count(table, doomed) == 0
    assert (_count(ProcessTable, kept), _count(ProcessStepTable, kept), _count(InputStateTable, kept)) == (1, 3, 1)
    with pytest.raises(ProcessNotFoundError):
        wait_for_process(doomed, timeout=1)
    with pytest.raises(ProcessNotFoundError):
        delete_process(doomed)
    with pytest.raises(ProcessNotFoundError):
        abort_process(doomed)


def test_wait_for_process_returns_the_final_status(register: Callable[[str, StepList], Workflow]) -> None:
    register("ctl_wait_done", init >> one >> done)
    register("ctl_wait_input", init >> approve_form >> done)
    register("ctl_wait_fail", init >> explode >> done)
    _threadpool()

    started = {name: start_process(name, [{}]) for name in ("ctl_wait_done", "ctl_wait_input", "ctl_wait_fail")}

    assert wait_for_process(started["ctl_wait_done"], timeout=10) == ProcessStatus.COMPLETED
    assert wait_for_process(started["ctl_wait_input"], timeout=10) == ProcessStatus.SUSPENDED
    assert wait_for_process(started["ctl_wait_fail"], timeout=10) == ProcessStatus.FAILED


def test_waiting_for_a_process_run_here_reads_its_status_only_at_the_deadline(
    register: Callable[[str, StepList], Workflow], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker here has it in hand, so its stop wakes the waiter: no query every 50 ms meanwhile."""
    register("ctl_wait_held", init >> hold >> done)
    _threadpool()
    store = current().store
    reads: list[uuid.UUID] = []
    read = store.last_status
    monkeypatch.setattr(store, "last_status", lambda process_id: reads.append(process_id) or read(process_id))

    process_id = start_process("ctl_wait_held", [{}])
    assert gate.entered.wait(10)

    assert wait_for_process(process_id, timeout=0.3) == ProcessStatus.RUNNING
    assert reads == [process_id]  # once, when the time was up
    gate.release.set()
    assert wait_for_process(process_id, timeout=10) == ProcessStatus.COMPLETED


X_CALLS = {"count": 0}


@step("X")
def repeated_x() -> State:
    X_CALLS["count"] += 1
    if X_CALLS["count"] == 2:
        raise RuntimeError("second X fails once")
    return {}


@step("Y")
def inserted_y() -> State:
    return {}


def test_a_changed_workflow_is_refused_when_the_next_step_is_one_of_several_of_its_name(database: Database) -> None:
    """'X#2' meant the second X of the old list; in the changed list that may be another step."""
    X_CALLS["count"] = 0
    old = Workflow("repeats", "", init >> repeated_x >> repeated_x >> done)
    changed = Workflow("repeats", "", init >> repeated_x >> inserted_y >> repeated_x >> repeated_x >> done)
    with WorkflowInstanceForTests(old, "repeats"):
        process_id = start_process("repeats", [{}])
    assert wait_for_process(process_id, 5) == "failed"
    with WorkflowInstanceForTests(changed, "repeats"):
        resume_process(process_id, [{}])
    with database.read() as session:
        p = session.get(ProcessTable, process_id)
        assert p is not None and p.last_status == "failed"
        assert "one of several steps of that name" in (p.failed_reason or "")
    assert X_CALLS["count"] == 2  # nothing ran after the change
