"""A start on a subscription is authoritative: the process reserves it in the transaction that creates it.

So of many starts that all passed their forms at the same moment exactly one creates a process;
the others are refused at once with orchestrator-core's 400, and none becomes a failed process.
A start whose form was validated against a version of the subscription that has changed since is
refused too: it never runs on stale input.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.subscription_support import add_subscription, load_product, subscription_row

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, SubscriptionTable
from orchestrion.db.models import ProcessStepTable, ProcessTable
from orchestrion.forms import SubmitFormPage
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State, UUIDstr
from orchestrion.workflow import StepList, begin, step
from orchestrion.workflows.utils import modify_workflow

STARTERS = 8
form_hook: Callable[[str], None] = lambda _subscription_id: None  # noqa: E731 - replaced by each test


def rebalance_form(subscription_id: UUIDstr) -> FormGenerator:
    class RebalanceForm(SubmitFormPage):
        weight: int = 1

    user_input = yield RebalanceForm
    form_hook(str(subscription_id))  # the form has validated: what happens now happens "meanwhile"
    return user_input.model_dump()


@step("Rebalance")
def rebalance(weight: int) -> State:
    return {"rebalanced": weight}


@modify_workflow("Rebalance", initial_input_form=rebalance_form)
def rebalance_wf() -> StepList:
    return begin >> rebalance


@pytest.fixture
def subscription_id(database: Database) -> Iterator[uuid.UUID]:
    global form_hook
    product = load_product(database, "Balancer", {"rebalance": "MODIFY"})
    with WorkflowInstanceForTests(rebalance_wf, "rebalance"):
        yield add_subscription(database, product)
    form_hook = lambda _subscription_id: None  # noqa: E731


def _start(client: TestClient, subscription_id: uuid.UUID) -> tuple[int, dict[str, object]]:
    answer = client.post("/api/processes/rebalance", json=[{"subscription_id": str(subscription_id)}, {"weight": 2}])
    return answer.status_code, answer.json()


def _processes(database: Database) -> list[tuple[str, str | None]]:
    with database.read() as session:
        return [(s, r) for s, r in session.execute(select(ProcessTable.last_status, ProcessTable.failed_reason))]


def test_of_starts_that_passed_their_forms_together_exactly_one_creates_a_process(
    database: Database, subscription_id: uuid.UUID
) -> None:
    global form_hook
    together = threading.Barrier(STARTERS)
    form_hook = lambda _subscription_id: together.wait(timeout=30) and None  # noqa: E731
    answers: list[tuple[int, dict[str, object]]] = []
    app = OrchestratorCore(database=database)

    def start() -> None:
        answers.append(_start(TestClient(app), subscription_id))

    threads = [threading.Thread(target=start) for _ in range(STARTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(status for status, _ in answers) == [201] + [400] * (STARTERS - 1)
    for status, body in answers:
        if status == 400:
            (error,) = body["validation_errors"]  # type: ignore[misc]
            assert error["loc"] == ["subscription_id"]
            assert error["msg"].startswith("This workflow cannot be started: ")
    assert _processes(database) == [("completed", None)], "one process, and no loser became a failed process"
    assert subscription_row(database, subscription_id)["insync"] is True


def test_a_start_while_another_process_holds_the_subscription_is_refused_at_once(
    database: Database, subscription_id: uuid.UUID
) -> None:
    global form_hook
    client = TestClient(OrchestratorCore(database=database))

    def locked_meanwhile(_subscription_id: str) -> None:
        with database.write() as session:  # as a concurrent start's reservation would
            session.execute(update(SubscriptionTable).values(insync=False, version=SubscriptionTable.version + 1))

    form_hook = locked_meanwhile
    status, body = _start(client, subscription_id)
    assert status == 400
    assert body["validation_errors"][0]["msg"] == (  # type: ignore[index]
        "This workflow cannot be started: Subscription already has a running process or task"
    )
    assert _processes(database) == []


def test_a_start_whose_form_saw_an_older_version_is_refused(database: Database, subscription_id: uuid.UUID) -> None:
    global form_hook
    client = TestClient(OrchestratorCore(database=database))

    def changed_meanwhile(_subscription_id: str) -> None:
        with database.write() as session:  # another process modified and released it while this form was filled in
            session.execute(update(SubscriptionTable).values(version=SubscriptionTable.version + 3))

    form_hook = changed_meanwhile
    status, body = _start(client, subscription_id)
    assert status == 400
    message = body["validation_errors"][0]["msg"]  # type: ignore[index]
    assert "changed after the form was filled in" in message
    assert _processes(database) == []
    assert subscription_row(database, subscription_id)["insync"] is True, "a refused start leaves no lock behind"

    form_hook = lambda _subscription_id: None  # noqa: E731
    assert _start(client, subscription_id)[0] == 201  # filled in again against the current version


def test_the_process_is_linked_to_its_subscription_from_its_creation(
    database: Database, subscription_id: uuid.UUID
) -> None:
    client = TestClient(OrchestratorCore(database=database))
    status, body = _start(client, subscription_id)
    assert status == 201
    process_id = uuid.UUID(str(body["id"]))
    with database.read() as session:
        linked_at = session.execute(
            select(ProcessSubscriptionTable.created_at).where(ProcessSubscriptionTable.process_id == process_id)
        ).scalar_one()  # one link: the reservation's, which the link step then finds
        first_step_done = session.execute(
            select(func.min(ProcessStepTable.completed_at)).where(ProcessStepTable.process_id == process_id)
        ).scalar_one()
    assert linked_at <= first_step_done, "linked when the process was created, before any step ran"


def test_a_start_that_reserves_its_subscription_is_created_running_as_of_its_opening_step(
    database: Database, subscription_id: uuid.UUID
) -> None:
    """With a worker free, such a start is created running like any other: the process, its first row and
    its link to the subscription are dated at one instant, when its opening step began."""
    client = TestClient(OrchestratorCore(database=database))
    status, body = _start(client, subscription_id)
    assert status == 201
    process_id = uuid.UUID(str(body["id"]))
    with database.read() as session:
        started_at = session.scalar(select(ProcessTable.started_at).where(ProcessTable.process_id == process_id))
        first_row = session.scalar(
            select(func.min(ProcessStepTable.started_at)).where(ProcessStepTable.process_id == process_id)
        )
        linked_at = session.scalar(
            select(ProcessSubscriptionTable.created_at).where(ProcessSubscriptionTable.process_id == process_id)
        )
    assert started_at == first_row == linked_at
