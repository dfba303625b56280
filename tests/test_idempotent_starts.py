"""A start sent again with the same ``Idempotency-Key`` answers the process the first one created.

A client whose answer got lost (the server died between commit and response, a proxy timed out)
can retry without starting a second process, even when the first still holds its subscription.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from tests.subscription_support import add_subscription, load_product

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.db.models import IdempotencyKeyTable, ProcessTable
from orchestrion.engine.clock import utcnow
from orchestrion.forms import SubmitFormPage
from orchestrion.services.processes import start_process
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.types import FormGenerator, State
from orchestrion.workflow import StepList, Workflow, begin, done, init, inputstep, step
from orchestrion.workflows.utils import modify_workflow

STARTERS = 6


class NameForm(SubmitFormPage):
    name: str


def name_form() -> FormGenerator:
    answer = yield NameForm
    return answer.model_dump()


@step("Greet")
def greet(name: str) -> State:
    return {"greeting": f"hello {name}"}


greeter = Workflow("greeter", "Greeter", init >> greet >> done, initial_input_form=name_form)


class ApprovalForm(SubmitFormPage):
    approved: bool = True


@inputstep("Approve")
def approve() -> FormGenerator:
    answer = yield ApprovalForm
    return answer.model_dump()


@modify_workflow("Review")
def review() -> StepList:
    return begin >> approve


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with WorkflowInstanceForTests(greeter, "greeter"), WorkflowInstanceForTests(review, "review"):
        yield TestClient(OrchestratorCore(database=database))


def _start(client: TestClient, key: str | None, name: str = "world") -> tuple[int, dict[str, object]]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    answer = client.post("/api/processes/greeter", json=[{"name": name}], headers=headers)
    return answer.status_code, answer.json()


def _count(database: Database) -> int:
    with database.read() as session:
        return int(session.execute(select(func.count()).select_from(ProcessTable)).scalar_one())


def test_the_same_key_answers_the_first_process(client: TestClient, database: Database) -> None:
    first = _start(client, "order-17")
    again = _start(client, "order-17")
    assert first[0] == again[0] == 201
    assert again[1]["id"] == first[1]["id"]
    assert _count(database) == 1
    other = _start(client, "order-18")
    assert other[0] == 201 and other[1]["id"] != first[1]["id"]
    assert _start(client, None)[1]["id"] != _start(client, None)[1]["id"], "without a key every start is new"


def test_the_same_key_for_another_request_is_refused(client: TestClient, database: Database) -> None:
    assert _start(client, "order-17")[0] == 201
    status, body = _start(client, "order-17", name="someone else")
    assert status == 409
    assert "used for a different start" in str(body["detail"])
    assert _count(database) == 1


def test_concurrent_retries_with_one_key_start_one_process(client: TestClient, database: Database) -> None:
    together = threading.Barrier(STARTERS)
    ids: list[object] = []

    def start() -> None:
        together.wait(timeout=30)
        status, body = _start(client, "burst")
        assert status == 201, body
        ids.append(body["id"])

    threads = [threading.Thread(target=start) for _ in range(STARTERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(ids) == STARTERS and len(set(ids)) == 1
    assert _count(database) == 1


def test_a_retry_answers_the_process_that_holds_the_subscription(client: TestClient, database: Database) -> None:
    subscription_id = add_subscription(database, load_product(database, "Reviewed", {"review": "MODIFY"}))
    pages = [{"subscription_id": str(subscription_id)}]
    first = client.post("/api/processes/review", json=pages, headers={"Idempotency-Key": "review-1"})
    assert first.status_code == 201
    with database.read() as session:  # suspended at its input step, holding the subscription
        assert session.get(ProcessTable, uuid.UUID(first.json()["id"])).last_status == "suspended"  # type: ignore[union-attr]

    again = client.post("/api/processes/review", json=pages, headers={"Idempotency-Key": "review-1"})
    assert again.status_code == 201 and again.json() == first.json()
    unkeyed = client.post("/api/processes/review", json=pages)
    assert unkeyed.status_code == 400, "without the key it is a second start, refused while the first holds it"


def test_an_expired_key_starts_anew(client: TestClient, database: Database) -> None:
    first = _start(client, "old-key")[1]["id"]
    with database.write() as session:
        session.execute(update(IdempotencyKeyTable).values(created_at=utcnow() - timedelta(hours=25)))
    again = _start(client, "old-key")[1]["id"]
    assert again != first
    with database.read() as session:  # the expired entry made room for the new one
        assert session.execute(select(IdempotencyKeyTable.process_id)).scalars().all() == [uuid.UUID(str(again))]


def test_python_callers_pass_the_key_as_an_argument(client: TestClient, database: Database) -> None:
    first = start_process("greeter", [{"name": "ops"}], idempotency_key="script-run-1")
    assert start_process("greeter", [{"name": "ops"}], idempotency_key="script-run-1") == first
    assert _count(database) == 1


def test_a_key_that_is_too_long_or_unprintable_is_bad_input(client: TestClient) -> None:
    assert _start(client, "k" * 256)[0] == 400
    with pytest.raises(ValueError, match="printable"):
        start_process("greeter", [{"name": "x"}], idempotency_key="tab\tkey")
