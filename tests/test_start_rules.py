"""Who decides whether a workflow may start, and what it is called: run predicates and descriptions.

As in orchestrator-core 5, every decorator takes ``run_predicate`` and none needs a description
(descriptions live in the database). A refused start says why, over HTTP (412), to Python callers
(``StartPredicateError``) and to the scheduler, which skips such a run without a warning.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import delete

from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue
from orchestrion.db import Database
from orchestrion.db.schedule_models import ScheduleTable
from orchestrion.db.types import utcnow
from orchestrion.errors import StartPredicateError
from orchestrion.scheduler import schedules
from orchestrion.scheduler.runner import Scheduler
from orchestrion.scheduler.schedules import ScheduleSpec
from orchestrion.services.processes import resume_process, start_process, wait_for_process
from orchestrion.targets import Target
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import State
from orchestrion.workflow import (
    PredicateContext,
    RunPredicateFail,
    RunPredicatePass,
    StepList,
    begin,
    done,
    init,
    inputstep,
    step,
    workflow,
)
from orchestrion.workflows.predicates import awaiting_callbacks_exist, no_uncompleted_instance
from orchestrion.workflows.utils import (
    create_workflow,
    modify_workflow,
    reconcile_workflow,
    task,
    terminate_workflow,
    validate_workflow,
)


@step("Nothing much")
def nothing_much() -> State:
    return {"ran": True}


DECORATORS: dict[str, Callable[..., Any]] = {
    "create": create_workflow,
    "modify": modify_workflow,
    "terminate": terminate_workflow,
    "validate": validate_workflow,
    "reconcile": reconcile_workflow,
    "task": task,
    "workflow": workflow,
}


@pytest.mark.parametrize("kind", sorted(DECORATORS))
def test_every_decorator_works_without_a_description_and_takes_a_run_predicate(kind: str) -> None:
    asked: list[PredicateContext] = []

    def predicate(context: PredicateContext) -> RunPredicatePass:
        asked.append(context)
        return RunPredicatePass()

    @DECORATORS[kind](run_predicate=predicate)
    def undescribed() -> StepList:
        return init >> nothing_much >> done if kind == "workflow" else begin >> nothing_much

    assert undescribed.description == ""
    assert undescribed.run_predicate is predicate
    assert undescribed.name == "undescribed"


@pytest.fixture
def counted_task(database: Database) -> Iterator[str]:
    """A task that may only run while no other run of it is unfinished (a suspended run blocks it)."""

    @inputstep("Wait for a person")
    def wait_for_a_person() -> Any:
        from orchestrion.forms import SubmitFormPage

        return SubmitFormPage

    @task(run_predicate=no_uncompleted_instance)
    def one_at_a_time() -> StepList:
        return begin >> wait_for_a_person >> nothing_much

    with WorkflowInstanceForTests(one_at_a_time, "one_at_a_time"):
        yield "one_at_a_time"


def test_no_uncompleted_instance_refuses_while_a_run_is_unfinished(database: Database, counted_task: str) -> None:
    first = start_process(counted_task)
    assert wait_for_process(first).value == "suspended"
    with pytest.raises(StartPredicateError, match=r"already has 1 uncompleted instance\(s\)") as refused:
        start_process(counted_task)
    assert refused.value.workflow_key == counted_task
    resume_process(first, [{}])
    assert wait_for_process(first).value == "completed"
    second = start_process(counted_task)
    assert wait_for_process(second).value == "suspended"


def test_awaiting_callbacks_exist_refuses_when_nothing_awaits_a_callback(database: Database) -> None:
    context = PredicateContext(workflow=None, workflow_key="no_such_task_runs")  # type: ignore[arg-type]
    verdict = awaiting_callbacks_exist(context)
    assert verdict == RunPredicateFail("No processes are awaiting a callback with a timeout")
    assert not verdict


refusals: list[str] = []


def refuse_when_told(_context: PredicateContext) -> RunPredicatePass | RunPredicateFail:
    return RunPredicateFail(refusals[-1]) if refusals else RunPredicatePass()


@task(run_predicate=refuse_when_told)
def guarded_task() -> StepList:
    return begin >> nothing_much


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    refusals.clear()
    with WorkflowInstanceForTests(guarded_task, "guarded_task"), TestClient(OrchestratorCore(database=database)) as c:
        yield c


def test_a_refused_start_answers_412_with_the_predicates_reason(client: TestClient) -> None:
    refusals.append("the maintenance window is closed")
    refused = client.post("/api/processes/guarded_task", json=[{}])
    assert refused.status_code == 412
    assert refused.json() == {
        "type": "StartPredicateError",
        "title": "Precondition Failed",
        "detail": "the maintenance window is closed",
        "status": 412,
    }
    with pytest.raises(StartPredicateError, match="maintenance window"):
        start_process("guarded_task", [{}])
    refusals.clear()
    started = client.post("/api/processes/guarded_task", json=[{}])
    assert started.status_code == 201, started.text


def test_the_scheduler_skips_a_refused_run_without_a_warning(database: Database, client: TestClient) -> None:
    with database.write() as session:
        session.execute(delete(ScheduleTable))  # the built-in schedules are not what this test is about
    clock = [utcnow()]
    spec = ScheduleSpec(name="guarded", workflow_name="guarded_task", trigger="interval", interval_seconds=60)
    schedules.create_schedule(database, spec, clock[0])
    refusals.append("nothing to do")
    scheduler = Scheduler(database, clock=lambda: clock[0], holder=f"test-{uuid.uuid4().hex[:6]}")
    assert scheduler.tick() == []  # takes the lead; the first run is a minute away
    clock[0] += timedelta(seconds=60)
    with structlog.testing.capture_logs() as logs:
        fired = scheduler.tick()
    assert [(f.process_id, f.error) for f in fired] == [(None, "StartPredicateError: nothing to do")]
    assert [entry["event"] for entry in logs if entry["log_level"] in ("warning", "error")] == []
    assert schedules.get_schedule(database, "guarded").last_error == "StartPredicateError: nothing to do"


def test_the_database_description_wins_over_the_codes(database: Database, client: TestClient) -> None:
    listed = {w["name"]: w for w in client.get("/api/workflows/").json()}
    assert listed["guarded_task"]["description"] == "guarded_task"  # no description anywhere: the name
    ensure_catalogue(
        {"workflows": {"guarded_task": {"target": "SYSTEM", "description": "Runs when allowed", "is_task": False}}}
    )
    shown = client.get("/api/workflows/guarded_task").json()
    assert (shown["description"], shown["is_task"], shown["target"]) == ("Runs when allowed", False, "SYSTEM")


@step("Check the thing")
def check_the_thing() -> State:
    return {}


@workflow("Checks the thing", target=Target.VALIDATE)
def checks_the_thing() -> StepList:
    return init >> check_the_thing >> done


def test_the_codes_description_is_the_fallback(database: Database) -> None:
    with (
        WorkflowInstanceForTests(checks_the_thing, "checks_the_thing"),
        TestClient(OrchestratorCore(database=database)) as client,
    ):
        assert client.get("/api/workflows/checks_the_thing").json()["description"] == "Checks the thing"
