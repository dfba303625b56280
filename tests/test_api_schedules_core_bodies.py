"""``/api/schedules`` with orchestrator-core's bodies (APScheduler triggers, what orchestrator-ui sends),
over HTTP on SQLite and PostgreSQL: mapped onto orchestrion's schedules and applied at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.forms import FormPage
from orchestrion.scheduler.runner import Scheduler
from orchestrion.storage.workflow_rows import ensure_workflow_row
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import Workflow, done, init, step

TASK, OTHER_TASK, NOT_A_TASK = "core_body_task", "core_body_other_task", "core_body_create"


@step("Count boxes")
def count_boxes(boxes: int) -> State:
    return {"counted": boxes}


def boxes_form(state: State) -> FormGenerator:
    class BoxesPage(FormPage):
        boxes: int

    answer = yield BoxesPage
    return answer.model_dump()


@pytest.fixture
def workflow_ids(database: Database) -> dict[str, uuid.UUID]:
    ids = {}
    with database.write() as s:
        s.execute(delete(ScheduleTable))
        for name, target, description in (
            (TASK, Target.SYSTEM, "Count the boxes"),
            (OTHER_TASK, Target.SYSTEM, "Something else"),
            (NOT_A_TASK, Target.CREATE, "Creates"),
        ):
            ids[name], _ = ensure_workflow_row(s, name, target, description=description)
    return ids


@pytest.fixture
def client(database: Database, workflow_ids: dict[str, uuid.UUID]) -> Iterator[TestClient]:
    task = Workflow(TASK, "Counts boxes", init >> count_boxes >> done, initial_input_form=boxes_form)
    other = Workflow(OTHER_TASK, "Other", init >> done)
    not_a_task = Workflow(NOT_A_TASK, "Creates", init >> done, target=Target.CREATE)
    with (
        WorkflowInstanceForTests(task, TASK),
        WorkflowInstanceForTests(other, OTHER_TASK),
        WorkflowInstanceForTests(not_a_task, NOT_A_TASK),
        TestClient(OrchestratorCore(database=database)) as c,
    ):
        yield c


def create_body(ids: dict[str, uuid.UUID], trigger: str, kwargs: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """What orchestrator-ui's "new schedule" page posts (the task's description as the name)."""
    name = fields.pop("workflow_name", TASK)
    return {
        "scheduled_type": "create",
        "name": "Count the boxes",
        "workflow_name": name,
        "workflow_id": str(ids.get(name, uuid.uuid4())),
        "trigger": trigger,
        "trigger_kwargs": kwargs,
        "user_inputs": [{"boxes": 4}],
        **fields,
    }


def _schedules(client: TestClient) -> list[dict[str, Any]]:
    listed = client.get("/api/schedules/").json()
    assert isinstance(listed, list)
    return listed


def _only(client: TestClient) -> dict[str, Any]:
    [schedule] = _schedules(client)
    return schedule


def test_an_interval_schedule_from_its_start_date(client: TestClient, workflow_ids: dict[str, uuid.UUID]) -> None:
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    kwargs = {"start_date": start.isoformat().replace("+00:00", "Z"), "hours": 2}
    created = client.post("/api/schedules/", json=create_body(workflow_ids, "interval", kwargs))
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "CREATED"

    schedule = _only(client)
    assert schedule["name"] == "Count the boxes"
    assert schedule["workflow_name"] == TASK
    assert (schedule["trigger"], schedule["interval_seconds"], schedule["cron_expression"]) == ("interval", 7200, None)
    assert schedule["user_inputs"] == [{"boxes": 4}]
    assert datetime.fromisoformat(schedule["next_run_at"]) == start  # the first run is the start date


def test_an_interval_started_in_the_past_keeps_its_rhythm(
    client: TestClient, workflow_ids: dict[str, uuid.UUID]
) -> None:
    start = (datetime.now(UTC) - timedelta(days=3, minutes=10)).replace(microsecond=0)
    before = datetime.now(UTC)
    kwargs = {"start_date": start.isoformat(), "weeks": 1}
    assert client.post("/api/schedules/", json=create_body(workflow_ids, "interval", kwargs)).status_code == 201
    next_run = datetime.fromisoformat(_only(client)["next_run_at"])
    assert next_run == start + timedelta(weeks=1)
    assert next_run > before


def test_without_a_start_date_the_first_run_is_one_interval_away(
    client: TestClient, workflow_ids: dict[str, uuid.UUID]
) -> None:
    before = datetime.now(UTC)
    assert (
        client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"minutes": 30})).status_code == 201
    )
    next_run = datetime.fromisoformat(_only(client)["next_run_at"])
    assert before + timedelta(minutes=30) <= next_run <= datetime.now(UTC) + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("kwargs", "expression"),
    [
        # orchestrator-ui splits "30 4 * * *" and sends each field through parseInt: "*" arrives as null
        ({"minute": 30, "hour": 4, "day": None, "month": None, "day_of_week": None}, "30 4 * * *"),
        ({"hour": 3}, "0 3 * * *"),  # the fields after the last one given take their smallest value
        ({"day": 1}, "0 0 1 * *"),
        ({"month": 6}, "0 0 1 6 *"),
        ({"minute": "*/15"}, "*/15 * * * *"),
        ({"day_of_week": "mon-fri", "hour": 9}, "0 9 * * 1-5"),
        ({"day_of_week": 6, "hour": 0}, "0 0 * * 7"),  # APScheduler counts weekdays from Monday = 0
        ({"day_of_week": "*/2", "hour": 12, "minute": 0, "second": 0}, "0 12 * * 1-7/2"),
        ({"day": "last", "hour": 23, "minute": 55}, "55 23 L * *"),
    ],
)
def test_cron_triggers_become_cron_expressions(
    client: TestClient, workflow_ids: dict[str, uuid.UUID], kwargs: dict[str, Any], expression: str
) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    response = client.post("/api/schedules/", json=create_body(workflow_ids, "cron", {"start_date": start, **kwargs}))
    assert response.status_code == 201, response.text
    schedule = _only(client)
    assert (schedule["trigger"], schedule["cron_expression"], schedule["interval_seconds"]) == (
        "cron",
        expression,
        None,
    )
    assert datetime.fromisoformat(schedule["next_run_at"]) >= datetime.fromisoformat(start)


@pytest.mark.parametrize(
    ("trigger", "kwargs", "words"),
    [
        ("date", {"run_date": "2030-01-01T00:00:00Z"}, "schedules repeat"),
        ("cron", {"hour": 1, "second": 15}, "second must be 0"),
        ("cron", {}, "second must be 0"),  # APScheduler would fire every second
        ("cron", {"year": 2031, "hour": 1}, "no year field"),
        ("cron", {"week": 10}, "no week field"),
        ("cron", {"day": 1, "day_of_week": "mon"}, "day or day_of_week"),
        ("cron", {"day_of_week": "1st mon"}, "no cron equivalent"),
        ("cron", {"hour": 1, "timezone": "Europe/Amsterdam"}, "run in UTC"),
        ("interval", {"hours": 1, "end_date": "2031-01-01T00:00:00Z"}, "no end date"),
        ("interval", {"hours": 1, "jitter": 30}, "without jitter"),
        ("interval", {"seconds": 1.5}, "whole seconds"),
        ("interval", {}, ">= 1"),
        ("interval", {"hourz": 1}, "Unknown interval trigger argument(s) hourz"),
        ("interval", {"hours": "two"}, "must be a number"),
        ("interval", {"hours": 1, "start_date": "next tuesday"}, "not a date and time"),
        ("interval", {"hours": 1, "start_date": "0001-01-01T00:00:00Z"}, "must lie between"),
    ],
)
def test_triggers_a_schedule_cannot_hold_are_refused_with_the_reason(
    client: TestClient, workflow_ids: dict[str, uuid.UUID], trigger: str, kwargs: dict[str, Any], words: str
) -> None:
    response = client.post("/api/schedules/", json=create_body(workflow_ids, trigger, kwargs))
    assert response.status_code == 400, response.text
    assert words in response.json()["detail"]
    assert _schedules(client) == []


def test_the_task_must_be_the_one_named_and_a_task(client: TestClient, workflow_ids: dict[str, uuid.UUID]) -> None:
    kwargs = {"hours": 1}
    unknown = client.post(
        "/api/schedules/", json={**create_body(workflow_ids, "interval", kwargs), "workflow_id": str(uuid.uuid4())}
    )
    assert unknown.status_code == 404
    mismatch = client.post(
        "/api/schedules/",
        json={**create_body(workflow_ids, "interval", kwargs), "workflow_id": str(workflow_ids[OTHER_TASK])},
    )
    assert mismatch.status_code == 400
    assert OTHER_TASK in mismatch.json()["detail"]
    not_a_task = client.post(
        "/api/schedules/", json=create_body(workflow_ids, "interval", kwargs, workflow_name=NOT_A_TASK)
    )
    assert not_a_task.status_code == 400
    assert "not a task" in not_a_task.json()["detail"]
    assert _schedules(client) == []


def test_schedules_named_alike_get_numbered_and_a_missing_name_is_the_tasks(
    client: TestClient, workflow_ids: dict[str, uuid.UUID]
) -> None:
    for _ in range(2):
        assert (
            client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"hours": 1})).status_code == 201
        )
    assert (
        client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"hours": 1}, name=None)).status_code
        == 201
    )
    assert sorted(s["name"] for s in _schedules(client)) == [
        "Count the boxes",
        "Count the boxes (2)",
        "Count the boxes (3)",
    ]


def test_update_changes_the_name_and_the_trigger(client: TestClient, workflow_ids: dict[str, uuid.UUID]) -> None:
    client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"hours": 1}))
    schedule_id = _only(client)["schedule_id"]

    renamed = client.put(
        "/api/schedules/", json={"scheduled_type": "update", "schedule_id": schedule_id, "name": "Boxes"}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["status"] == "UPDATED"
    assert (_only(client)["name"], _only(client)["interval_seconds"]) == ("Boxes", 3600)

    # A trigger without arguments changes nothing (as in orchestrator-core).
    client.put("/api/schedules/", json={"scheduled_type": "update", "schedule_id": schedule_id, "trigger": "cron"})
    assert _only(client)["trigger"] == "interval"

    recron = {"scheduled_type": "update", "schedule_id": schedule_id, "trigger": "cron", "trigger_kwargs": {"hour": 5}}
    assert client.put("/api/schedules/", json=recron).status_code == 200
    schedule = _only(client)
    assert (schedule["name"], schedule["trigger"], schedule["cron_expression"], schedule["interval_seconds"]) == (
        "Boxes",
        "cron",
        "0 5 * * *",
        None,
    )
    assert datetime.fromisoformat(schedule["next_run_at"]).strftime("%H:%M") == "05:00"

    refused = {**recron, "trigger_kwargs": {"hour": 5, "second": 30}}
    assert client.put("/api/schedules/", json=refused).status_code == 400
    assert _only(client)["cron_expression"] == "0 5 * * *"


def test_update_of_an_unknown_schedule_is_404(client: TestClient) -> None:
    body = {"scheduled_type": "update", "schedule_id": str(uuid.uuid4()), "name": "Nobody"}
    assert client.put("/api/schedules/", json=body).status_code == 404


def _delete(client: TestClient, body: dict[str, Any]) -> Any:
    return client.request("DELETE", "/api/schedules/", json={"scheduled_type": "delete", **body})


def test_delete_needs_the_task_and_its_schedule(client: TestClient, workflow_ids: dict[str, uuid.UUID]) -> None:
    client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"hours": 1}))
    schedule_id = _only(client)["schedule_id"]

    assert _delete(client, {"workflow_id": str(workflow_ids[TASK])}).status_code == 400  # which one?
    assert _delete(client, {"workflow_id": str(uuid.uuid4()), "schedule_id": schedule_id}).status_code == 404
    wrong_task = _delete(client, {"workflow_id": str(workflow_ids[OTHER_TASK]), "schedule_id": schedule_id})
    assert wrong_task.status_code == 404
    assert len(_schedules(client)) == 1

    deleted = _delete(client, {"workflow_id": str(workflow_ids[TASK]), "schedule_id": schedule_id})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "DELETED"
    assert _schedules(client) == []
    assert _delete(client, {"workflow_id": str(workflow_ids[TASK]), "schedule_id": schedule_id}).status_code == 404


def test_a_schedule_made_from_a_core_body_runs_its_task(
    client: TestClient, database: Database, workflow_ids: dict[str, uuid.UUID]
) -> None:
    client.post("/api/schedules/", json=create_body(workflow_ids, "interval", {"minutes": 10}))
    due = datetime.fromisoformat(_only(client)["next_run_at"])
    [fired] = Scheduler(database, clock=lambda: due + timedelta(seconds=1), holder="core-body-test").tick()
    assert fired.error is None
    process = client.get(f"/api/processes/{fired.process_id}").json()
    assert (process["workflow_name"], process["last_status"]) == (TASK, "completed")
    assert process["current_state"]["counted"] == 4
