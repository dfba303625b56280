"""What a UI on another origin needs: CORS as configured, and orchestrator-ui's WebSocket protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.settings import AppSettings
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow

UI = "http://ui.example:3000"


@step("Wave")
def wave() -> State:
    return {"waved": True}


@workflow("Wave once")
def wave_once() -> StepList:
    return init >> wave >> done


@pytest.fixture
def make_client(database: Database) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        app = OrchestratorCore(
            AppSettings(SCHEDULER_ENABLED=False, LIVE_UPDATE_INTERVAL_SECONDS=0.05, **settings), database=database
        )
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    with WorkflowInstanceForTests(wave_once, "wave_once"):
        yield make
    for client in clients:
        client.__exit__(None, None, None)


def _preflight(client: TestClient, path: str, origin: str = UI, method: str = "POST") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_without_cors_origins_no_cross_origin_call_is_allowed(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    assert "access-control-allow-origin" not in _preflight(client, "/api/processes/wave_once").headers
    answer = client.get("/api/settings/status", headers={"Origin": UI})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_the_configured_origin_may_call_with_json_and_every_method_the_ui_uses(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(CORS_ORIGINS=f"{UI}, http://other.example")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        preflight = _preflight(client, "/api/processes/wave_once", method=method)
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == UI
        assert method in preflight.headers["access-control-allow-methods"]
        assert "content-type" in preflight.headers["access-control-allow-headers"].lower()

    started = client.post("/api/processes/wave_once", json=[{}], headers={"Origin": UI})
    assert started.status_code == 201 and started.headers["access-control-allow-origin"] == UI
    refused = client.get("/api/settings/status", headers={"Origin": "http://stranger.example"})
    assert "access-control-allow-origin" not in refused.headers
    assert _preflight(client, "/api/settings/status", origin="http://stranger.example").status_code == 400


def test_a_star_allows_any_origin(make_client: Callable[..., TestClient]) -> None:
    client = make_client(CORS_ORIGINS="*")
    answer = client.get("/api/settings/status", headers={"Origin": "http://anywhere.example"})
    assert answer.headers["access-control-allow-origin"] == "*"


def test_the_websocket_answers_each_ping_with_a_pong(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    with client.websocket_connect("/api/ws/events") as ws:
        for _ in range(3):
            ws.send_text("__ping__")
            assert ws.receive_text() == "__pong__"
        ws.send_text("something else")  # ignored, the connection stays
        ws.send_text("__ping__")
        assert ws.receive_text() == "__pong__"


def test_a_process_change_also_invalidates_the_lists_and_counts(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    with client.websocket_connect("/api/ws/events") as ws:
        process_id = client.post("/api/processes/wave_once", json=[{}]).json()["id"]
        wanted = [
            {"type": "processes", "id": process_id, "status": "completed"},
            {"type": "processes", "id": "LIST"},
            {"type": "processStatusCounts"},
        ]
        seen: list[dict[str, Any]] = []
        while not all(value in seen for value in wanted):
            message = ws.receive_json()
            assert message["name"] == "invalidateCache"
            seen.append(message["value"])


def test_the_token_may_come_as_orchestrator_ui_sends_it(make_client: Callable[..., TestClient]) -> None:
    client = make_client(API_TOKENS="ada:s3cret")
    with client.websocket_connect("/api/ws/events", subprotocols=["base64.bearer.token", "s3cret"]) as ws:
        assert ws.accepted_subprotocol == "base64.bearer.token"  # a browser drops the socket otherwise
        ws.send_text("__ping__")
        assert ws.receive_text() == "__pong__"
    for offered in (["base64.bearer.token", "wrong"], [], ["s3cret"]):
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/api/ws/events", subprotocols=offered) as ws,
        ):
            ws.receive_text()
        assert refused.value.code == 4401
