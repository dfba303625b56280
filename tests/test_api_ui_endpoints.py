"""The process endpoints orchestrator-ui calls beyond start/resume/abort, over HTTP on SQLite and PostgreSQL:
status counts, retry all tasks, retry with one page (``{}``), a process's note, and start forms while paused."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import SubmitFormPage
from orchestrion.services.processes import NOTE_LENGTH
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import Workflow, done, init, inputstep, retrystep, step

WAIT = 30  # seconds a test waits for a condition before it fails


class Switch:
    """What the flaky steps do this time: fail or not, and whether to stop until released."""

    def __init__(self) -> None:
        self.failing = True
        self.hold = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        if self.hold:
            self.entered.set()
            assert self.release.wait(WAIT), "the test never released the step"
        if self.failing:
            raise RuntimeError("the device did not answer")


switch = Switch()


@pytest.fixture(autouse=True)
def fresh_switch() -> Iterator[None]:
    global switch
    switch = Switch()
    yield
    switch.release.set()  # a failed test leaves no step waiting


@step("Talk to the device")
def talk() -> State:
    switch.run()
    return {"talked": True}


@retrystep("Talk to the device, retrying")
def talk_retrying() -> State:
    switch.run()
    return {"talked": True}


@step("Quiet")
def quiet() -> State:
    return {}


@inputstep("Confirm", assignee="NOC")
def confirm() -> type[SubmitFormPage]:
    class ConfirmPage(SubmitFormPage):
        ok: bool

    return ConfirmPage


def ticket_form() -> FormGenerator:
    class TicketPage(SubmitFormPage):
        ticket: str

    page = yield TicketPage
    return page.model_dump()


@pytest.fixture
def client(database: Database, register: Callable[..., Workflow]) -> Iterator[TestClient]:
    register("ui_flaky_task", init >> talk >> done, target=Target.SYSTEM)
    register("ui_waiting_task", init >> talk_retrying >> done, target=Target.SYSTEM)
    register("ui_quiet_task", init >> quiet >> done, target=Target.SYSTEM)
    register("ui_flaky_workflow", init >> talk >> done, target=Target.MODIFY)
    register("ui_asking_workflow", init >> confirm >> done, target=Target.MODIFY)
    register("ui_ticket_workflow", init >> quiet >> done, form=ticket_form)
    with TestClient(OrchestratorCore(database=database)) as c:
        yield c


def _start(client: TestClient, workflow: str) -> str:
    response = client.post(f"/api/processes/{workflow}", json=[{}])
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _status(client: TestClient, process_id: str) -> str:
    return str(client.get(f"/api/processes/{process_id}").json()["last_status"])


def test_status_counts_keep_tasks_and_workflows_apart(client: TestClient) -> None:
    assert client.get("/api/processes/status-counts").json() == {"process_counts": {}, "task_counts": {}}
    _start(client, "ui_flaky_task")
    _start(client, "ui_flaky_task")
    _start(client, "ui_quiet_task")
    _start(client, "ui_waiting_task")
    _start(client, "ui_flaky_workflow")
    _start(client, "ui_asking_workflow")

    counts = client.get("/api/processes/status-counts").json()
    assert counts == {
        "process_counts": {"failed": 1, "suspended": 1},
        "task_counts": {"failed": 2, "completed": 1, "waiting": 1},
    }


def test_resume_all_retries_the_tasks_that_failed_or_wait(client: TestClient) -> None:
    failed = [_start(client, "ui_flaky_task") for _ in range(2)]
    waiting = _start(client, "ui_waiting_task")
    workflow = _start(client, "ui_flaky_workflow")
    completed = _start(client, "ui_quiet_task")
    assert [_status(client, p) for p in (*failed, waiting, workflow, completed)] == [
        "failed",
        "failed",
        "waiting",
        "failed",
        "completed",
    ]

    switch.failing = False
    response = client.put("/api/processes/resume-all")
    assert response.status_code == 200, response.text
    assert response.json() == {"count": 3}
    assert [_status(client, p) for p in (*failed, waiting)] == ["completed"] * 3
    assert _status(client, workflow) == "failed"  # workflows are left to people
    assert client.put("/api/processes/resume-all").json() == {"count": 0}


def test_resume_all_goes_on_after_a_task_that_fails_again(client: TestClient) -> None:
    first, second = _start(client, "ui_flaky_task"), _start(client, "ui_flaky_task")
    response = client.put("/api/processes/resume-all")  # the device still does not answer
    assert response.json() == {"count": 2}
    assert [_status(client, first), _status(client, second)] == ["failed", "failed"]
    for process_id in (first, second):  # each was tried again: a second failed attempt in its history
        steps = client.get(f"/api/processes/{process_id}").json()["steps"]
        assert [s["status"] for s in steps if s["name"] == "Talk to the device"] == ["failed", "failed"]


def _broken_authorizer(context: Any) -> bool:
    raise RuntimeError("the authorization service is down")


def test_resume_all_goes_on_when_the_code_deciding_on_one_task_fails(client: TestClient) -> None:
    refusing = Workflow("ui_broken_auth_task", "Task", init >> talk >> done, retry_auth_callback=_broken_authorizer)
    with WorkflowInstanceForTests(refusing, "ui_broken_auth_task"):
        broken = _start(client, "ui_broken_auth_task")  # the oldest: the first one tried
        fine = _start(client, "ui_flaky_task")
        switch.failing = False
        response = client.put("/api/processes/resume-all")
        assert response.status_code == 200, response.text
        assert response.json() == {"count": 2}
        assert [_status(client, broken), _status(client, fine)] == ["failed", "completed"]


def test_a_second_resume_all_is_refused_while_the_first_runs(client: TestClient) -> None:
    task = _start(client, "ui_flaky_task")
    switch.failing, switch.hold = False, True

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(client.put, "/api/processes/resume-all")
        assert switch.entered.wait(WAIT), "the first resume-all never reached the task's step"
        second = client.put("/api/processes/resume-all")
        switch.release.set()
        assert first.result(WAIT).json() == {"count": 1}

    assert second.status_code == 409
    assert "still running" in second.json()["detail"]
    assert _status(client, task) == "completed"
    assert client.put("/api/processes/resume-all").status_code == 200  # free again


def test_resume_all_is_refused_while_the_engine_is_paused(client: TestClient) -> None:
    task = _start(client, "ui_flaky_task")
    client.put("/api/settings/status", json={"global_lock": True})
    assert client.put("/api/processes/resume-all").status_code == 503
    client.put("/api/settings/status", json={"global_lock": False})
    assert _status(client, task) == "failed"


def test_a_start_form_opens_and_validates_while_paused_and_only_starting_is_refused(client: TestClient) -> None:
    client.put("/api/settings/status", json={"global_lock": True})
    opened = client.post("/api/processes/ui_ticket_workflow", json=[])
    assert opened.status_code == 510, opened.text  # the form, not "paused"
    assert "ticket" in opened.json()["form"]["properties"]
    assert client.post("/api/processes/ui_ticket_workflow", json=[{}]).status_code == 400  # still validated
    refused = client.post("/api/processes/ui_ticket_workflow", json=[{"ticket": "T-1"}])
    assert refused.status_code == 503
    assert refused.json()["detail"] == "The engine is paused; processes cannot be started or resumed"
    assert client.get("/api/processes/").json() == []  # nothing was stored
    client.put("/api/settings/status", json={"global_lock": False})
    started = client.post("/api/processes/ui_ticket_workflow", json=[{"ticket": "T-1"}])
    assert started.status_code == 201, started.text


def test_retry_with_one_page_object(client: TestClient) -> None:
    """orchestrator-ui's Retry button sends ``{}``, not ``[{}]``."""
    process_id = _start(client, "ui_flaky_workflow")
    switch.failing = False
    response = client.put(f"/api/processes/{process_id}/resume", json={})
    assert response.status_code == 204, response.text
    assert _status(client, process_id) == "completed"
    assert client.put(f"/api/processes/{process_id}/resume", json={}).status_code == 409


