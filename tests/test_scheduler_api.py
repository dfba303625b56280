"""``/api/schedules`` over HTTP on both databases, and the scheduler running inside the app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.scheduler.leader import current_leader
from orchestrion.scheduler.runner import Scheduler
from orchestrion.settings import AppSettings
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import Workflow, done, init, step

TASK = "api_scheduled_task"


@step("Count sheep")
def count_sheep(sheep: int) -> State:
    return {"counted": sheep}


def sheep_form(state: State) -> Any:
    from orchestrion.forms import FormPage

    class SheepPage(FormPage):
        sheep: int

    answer = yield SheepPage
    return answer.model_dump()


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    """The app without its lifespan (no scheduler thread); tests tick a scheduler themselves."""
    with database.write() as s:
        s.execute(delete(ScheduleTable))
    task = Workflow(TASK, "Counts sheep", init >> count_sheep >> done, initial_input_form=sheep_form)
    not_a_task = Workflow("api_create_thing", "Creates", init >> count_sheep >> done, target=Target.CREATE)
    with WorkflowInstanceForTests(task, TASK), WorkflowInstanceForTests(not_a_task, "api_create_thing"):
        yield TestClient(OrchestratorCore(database=database))


def body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "sheep",
        "workflow_name": TASK,
        "trigger": "interval",
        "interval_seconds": 60,
        "user_inputs": [{"sheep": 3}],
        **fields,
    }


def test_create_show_list_update_delete(client: TestClient) -> None:
    before = datetime.now(UTC)
    created = client.post("/api/schedules/", json=body())
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["enabled"] and schedule["misfire_policy"] == "run_once"
    first = datetime.fromisoformat(schedule["next_run_at"])
    assert before + timedelta(seconds=60) <= first <= datetime.now(UTC) + timedelta(seconds=60)

    assert client.get(f"/api/schedules/{schedule['schedule_id']}").json() == schedule
    assert client.get("/api/schedules/sheep").json() == schedule  # by name too
    assert [s["name"] for s in client.get("/api/schedules/").json()] == ["sheep"]

    patched = client.patch("/api/schedules/sheep", json={"misfire_policy": "skip"}).json()
    assert patched["misfire_policy"] == "skip"
    assert patched["next_run_at"] == schedule["next_run_at"]  # same trigger: the plan stands

    recron = client.patch("/api/schedules/sheep", json={"trigger": "cron", "cron_expression": "15 3 * * *"}).json()
    assert (recron["trigger"], recron["cron_expression"], recron["interval_seconds"]) == ("cron", "15 3 * * *", None)
    assert datetime.fromisoformat(recron["next_run_at"]).strftime("%H:%M") == "03:15"

    off = client.patch("/api/schedules/sheep", json={"enabled": False}).json()
    assert off["next_run_at"] is None
    on = client.put("/api/schedules/sheep", json=body(name="many sheep", interval_seconds=5)).json()
    assert on["name"] == "many sheep" and on["next_run_at"] is not None

    assert client.delete("/api/schedules/many sheep").status_code == 204
    assert client.get("/api/schedules/").json() == []


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"cron_expression": "99 * * * *", "trigger": "cron", "interval_seconds": None}, 400, "not valid"),
        ({"interval_seconds": 0}, 400, ">= 1"),
        ({"trigger": "cron", "interval_seconds": None}, 400, "needs cron_expression"),
        ({"trigger": "sometimes"}, 400, "Request not valid"),
        ({"workflow_name": "no_such_task"}, 400, "not registered"),
        ({"workflow_name": "api_create_thing"}, 400, "not a task"),
        ({"misfire_policy": "panic"}, 400, "Request not valid"),
    ],
)
def test_bad_schedules_are_refused_with_400(
    client: TestClient, fields: dict[str, Any], status: int, words: str
) -> None:
    answer = client.post("/api/schedules/", json=body(**fields))
    assert answer.status_code == status
    problem = answer.json()
    assert problem["status"] == status and words in problem["detail"]
    assert client.get("/api/schedules/").json() == []


def test_unknown_schedules_are_404_and_names_are_unique(client: TestClient) -> None:
    for answer in (
        client.get("/api/schedules/nope"),
        client.patch("/api/schedules/nope", json={"enabled": False}),
        client.put("/api/schedules/nope", json=body()),
        client.delete("/api/schedules/nope"),
    ):
        assert answer.status_code == 404 and answer.json()["type"] == "ScheduleNotFoundError"
    assert client.post("/api/schedules/", json=body()).status_code == 201
    duplicate = client.post("/api/schedules/", json=body(interval_seconds=5))
    assert duplicate.status_code == 409
    assert client.patch("/api/schedules/sheep", json={"interval_seconds": -1}).status_code == 400


def test_a_schedule_created_through_the_api_runs_its_task(client: TestClient, database: Database) -> None:
    schedule = client.post("/api/schedules/", json=body()).json()
    due = datetime.fromisoformat(schedule["next_run_at"])
    scheduler = Scheduler(database, clock=lambda: due + timedelta(seconds=1), holder="api-test")
    [fired] = scheduler.tick()
    assert fired.error is None
    shown = client.get(f"/api/schedules/{schedule['schedule_id']}").json()
    assert shown["last_process_id"] == str(fired.process_id)
    assert datetime.fromisoformat(shown["next_run_at"]) == due + timedelta(seconds=60)
    process = client.get(f"/api/processes/{fired.process_id}").json()
    assert process["workflow_name"] == TASK and process["last_status"] == "completed"
    assert process["current_state"]["counted"] == 3  # the schedule's form input reached the task


def test_the_app_runs_a_scheduler_while_it_serves(database: Database) -> None:
    app = OrchestratorCore(AppSettings(SCHEDULER_ENABLED=True), database=database)
    with TestClient(app):
        deadline = time.monotonic() + 30
        while current_leader(database) is None:
            assert time.monotonic() < deadline, "the app's scheduler never took the lease"
            time.sleep(0.01)
    assert current_leader(database) is None  # stopped with the app, lease given back


def test_the_app_can_run_without_a_scheduler(database: Database) -> None:
    with TestClient(OrchestratorCore(AppSettings(SCHEDULER_ENABLED=False), database=database)) as client:
        assert client.get("/api/health/").status_code == 200
        assert current_leader(database) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"user_inputs": [{"sheep": 2**70}]},  # beyond what JSON columns store
        {"user_inputs": [{"sheep": "\x00"}]},
        {"name": "nul\x00name"},
        {"name": "lone \ud800 surrogate"},
        {"interval_seconds": 2**40},
        {"trigger": "cron", "interval_seconds": None, "cron_expression": "*" * 300},
    ],
)
def test_values_the_databases_cannot_store_are_refused_not_crashed_on(
    client: TestClient, fields: dict[str, Any]
) -> None:
    raw = json.dumps(body(**fields))  # escapes what an HTTP client would refuse to encode (a lone surrogate)
    answer = client.post("/api/schedules/", content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert client.patch("/api/schedules/nul%00name", json={"enabled": False}).status_code == 400  # no such text
