"""Size limits through real HTTP, on SQLite and PostgreSQL: the request body and the process state."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from fastapi.testclient import TestClient

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import SubmitFormPage
from orchestrion.settings import AppSettings, app_settings
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, Workflow, callback_step, done, init, inputstep, step

BODY_LIMIT = 10_000
STATE_LIMIT = 2_000


class TextPage(SubmitFormPage):
    text: str = ""
    grow_to: int = 0


def text_form() -> FormGenerator:
    return (yield TextPage).model_dump()


@step("Grow")
def grow(grow_to: int) -> State:
    return {"blob": "x" * grow_to}


@inputstep("Add text")
def add_text() -> type[SubmitFormPage]:
    class AddTextPage(SubmitFormPage):
        more: str

    return AddTextPage


@step("Send")
def send(callback_route: str) -> State:
    return {}


@step("Check")
def check(callback_result: Any) -> State:
    return {}


def _flow() -> StepList:
    return init >> grow >> add_text >> callback_step("Wait", action_step=send, validate_step=check) >> done


@pytest.fixture
def client(
    database: Database, register: Callable[..., Workflow], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    register("sized", _flow(), form=text_form)
    monkeypatch.setattr(app_settings, "MAX_PROCESS_STATE_BYTES", STATE_LIMIT)  # the runtime's settings
    settings = AppSettings(DATABASE_URI=database.uri, MAX_REQUEST_BODY_BYTES=BODY_LIMIT)
    with TestClient(OrchestratorCore(settings, database=database)) as c:
        yield c


def _assert_too_large(response: httpx.Response, type_: str) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["type"] == type_
    assert set(response.json()) == {"type", "title", "detail", "status"}


def test_a_body_over_the_limit_is_refused(client: TestClient) -> None:
    at_limit = b'"' + b"x" * (BODY_LIMIT - 2) + b'"'
    headers = {"content-type": "application/json"}
    assert client.post("/api/processes/sized", content=at_limit, headers=headers).status_code == 400  # not a list
    refused = client.post("/api/processes/sized", content=at_limit + b" ", headers=headers)
    _assert_too_large(refused, "RequestBodyTooLargeError")
    assert "10,000 bytes" in refused.json()["detail"]
    _assert_too_large(
        client.post("/api/processes/sized", json=[{"text": "x" * BODY_LIMIT}]), "RequestBodyTooLargeError"
    )
    assert client.get("/api/processes/").json() == []


def test_a_chunked_body_is_read_only_up_to_the_limit(client: TestClient) -> None:
    """Without a Content-Length the bytes are counted as they arrive; the rest is never read."""
    chunk, sent = b"x" * 1000, 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'[{"text": "'
        while sent < 1000:  # a megabyte, were it all read
            sent += 1
            yield chunk

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post(
                "/api/processes/sized", content=endless(), headers={"content-type": "application/json"}
            )

    response = anyio.run(post)
    _assert_too_large(response, "RequestBodyTooLargeError")
    assert sent <= BODY_LIMIT // len(chunk) + 1


def test_a_state_over_the_limit_fails_the_step_that_made_it(client: TestClient) -> None:
    created = client.post("/api/processes/sized", json=[{"grow_to": 3 * STATE_LIMIT}])
    assert created.status_code == 201
    detail = client.get(f"/api/processes/{created.json()['id']}").json()
    assert (detail["last_status"], detail["last_step"]) == ("failed", "Grow")
    reason = r"The state returned by step 'Grow' is [\d,]+ bytes as JSON, more than the limit of 2,000 bytes \(MAX_"
    assert re.match(reason, detail["failed_reason"]), detail["failed_reason"]
    assert "blob" not in detail["current_state"]


def test_input_that_would_make_the_state_too_large_is_refused(client: TestClient) -> None:
    refused = client.post("/api/processes/sized", json=[{"text": "x" * STATE_LIMIT}])
    _assert_too_large(refused, "StateTooLargeError")
    assert refused.json()["detail"].startswith("The initial state is ")
    assert client.get("/api/processes/").json() == []

    process_id = client.post("/api/processes/sized", json=[{"text": "small"}]).json()["id"]
    _assert_too_large(
        client.put(f"/api/processes/{process_id}/resume", json=[{"more": "x" * STATE_LIMIT}]), "StateTooLargeError"
    )
    assert client.get(f"/api/processes/{process_id}").json()["last_status"] == "suspended"
    assert client.put(f"/api/processes/{process_id}/resume", json=[{"more": "small"}]).status_code == 204

    route = client.get(f"/api/processes/{process_id}").json()["current_state"]["callback_route"]
    _assert_too_large(client.post(route, json="x" * STATE_LIMIT), "StateTooLargeError")
    assert client.get(f"/api/processes/{process_id}").json()["last_status"] == "awaiting_callback"
    assert client.post(route, json="small").status_code == 200
    assert client.get(f"/api/processes/{process_id}").json()["last_status"] == "completed"
