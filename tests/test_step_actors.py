"""Who did it, per step: every history row names the actor and the action of the run that wrote it.

On both databases: a start by a user, a resume with input by another, a retry by a third, a
callback, a queued abort by an operator while the process runs (the requester, not the creator),
a takeover of a claim whose lease lapsed, and an automatic retry by the scheduler. The crash
itself (a worker killed mid-step) is covered in ``test_crash_recovery``.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.process_support import process_row, step_rows

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database, get_database
from orchestrion.db.models import ProcessTable
from orchestrion.executors import set_executor
from orchestrion.executors.threadpool import ThreadPoolExecutor
from orchestrion.forms import SubmitFormPage
from orchestrion.runtime import current
from orchestrion.services import audit
from orchestrion.services.processes import (
    abort_process,
    deliver_callback,
    recover,
    resume_process,
    start_process,
    wait_for_process,
)
from orchestrion.settings import AppSettings
from orchestrion.storage.claims import Claim
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

tries: Counter[str] = Counter()
release = threading.Event()
entered = threading.Event()


@pytest.fixture(autouse=True)
def _reset(database: Database) -> Iterator[None]:
    global release, entered
    tries.clear()
    release, entered = threading.Event(), threading.Event()
    yield
    release.set()  # never leave a worker thread waiting


def actors(process_id: uuid.UUID) -> list[tuple[str, str, str | None, str | None]]:
    """(name, status, created_by, action) of every history row, in order; its hash chain holds, whichever
    transitions wrote them (resumes, retries, callbacks, aborts, takeovers)."""
    assert audit.verify([process_id])[0].broken is None
    return [(r.name, r.status, r.created_by, r.action) for r in step_rows(process_id)]


@step("One")
def one() -> State:
    return {"one": 1}


@inputstep("Approve")
def approve() -> FormGenerator:
    class ApproveForm(SubmitFormPage):
        approved: bool

    answer = yield ApproveForm
    return answer.model_dump()


@step("Fails once")
def fails_once(process_id: uuid.UUID) -> State:
    tries[str(process_id)] += 1
    if tries[str(process_id)] == 1:
        raise ValueError("the cable is cut")
    return {"fixed": True}


@retrystep("Flaky once")
def flaky_once(process_id: uuid.UUID) -> State:
    tries[str(process_id)] += 1
    if tries[str(process_id)] == 1:
        raise ConnectionError("API down")
    return {"reached": True}


@step("Send order")
def send_order(callback_route: str) -> State:
    return {"order_sent": True}


@step("Check order")
def check_order(callback_result: dict[str, Any]) -> State:
    return {"confirmed": callback_result["ok"]}


@step("Hold")
def hold() -> State:
    entered.set()
    assert release.wait(60), "the test never released the step"
    return {"held": True}


def test_start_resume_and_retry_each_name_their_user(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_flow", init >> one >> approve >> fails_once >> done)
    process_id = start_process("actors_flow", [{}], user="alice")
    assert process_row(process_id).last_status == "suspended"

    resume_process(process_id, [{"approved": True}], user="bob")
    assert process_row(process_id).last_status == "failed"
    resume_process(process_id, user="carol")

    p = process_row(process_id)
    assert (p.last_status, p.created_by) == ("completed", "alice")  # the process keeps its creator
    assert actors(process_id) == [
        ("Start", "success", "alice", "start"),
        ("One", "success", "alice", "start"),
        ("Approve", "suspend", "alice", "start"),
        ("Approve", "success", "bob", "resume"),
        ("Fails once", "failed", "bob", "resume"),
        ("Fails once", "success", "carol", "retry"),
        ("Done", "complete", "carol", "retry"),
    ]


def test_a_callback_names_itself_on_the_group_row(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_callback", init >> callback_step("Order", send_order, check_order) >> done)
    process_id = start_process("actors_callback", [{}], user="alice")
    p = process_row(process_id)
    assert p.last_status == "awaiting_callback" and p.callback_token
    assert actors(process_id)[-1] == ("Order", "awaiting_callback", "alice", "start")

    deliver_callback(process_id, p.callback_token, {"ok": True})

    assert process_row(process_id).last_status == "completed"
    assert actors(process_id) == [
        ("Start", "success", "alice", "start"),
        ("Order", "success", "callback", "callback"),  # the group's row names who moved it on last
        ("Done", "complete", "callback", "callback"),
    ]


def test_an_abort_names_the_operator_who_asked_for_it(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_abort_now", init >> approve >> done)
    process_id = start_process("actors_abort_now", [{}], user="alice")

    assert abort_process(process_id, user="operator") == ProcessStatus.ABORTED

    assert actors(process_id)[-1] == ("User Aborted", "abort", "operator", "abort")


def test_a_queued_abort_names_the_requester_not_the_creator(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_abort_running", init >> hold >> one >> done)
    executor = ThreadPoolExecutor(current(), max_workers=2)
    set_executor(executor)  # the database fixture shuts it down at teardown
    process_id = start_process("actors_abort_running", [{}], user="alice")
    assert entered.wait(10)

    assert abort_process(process_id, user="operator") == ProcessStatus.RUNNING
    assert process_row(process_id).abort_requested_by == "operator"
    assert abort_process(process_id, user="latecomer") == ProcessStatus.RUNNING  # the first request counts
    release.set()

    assert wait_for_process(process_id, timeout=10) == ProcessStatus.ABORTED
    executor.shutdown(wait=True)
    p = process_row(process_id)
    assert (p.created_by, p.abort_requested, p.abort_requested_by) == ("alice", False, None)
    assert actors(process_id) == [
        ("Start", "success", "alice", "start"),
        ("Hold", "success", "alice", "start"),
        ("User Aborted", "abort", "operator", "abort"),
    ]


class _BusyWorker:
    """An executor that claims what it is given and never runs it: a worker that then crashes or hangs."""

    worker_id = f"elsewhere.invalid:999999999:{uuid.uuid4().hex[:8]}"
    lease = timedelta(hours=1)

    def submit(self, process_id: uuid.UUID, claim: Claim | None = None, **kind: bool) -> None:
        assert claim is not None

    def runs_at_once(self) -> bool:
        return False  # it never runs them

    def shutdown(self, wait: bool = True) -> None:
        pass


def test_a_takeover_of_a_lapsed_claim_is_the_systems(
    register: Callable[[str, StepList], Workflow], database: Database
) -> None:
    register("actors_takeover", init >> one >> done)
    previous = set_executor(_BusyWorker())
    try:
        process_id = start_process("actors_takeover", [{}], user="alice")
    finally:
        set_executor(previous)
    assert process_row(process_id).claimed_by is not None
    with database.write() as session:  # its worker's lease lapsed
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == process_id)
            .values(lease_until=datetime.now(UTC) - timedelta(minutes=1))
        )

    assert recover() == [process_id]

    p = process_row(process_id)
    assert (p.last_status, p.created_by) == ("completed", "alice")
    assert actors(process_id) == [
        ("Start", "success", "SYSTEM", "takeover"),
        ("One", "success", "SYSTEM", "takeover"),
        ("Done", "complete", "SYSTEM", "takeover"),
    ]


def test_an_automatic_retry_is_the_schedulers(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_flaky", init >> flaky_once >> done)
    process_id = start_process("actors_flaky", [{}], user="alice")
    assert process_row(process_id).last_status == "waiting"
    with get_database().write() as session:  # its retry is due
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == process_id)
            .values(next_retry_at=datetime.now(UTC) - timedelta(seconds=1))
        )

    task = start_process("task_resume_workflows", user="scheduler")

    assert process_row(task).last_status == "completed"
    assert process_row(process_id).last_status == "completed"
    assert actors(process_id) == [
        ("Start", "success", "alice", "start"),
        ("Flaky once", "waiting", "alice", "start"),
        ("Flaky once", "success", "scheduler", "automatic retry"),
        ("Done", "complete", "scheduler", "automatic retry"),
    ]


def test_a_person_named_scheduler_retrying_by_hand_is_a_retry(register: Callable[[str, StepList], Workflow]) -> None:
    register("actors_flaky_by_hand", init >> flaky_once >> done)
    process_id = start_process("actors_flaky_by_hand", [{}], user="alice")
    assert process_row(process_id).last_status == "waiting"

    resume_process(process_id, user="scheduler")  # the name says nothing: only the retry task's resume is automatic

    assert actors(process_id)[-1] == ("Done", "complete", "scheduler", "retry")


def test_rest_and_graphql_show_each_steps_actor_and_action(
    register: Callable[[str, StepList], Workflow], database: Database
) -> None:
    register("actors_shown", init >> approve >> done)
    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)) as client:
        process_id = start_process("actors_shown", [{}], user="alice")
        resume_process(process_id, [{"approved": True}], user="bob")

        detail = client.get(f"/api/processes/{process_id}")
        assert detail.status_code == 200, detail.text
        shown = [(s["name"], s["created_by"], s["action"]) for s in detail.json()["steps"]]
        assert shown == [
            ("Start", "alice", "start"),
            ("Approve", "alice", "start"),
            ("Approve", "bob", "resume"),
            ("Done", "bob", "resume"),
        ]

        answer = client.post(
            "/api/graphql",
            json={
                "query": """query($id: String!) { processes(filterBy: {field: "processId", value: $id}) {
                    page { steps { name createdBy action } } } }""",
                "variables": {"id": str(process_id)},
            },
        ).json()
        assert "errors" not in answer, answer
        [process] = answer["data"]["processes"]["page"]
        assert [(s["name"], s["createdBy"], s["action"]) for s in process["steps"]] == shown
