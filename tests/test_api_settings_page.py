"""What orchestrator-ui's settings page asks of ``/api/settings``, over HTTP on SQLite and PostgreSQL: the
engine's status, the workers, the settings in use (secrets masked), and the caches orchestrion does not have."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.services.caches import CACHE_NAMES
from orchestrion.settings import app_settings
from orchestrion.targets import Target
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, step

WAIT = 30
entered, release = threading.Event(), threading.Event()


@step("Work a while")
def work_a_while() -> State:
    entered.set()
    assert release.wait(WAIT), "the test never let the step finish"
    return {}


@pytest.fixture
def client(database: Database, register: Callable[..., Workflow]) -> Iterator[TestClient]:
    entered.clear()
    release.clear()
    register("settings_page_task", init >> work_a_while >> done, target=Target.SYSTEM)
    with TestClient(OrchestratorCore(database=database)) as c:
        yield c
    release.set()


def test_engine_status_as_the_ui_reads_it(client: TestClient) -> None:
    assert client.get("/api/settings/status").json() == {
        "global_lock": False,
        "running_processes": 0,
        "global_status": "RUNNING",
    }
    paused = client.put("/api/settings/status", json={"global_lock": True}).json()
    assert (paused["global_lock"], paused["global_status"]) == (True, "PAUSED")
    assert client.put("/api/settings/status", json={"global_lock": False}).json()["global_status"] == "RUNNING"


def test_worker_status_counts_what_runs(client: TestClient) -> None:
    idle = client.get("/api/settings/worker-status").json()
    assert idle == {
        "executor_type": "inline",  # the tests' executor: processes run in the caller's thread
        "number_of_workers_online": 0,
        "number_of_queued_jobs": 0,
        "number_of_running_jobs": 0,
    }
    with ThreadPoolExecutor(1) as pool:
        started = pool.submit(client.post, "/api/processes/settings_page_task", json=[{}])
        assert entered.wait(WAIT), "the task never started"
        busy = client.get("/api/settings/worker-status").json()
        running = client.get("/api/settings/status").json()["running_processes"]
        release.set()
        assert started.result(WAIT).status_code == 201
    assert busy["number_of_running_jobs"] == 1
    assert running == 1
    assert client.get("/api/settings/worker-status").json()["number_of_running_jobs"] == 0


def _variables(client: TestClient) -> dict[str, Any]:
    [group] = client.get("/api/settings/overview").json()
    assert group["name"] == "app_settings"
    return {v["env_name"]: v["env_value"] for v in group["variables"]}


def test_the_overview_shows_the_settings_without_their_secrets(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_settings, "DATABASE_URI", SecretStr("postgresql://orch:s3cret@db.example/orch"))
    monkeypatch.setattr(app_settings, "CELERY_BROKER_URL", "redis://:hunter2@broker.example:6379/0")
    monkeypatch.setattr(app_settings, "API_TOKENS", "alice:token-a")
    shown = _variables(client)
    assert shown["DATABASE_URI"] == "postgresql://orch:***@db.example/orch"
    assert shown["CELERY_BROKER_URL"] == "redis://:***@broker.example:6379/0"
    assert shown["API_TOKENS"] == "**********"
    assert shown["EXECUTOR"] == app_settings.EXECUTOR
    text = str(shown)
    for secret in ("s3cret", "hunter2", "token-a"):
        assert secret not in text


def test_caches_and_the_search_index_are_harmless(client: TestClient) -> None:
    names = client.get("/api/settings/cache-names").json()
    assert names == CACHE_NAMES and names
    for name in names:
        assert client.delete(f"/api/settings/cache/{name}").json() == 0
    unknown = client.delete("/api/settings/cache/redis-of-someone-else")
    assert unknown.status_code == 400
    assert "Invalid cache name" in unknown.json()["detail"]
    assert client.post("/api/settings/search-index/reset").status_code == 200
