"""Bad input answers 400 in the JSON error shape, on SQLite and PostgreSQL, and the OpenAPI says what is answered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import SubmitFormPage
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator
from orchestrion.workflow import StepList, done, init, workflow


class NotePage(SubmitFormPage):
    note: str = ""


def note_form() -> FormGenerator:
    return (yield NotePage).model_dump()


@workflow("Take a note", initial_input_form=note_form)
def take_note() -> StepList:
    return init >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with WorkflowInstanceForTests(take_note, "take_note"), TestClient(OrchestratorCore(database=database)) as c:
        yield c


def _assert_bad_request(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    problem: dict[str, Any] = response.json()
    assert {"type", "title", "detail", "status"} <= set(problem) and problem["status"] == 400
    return problem


def test_a_schedule_field_it_cannot_be_without_may_be_left_out_but_not_null(client: TestClient) -> None:
    body = {"name": "clean", "workflow_name": "task_clean_up_tasks", "trigger": "interval", "interval_seconds": 60}
    assert client.post("/api/schedules/", json=body).status_code == 201
    for field in ("name", "workflow_name", "trigger", "user_inputs", "enabled", "misfire_policy"):
        problem = _assert_bad_request(client.patch("/api/schedules/clean", json={field: None}))
        assert problem["validation_errors"][0]["loc"] == ["body", field]
    changed = client.patch("/api/schedules/clean", json={"trigger": "cron", "cron_expression": "0 3 * * *"})
    assert changed.status_code == 200
    back = client.patch(
        "/api/schedules/clean", json={"trigger": "interval", "cron_expression": None, "interval_seconds": 5}
    )
    assert back.json()["interval_seconds"] == 5


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/processes/", {"filter": "workflow_name,a\x00b"}),
        ("/api/processes/", {"filter": "q,\x00"}),
        ("/api/subscriptions/", {"query": "rt\x001"}),
        ("/api/subscriptions/", {"filter": "description,\x00"}),
        ("/api/products/", {"tag": "\x00"}),
        ("/api/workflows/%00", {}),
        ("/api/schedules/a%00", {}),
    ],
)
def test_a_nul_character_in_the_path_or_the_query_is_refused(client: TestClient, path: str, params: dict) -> None:
    problem = _assert_bad_request(client.get(path, params=params))
    assert problem["type"] == "UnstorableTextError"


@pytest.mark.parametrize("path", ["/api/workflows/%0A", "/api/processes/%0D%0A", "/api/schedules/a%0Ab"])
def test_a_line_break_in_the_path_is_refused_not_routed_elsewhere(client: TestClient, path: str) -> None:
    """``/api/workflows/%0A`` would match the list route (a route pattern's ``$`` matches before a newline)."""
    problem = _assert_bad_request(client.get(path))
    assert problem["type"] == "UnstorableTextError"


@pytest.mark.parametrize("body", [b'[{"\\ud800": "x"}]', b'[{"note": "\\udfff"}]', b'[{"note": "a\\u0000b"}]'])
def test_a_lone_surrogate_or_nul_in_a_json_body_is_refused(client: TestClient, body: bytes) -> None:
    answer = client.post("/api/processes/take_note", content=body, headers={"content-type": "application/json"})
    assert _assert_bad_request(answer)["type"] == "UnstorableTextError"
    assert client.get("/api/processes/").json() == []
    assert client.post("/api/processes/take_note", json=[{"note": "\\u0000 is fine as text"}]).status_code == 201


@pytest.mark.parametrize("value", ["yes", "on", 1, 0, "true", None])
def test_the_engine_switch_takes_booleans_only(client: TestClient, value: object) -> None:
    _assert_bad_request(client.put("/api/settings/status", json={"global_lock": value}))
    assert client.get("/api/settings/status").json()["global_lock"] is False
    assert client.put("/api/settings/status", json={"global_lock": True}).json()["global_lock"] is True
    assert client.put("/api/settings/status", json={"global_lock": False}).json()["global_lock"] is False


def test_the_openapi_lists_the_statuses_answered_with_the_error_shape(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    start = document["paths"]["/api/processes/{workflow_key}"]["post"]["responses"]
    assert set(start) == {"201", "400", "401", "403", "404", "409", "412", "413", "500", "503", "510"}
    assert start["413"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    health = document["paths"]["/api/health/"]["get"]["responses"]
    assert set(health) == {"200", "400", "500", "503"}  # no authentication, no parameters, no body
    assert all(
        "422" not in operation["responses"] for path in document["paths"].values() for operation in path.values()
    )
    assert set(document["components"]["schemas"]["Error"]["required"]) == {"type", "title", "detail", "status"}
