"""Metrics (``/api/metrics``), health (``/api/health/``) and logged errors, as an operator's tools read them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import structlog
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.executors import set_executor
from orchestrion.executors.celery import (
    NEW_TASKS,
    NEW_WORKFLOWS,
    RESUMES,
    CeleryExecutor,
    create_celery_app,
    queue_name,
)
from orchestrion.logs import configure_logging
from orchestrion.runtime import current
from orchestrion.services.processes import start_process
from orchestrion.settings import app_settings
from orchestrion.types import State
from orchestrion.workflow import StepList, done, init, step, workflow
from orchestrion.workflows import register_workflow, unregister_workflow


@step("Work")
def work() -> State:
    return {}


@step("Break")
def breaks() -> State:
    raise ValueError("broken")


@workflow("Observability test: fine")
def obs_fine() -> StepList:
    return init >> work >> done


@workflow("Observability test: broken")
def obs_broken() -> StepList:
    return init >> breaks >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    register_workflow(obs_fine, "obs_fine")
    register_workflow(obs_broken, "obs_broken")
    with TestClient(OrchestratorCore(database=database)) as c:
        yield c
    unregister_workflow("obs_fine")
    unregister_workflow("obs_broken")


def samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/api/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def steps_done(found: dict[tuple[str, frozenset[tuple[str, str]]], float], wf: str, status: str) -> float:
    return found.get(
        ("orchestrion_step_duration_seconds_count", frozenset({("workflow", wf), ("status", status)})), 0.0
    )


def processes(found: dict[tuple[str, frozenset[tuple[str, str]]], float], status: str) -> float:
    return found[("orchestrion_processes", frozenset({("status", status)}))]


def test_metrics_count_processes_by_status_and_time_steps(client: TestClient) -> None:
    before = samples(client)
    assert processes(before, "completed") == 0 and processes(before, "running") == 0

    for _ in range(2):
        start_process("obs_fine")
    start_process("obs_broken")

    after = samples(client)
    assert (processes(after, "completed"), processes(after, "failed"), processes(after, "running")) == (2, 1, 0)
    assert steps_done(after, "obs_fine", "success") - steps_done(before, "obs_fine", "success") == 4  # Start, Work
    assert steps_done(after, "obs_fine", "complete") - steps_done(before, "obs_fine", "complete") == 2
    assert steps_done(after, "obs_broken", "failed") - steps_done(before, "obs_broken", "failed") == 1
    assert not any(name == "orchestrion_queue_depth" for name, _ in after), "no broker with in-process workers"


def test_health_reports_the_database(client: TestClient) -> None:
    assert client.get("/api/health/").json() == {"status": "OK", "database": "OK"}


@pytest.mark.redis
def test_with_celery_metrics_show_queue_depths_and_health_the_broker(
    client: TestClient, redis_url: str, queue_prefix: str
) -> None:
    executor = CeleryExecutor(current(), create_celery_app(app_settings, redis_url))
    set_executor(executor)  # no worker listens: the messages stay in the queues
    for _ in range(3):
        executor.submit(uuid.uuid4())
    executor.submit(uuid.uuid4(), is_task=True)
    executor.submit(uuid.uuid4(), is_task=True, resume=True)

    found = samples(client)
    depth = {
        q: found.get(("orchestrion_queue_depth", frozenset({("queue", queue_name(app_settings, q))})))
        for q in (NEW_WORKFLOWS, NEW_TASKS, RESUMES)
    }
    assert depth == {NEW_WORKFLOWS: 3, NEW_TASKS: 1, RESUMES: 1}, "each kind of work on its own queue"
    assert client.get("/api/health/").json() == {"status": "OK", "database": "OK", "broker": "OK"}

    set_executor(
        CeleryExecutor(current(), create_celery_app(app_settings, "redis://127.0.0.1:1/0"))
    )  # nothing listens there
    response = client.get("/api/health/")
    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["database"]) == ("unavailable", "OK")
    assert body["broker"] != "OK"
    assert not any(name == "orchestrion_queue_depth" for name, _ in samples(client)), "left out, not a failed scrape"


def _connect(password: str) -> None:
    raise ConnectionError("database unreachable")


def test_a_logged_exception_is_a_plain_traceback_without_the_locals_of_its_frames(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rendering every frame's locals (rich's tracebacks) took seconds of CPU per error, and shows secrets."""
    password = "-".join(["s3cr3t", "password"])  # in a local, not on a source line a traceback shows
    session_config = structlog.get_config()
    configure_logging("INFO")  # writes to the stderr captured now
    try:
        _connect(password)
    except ConnectionError:
        structlog.get_logger("test").exception("Could not connect")
    finally:
        structlog.configure(**session_config)  # the session's stderr, not this test's (closed after it)

    logged = capsys.readouterr().err
    assert "Could not connect" in logged
    assert "Traceback (most recent call last)" in logged
    assert "ConnectionError: database unreachable" in logged
    assert password not in logged