def test_resume_an_input_step_with_one_page_object(client: TestClient) -> None:
    process_id = _start(client, "ui_asking_workflow")
    assert client.put(f"/api/processes/{process_id}/resume", json={"ok": "perhaps"}).status_code == 400
    assert _status(client, process_id) == "suspended"
    assert client.put(f"/api/processes/{process_id}/resume", json={"ok": True}).status_code == 204
    assert _status(client, process_id) == "completed"


def _note(client: TestClient, process_id: str, body: dict[str, Any]) -> Any:
    return client.patch(f"/api/processes/{process_id}", json=body)


def test_a_process_note_is_set_kept_and_cleared(client: TestClient) -> None:
    process_id = _start(client, "ui_asking_workflow")
    response = _note(client, process_id, {"note": "waiting for the field engineer"})
    assert response.status_code == 200, response.text
    assert response.json()["note"] == "waiting for the field engineer"
    assert response.json()["last_status"] == "suspended"  # a note steers nothing

    assert _note(client, process_id, {}).json()["note"] == "waiting for the field engineer"  # not given: kept
    assert client.put(f"/api/processes/{process_id}/resume", json=[{"ok": True}]).status_code == 204
    detail = client.get(f"/api/processes/{process_id}").json()
    assert (detail["last_status"], detail["note"]) == ("completed", "waiting for the field engineer")

    assert _note(client, process_id, {"note": ""}).json()["note"] is None
    _note(client, process_id, {"note": "again"})
    assert _note(client, process_id, {"note": None}).json()["note"] is None


def test_a_process_note_too_long_or_for_nobody_is_refused(client: TestClient) -> None:
    process_id = _start(client, "ui_asking_workflow")
    _note(client, process_id, {"note": "short"})
    too_long = _note(client, process_id, {"note": "x" * (NOTE_LENGTH + 1)})
    assert too_long.status_code == 400
    assert too_long.json()["validation_errors"][0]["loc"] == ["body", "note"]
    assert client.get(f"/api/processes/{process_id}").json()["note"] == "short"
    assert _note(client, process_id, {"note": "x" * NOTE_LENGTH}).status_code == 200

    missing = _note(client, str(uuid.uuid4()), {"note": "lost"})
    assert missing.status_code == 404
    assert _note(client, str(uuid.uuid4()), {}).status_code == 404
