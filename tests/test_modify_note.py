"""The built-in ``modify_note`` workflow over HTTP, as orchestrator-ui starts it, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.subscription_support import (
    add_subscription,
    load_product,
    subscription_row,
)

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database
from orchestrion.forms import SubmitFormPage
from orchestrion.services.processes import NOTE_LENGTH
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.workflow import StepList, begin, inputstep
from orchestrion.workflows.utils import modify_workflow

HOLD = "note_test_hold"


@inputstep("Wait for the engineer", assignee="NOC")
def wait_for_engineer() -> type[SubmitFormPage]:
    class DonePage(SubmitFormPage):
        done: bool

    return DonePage


@modify_workflow("Holds the subscription until an engineer is done")
def note_test_hold() -> StepList:
    return begin >> wait_for_engineer


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with WorkflowInstanceForTests(note_test_hold, HOLD), TestClient(OrchestratorCore(database=database)) as c:
        yield c


@pytest.fixture
def subscription_id(database: Database, client: TestClient) -> uuid.UUID:
    product_id = load_product(database, "NoteWidget", {HOLD: "MODIFY"})
    return add_subscription(database, product_id, note="old remark")


def _start(client: TestClient, workflow: str, pages: list[dict[str, object]]) -> dict[str, object]:
    response = client.post(f"/api/processes/{workflow}", json=pages)
    assert response.status_code == 201, response.text
    detail = client.get(f"/api/processes/{response.json()['id']}").json()
    assert isinstance(detail, dict)
    return detail


def test_the_form_offers_the_current_note(client: TestClient, subscription_id: uuid.UUID) -> None:
    first = client.post("/api/processes/modify_note", json=[])
    assert first.status_code == 510
    assert "subscription_id" in first.json()["form"]["properties"]

    second = client.post("/api/processes/modify_note", json=[{"subscription_id": str(subscription_id)}])
    assert second.status_code == 510
    assert second.json()["form"]["properties"]["note"]["default"] == "old remark"


def test_the_note_changes_while_another_process_holds_the_subscription(
    client: TestClient, database: Database, subscription_id: uuid.UUID
) -> None:
    hold = _start(client, HOLD, [{"subscription_id": str(subscription_id)}])
    assert hold["last_status"] == "suspended"
    held = subscription_row(database, subscription_id)
    assert held["insync"] is False

    usable = client.get(f"/api/subscriptions/workflows/{subscription_id}").json()["modify"]
    assert {wf["name"]: wf.get("reason") for wf in usable} == {HOLD: "subscription.not_in_sync", "modify_note": None}

    note = _start(client, "modify_note", [{"subscription_id": str(subscription_id)}, {"note": "call NOC first"}])
    assert note["last_status"] == "completed", note["failed_reason"]
    assert note["current_state"]["old_note"] == "old remark"
    assert [s["subscription_id"] for s in note["subscriptions"]] == [str(subscription_id)]  # in its audit trail
    noted = subscription_row(database, subscription_id)
    # The note is in; the lock and the version are the holder's still, so its own save is not stale.
    assert noted == {**held, "note": "call NOC first"}

    resumed = client.put(f"/api/processes/{hold['process_id']}/resume", json=[{"done": True}])
    assert resumed.status_code == 204, resumed.text
    assert client.get(f"/api/processes/{hold['process_id']}").json()["last_status"] == "completed"
    after = subscription_row(database, subscription_id)
    assert after["insync"] is True
    assert after["note"] == "call NOC first"  # the holder's unlock did not write its old copy back


def test_an_empty_note_clears_it(client: TestClient, database: Database, subscription_id: uuid.UUID) -> None:
    note = _start(client, "modify_note", [{"subscription_id": str(subscription_id)}, {"note": ""}])
    assert note["last_status"] == "completed"
    assert subscription_row(database, subscription_id)["note"] is None


def test_a_note_too_long_is_refused_and_nothing_starts(
    client: TestClient, database: Database, subscription_id: uuid.UUID
) -> None:
    pages = [{"subscription_id": str(subscription_id)}, {"note": "x" * (NOTE_LENGTH + 1)}]
    response = client.post("/api/processes/modify_note", json=pages)
    assert response.status_code == 400
    assert [e["loc"] for e in response.json()["validation_errors"]] == [["note"]]
    assert client.get("/api/processes/").json() == []
    assert subscription_row(database, subscription_id)["note"] == "old remark"


def test_a_terminated_subscription_is_refused(client: TestClient, database: Database) -> None:
    gone = add_subscription(database, load_product(database, "NoteGone"), status="terminated")
    response = client.post("/api/processes/modify_note", json=[{"subscription_id": str(gone)}, {"note": "late"}])
    assert response.status_code == 400
    assert "status" in response.json()["validation_errors"][0]["msg"]


def test_every_product_gets_it_including_those_loaded_later(
    client: TestClient, database: Database, subscription_id: uuid.UUID
) -> None:
    later = load_product(database, "NoteLater")
    assert "modify_note" in [wf["name"] for wf in client.get(f"/api/products/{later}").json()["workflows"]]

    fresh = add_subscription(database, later)
    note = _start(client, "modify_note", [{"subscription_id": str(fresh)}, {"note": "new product, new note"}])
    assert note["last_status"] == "completed"
    assert subscription_row(database, fresh)["note"] == "new product, new note"
