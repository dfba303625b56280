"""Live updates carry committed changes only, over the feed, the WebSocket and Server-Sent Events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.models import ProcessTable
from orchestrion.services import engine, processes
from orchestrion.services.change_feed import Change, ChangeFeed
from orchestrion.settings import AppSettings
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow


@step("Say hello")
def say_hello() -> State:
    return {"hello": "world"}


@workflow("Live")
def live() -> StepList:
    return init >> say_hello >> done


@pytest.fixture
def registered() -> Iterator[None]:
    with WorkflowInstanceForTests(live, "live"):
        yield


def _primed(database: Database) -> ChangeFeed:
    feed = ChangeFeed(database)
    feed.prime()
    return feed


def test_feed_reports_committed_changes_once(database: Database, registered: None) -> None:
    feed = _primed(database)
    process_id = processes.start_process("live", [{}])
    changes = feed.poll()
    assert Change("processes", str(process_id), "completed") in changes
    assert feed.poll() == []
    engine.pause_engine()
    assert feed.poll() == [Change("engineStatus")]
    engine.unpause_engine()


def test_rolled_back_work_is_never_reported(database: Database, registered: None) -> None:
    process_id = processes.start_process("live", [{}])
    feed = _primed(database)

    class UndoError(Exception):
        pass

    with pytest.raises(UndoError), database.write() as session:
        session.execute(
            update(ProcessTable)
            .where(ProcessTable.process_id == process_id)
            .values(last_status="failed", last_modified_at=datetime.now(UTC) + timedelta(seconds=1))
        )
        raise UndoError
    assert feed.poll() == []


@pytest.fixture
def client(database: Database, registered: None) -> Iterator[TestClient]:
    settings = AppSettings(LIVE_UPDATE_INTERVAL_SECONDS=0.05, SCHEDULER_ENABLED=False)
    with TestClient(OrchestratorCore(settings, database=database)) as c:
        yield c


def test_websocket_sends_process_changes(client: TestClient) -> None:
    with client.websocket_connect("/api/ws/events") as ws:
        process_id = client.post("/api/processes/live", json=[{}]).json()["id"]
        message = ws.receive_json()
        # The feed may catch the process on its way (created, running); it ends with the final status.
        while message["value"].get("id") != process_id or message["value"].get("status") != "completed":
            message = ws.receive_json()
    assert message == {
        "name": "invalidateCache",
        "value": {"type": "processes", "id": process_id, "status": "completed"},
    }


def test_server_sent_events_send_engine_changes(client: TestClient) -> None:
    with client.stream("GET", "/api/events") as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        client.put("/api/settings/status", json={"global_lock": True})
        data = next(line for line in lines if line.startswith("data: "))
    assert '"engineStatus"' in data
    client.put("/api/settings/status", json={"global_lock": False})
