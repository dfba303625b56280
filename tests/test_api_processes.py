"""The processes REST API through real HTTP (httpx over ASGI), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.forms import FormPage, SubmitFormPage
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, callback_step, done, init, inputstep, step, workflow


class NamePage(FormPage):
    name: str


class CountPage(SubmitFormPage):
    count: int


def two_pages() -> FormGenerator:
    first = yield NamePage
    second = yield CountPage
    return {**first.model_dump(), **second.model_dump()}


@step("Greet")
def greet(name: str, count: int) -> State:
    return {"greeting": f"hello {name}" * count}


@inputstep("Approve", assignee="CHANGES")
def approve() -> type[SubmitFormPage]:
    class ApprovePage(SubmitFormPage):
        approved: bool

    return ApprovePage


@step("Send")
def send(callback_route: str) -> State:
    return {"sent_to": callback_route}


@step("Check")
def check(callback_result: dict[str, object]) -> State:
    return {"checked": callback_result}


@workflow("Two page greeting", initial_input_form=two_pages, target=Target.CREATE)
def api_greet() -> StepList:
    return init >> greet >> approve >> callback_step("Wait", action_step=send, validate_step=check) >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with WorkflowInstanceForTests(api_greet, "api_greet"), TestClient(OrchestratorCore(database=database)) as c:
        yield c


def _start(client: TestClient) -> uuid.UUID:
    response = client.post("/api/processes/api_greet", json=[{"name": "ann"}, {"count": 2}])
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


def test_start_page_by_page(client: TestClient, database: Database) -> None:
    first = client.post("/api/processes/api_greet", json=[])
    assert first.status_code == 510
    assert set(first.json()["form"]["properties"]) == {"name"}
    assert first.json()["meta"] == {"hasNext": True}
    second = client.post("/api/processes/api_greet", json=[{"name": "ann"}])
    assert second.status_code == 510
    assert set(second.json()["form"]["properties"]) == {"count"}
    process_id = _start(client)
    detail = client.get(f"/api/processes/{process_id}").json()
    assert detail["last_status"] == "suspended"
    assert detail["assignee"] == "CHANGES"
    assert detail["current_state"]["greeting"] == "hello annhello ann"
    assert [s["name"] for s in detail["steps"]] == ["Start", "Greet", "Approve", "Wait", "Done"]
    assert [s["status"] for s in detail["steps"]] == ["success", "success", "suspend", "pending", "pending"]
    assert detail["steps"][1]["state_delta"] == {"greeting": "hello annhello ann"}
    assert set(detail["form"]["properties"]) == {"approved"}


def test_invalid_input_creates_nothing(client: TestClient, database: Database) -> None:
    response = client.post("/api/processes/api_greet", json=[{"name": "ann"}, {"count": "many"}])
    assert response.status_code == 400
    errors = response.json()["validation_errors"]
    assert errors[0]["loc"] == ["count"]
    with database.read() as session:
        assert session.execute(select(ProcessTable)).first() is None


def test_unknown_workflow_and_process(client: TestClient) -> None:
    assert client.post("/api/processes/nope", json=[]).status_code == 404
    missing = client.get(f"/api/processes/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "ProcessNotFoundError"
    assert client.get("/api/processes/not-a-uuid").status_code == 400


def test_resume_callback_and_complete(client: TestClient, database: Database) -> None:
    process_id = _start(client)
    asked = client.put(f"/api/processes/{process_id}/resume", json=[])  # no page yet: the form, as orchestrator-core
    assert asked.status_code == 510
    assert set(asked.json()["form"]["properties"]) == {"approved"}
    bad = client.put(f"/api/processes/{process_id}/resume", json=[{"approved": "perhaps"}])
    assert bad.status_code == 400
    assert client.put(f"/api/processes/{process_id}/resume", json=[{"approved": True}]).status_code == 204
    detail = client.get(f"/api/processes/{process_id}").json()
    assert detail["last_status"] == "awaiting_callback"
    route = detail["current_state"]["callback_route"]
    assert route.startswith(f"/api/processes/{process_id}/callback/")
    assert client.post(f"/api/processes/{process_id}/callback/wrong", json={"ok": 1}).status_code == 404
    assert client.post(f"{route}/progress", json="half\u0000way").status_code == 400  # not storable
    assert client.post(f"{route}/progress", json="half way").status_code == 200
    assert client.post(f"/api/processes/{process_id}/callback/wrong/progress", json="x").status_code == 404
    assert client.get(f"/api/processes/{process_id}").json()["current_state"]["callback_progress"] == "half way"
    assert client.post(route, json={"ok": 1}).status_code == 200
    assert client.post(route, json={"ok": 2}).status_code == 409
    detail = client.get(f"/api/processes/{process_id}").json()
    assert detail["last_status"] == "completed"
    assert detail["current_state"]["checked"] == {"ok": 1}
    assert "callback_progress" not in detail["current_state"]
    assert client.post(f"{route}/progress", json="late").status_code == 409
    assert client.put(f"/api/processes/{process_id}/resume", json=[{}]).status_code == 409


def test_abort_and_delete(client: TestClient) -> None:
    process_id = _start(client)
    assert client.put(f"/api/processes/{process_id}/abort").status_code == 204
    assert client.get(f"/api/processes/{process_id}").json()["last_status"] == "aborted"
    assert client.delete(f"/api/processes/{process_id}").status_code == 204
    assert client.get(f"/api/processes/{process_id}").status_code == 404


def test_list_paging_sorting_filtering(client: TestClient) -> None:
    ids = [_start(client) for _ in range(3)]
    client.put(f"/api/processes/{ids[0]}/abort")
    page = client.get("/api/processes/", params={"range": "0,2", "sort": "started_at,ASC"})
    assert page.status_code == 200
    assert [p["process_id"] for p in page.json()] == [str(ids[0]), str(ids[1])]
    assert page.headers["content-range"] == "processes 0-2/3"
    assert len(client.get("/api/processes/", params={"range": "2,4"}).json()) == 1
    assert client.get("/api/processes/", params={"range": "0,0"}).json() == []
    newest = client.get("/api/processes/", params={"sort": "started_at"}).json()  # no direction: ascending
    assert newest[0]["process_id"] == str(ids[0])
    suspended = client.get("/api/processes/", params={"filter": "last_status,suspended"}).json()
    assert {p["process_id"] for p in suspended} == {str(ids[1]), str(ids[2])}
    both = client.get("/api/processes/", params={"filter": "last_status,suspended-aborted"}).json()
    assert len(both) == 3
    assert client.get("/api/processes/", params={"filter": "workflow_name,other"}).json() == []
    assert client.get("/api/processes/", params={"filter": "colour,red"}).status_code == 400
    assert client.get("/api/processes/", params={"sort": "started_at,SIDEWAYS"}).status_code == 400
    assert client.get("/api/processes/", params={"range": "5,1"}).status_code == 400


def test_engine_pause_refuses_starts(client: TestClient) -> None:
    assert client.put("/api/settings/status", json={"global_lock": True}).json()["global_status"] == "PAUSED"
    refused = client.post("/api/processes/api_greet", json=[{"name": "ann"}, {"count": 1}])
    assert refused.status_code == 503
    assert client.put("/api/settings/status", json={"global_lock": False}).json()["global_lock"] is False
    _start(client)


def test_health_and_workflows(client: TestClient) -> None:
    assert client.get("/api/health/").json() == {"status": "OK", "database": "OK"}
    names = [w["name"] for w in client.get("/api/workflows/").json()]
    assert "api_greet" in names
    assert client.get("/api/workflows/api_greet").json()["target"] == "CREATE"
    assert client.get("/api/workflows/missing").status_code == 404


def _awaiting_callback(client: TestClient) -> tuple[uuid.UUID, str]:
    process_id = _start(client)
    assert client.put(f"/api/processes/{process_id}/resume", json=[{"approved": True}]).status_code == 204
    return process_id, client.get(f"/api/processes/{process_id}").json()["current_state"]["callback_route"]


# Every kind of JSON scalar: SQLite stores JSON text that is a number literal as a number (NUMERIC affinity).
JSON_SCALARS = [12, 1.5, 1.0, -7, 0, True, False, None, "12", "text"]


@pytest.mark.parametrize("value", JSON_SCALARS, ids=repr)
def test_any_json_value_round_trips_through_the_api(client: TestClient, value: object) -> None:
    process_id, route = _awaiting_callback(client)
    assert client.post(f"{route}/progress", json=value).status_code == 200
    detail = client.get(f"/api/processes/{process_id}")
    assert detail.status_code == 200, detail.text
    progress = detail.json()["callback_progress"]
    assert progress == value
    assert type(progress) is type(value) or value == 1.0, "only a float without fraction may come back as an int"
    assert client.get("/api/processes/").status_code == 200
    assert client.post(route, json={"progress": value}).status_code == 200
    detail = client.get(f"/api/processes/{process_id}").json()
    assert (detail["last_status"], detail["current_state"]["checked"]) == ("completed", {"progress": value})
    other, route = _awaiting_callback(client)
    assert client.post(f"{route}/progress", json=value).status_code == 200
    assert client.put(f"/api/processes/{other}/abort").status_code == 204
    assert client.delete(f"/api/processes/{other}").status_code == 204
