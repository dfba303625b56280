"""``?token=`` is accepted only where a client cannot send a header (WebSocket, event stream), and never logged."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.settings import AppSettings

TOKEN = "s3cret-token"


def _app(database: Database) -> OrchestratorCore:
    return OrchestratorCore(AppSettings(DATABASE_URI=database.uri, API_TOKENS=f"ada:{TOKEN}"), database=database)


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with TestClient(_app(database)) as c:
        yield c


def test_http_routes_take_the_token_from_the_header_only(client: TestClient) -> None:
    assert client.get("/api/processes/", params={"token": TOKEN}).status_code == 401
    assert client.get("/api/processes/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_event_stream_and_the_websocket_take_it_from_the_query(client: TestClient) -> None:
    with client.stream("GET", "/api/events", params={"token": TOKEN}) as response:
        assert response.status_code == 200
        assert next(response.iter_lines()) == ": connected"
    assert client.get("/api/events", params={"token": "wrong"}).status_code == 401
    with client.websocket_connect(f"/api/ws/events?token={TOKEN}") as ws:
        ws.send_text("__ping__")
        assert ws.receive_text() == "__pong__"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_the_server_logs_urls_without_the_token(sqlite_db: Database) -> None:
    config = uvicorn.Config(_app(sqlite_db), host="127.0.0.1", port=0, lifespan="off", log_level="info")
    server = uvicorn.Server(config)  # the config set up uvicorn's loggers, as `orchestrion run` does
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(records)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        assert httpx.get(f"http://127.0.0.1:{port}/api/version?token={TOKEN}").status_code == 401
        with connect(f"ws://127.0.0.1:{port}/api/ws/events?token={TOKEN}") as ws:
            ws.send("__ping__")
            assert ws.recv() == "__pong__"
    finally:
        server.should_exit = True
        thread.join()
        for logger in loggers:
            logger.removeHandler(records)
    assert not [line for line in records.lines if TOKEN in line]
    assert any('"GET /api/version?token=*** HTTP/1.1" 401' in line for line in records.lines), records.lines
    assert any('"WebSocket /api/ws/events?token=***" [accepted]' in line for line in records.lines), records.lines
