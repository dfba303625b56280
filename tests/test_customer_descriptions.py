"""``/api/subscription_customer_descriptions``: what a customer calls a subscription, over HTTP on SQLite and
PostgreSQL, with the bodies orchestrator-ui sends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.subscription_support import add_subscription, load_product

from orchestrion.app import OrchestratorCore
from orchestrion.db import Database

URL = "/api/subscription_customer_descriptions"


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    with TestClient(OrchestratorCore(database=database)) as c:
        yield c


@pytest.fixture
def subscription_id(database: Database) -> uuid.UUID:
    return add_subscription(database, load_product(database, "Described"))


def _body(subscription_id: uuid.UUID, description: str, customer: str = "acme", **extra: Any) -> dict[str, Any]:
    return {"customer_id": customer, "subscription_id": str(subscription_id), "description": description, **extra}


def _of(client: TestClient, subscription_id: uuid.UUID, customer: str = "acme") -> Any:
    return client.get(f"{URL}/customer/{customer}/subscription/{subscription_id}")


def test_create_and_read(client: TestClient, subscription_id: uuid.UUID) -> None:
    created = client.post(URL, json=_body(subscription_id, "ACME's uplink in Utrecht"))
    assert created.status_code == 204, created.text

    found = _of(client, subscription_id)
    assert found.status_code == 200
    description = found.json()
    assert (description["description"], description["customer_id"], description["version"]) == (
        "ACME's uplink in Utrecht",
        "acme",
        1,
    )
    assert description["subscription_id"] == str(subscription_id)
    assert client.get(f"{URL}/{description['id']}").json() == description
    assert _of(client, subscription_id, customer="globex").status_code == 404


def test_one_description_per_customer(client: TestClient, subscription_id: uuid.UUID) -> None:
    assert client.post(URL, json=_body(subscription_id, "first")).status_code == 204
    duplicate = client.post(URL, json=_body(subscription_id, "second"))
    assert duplicate.status_code == 409
    assert _of(client, subscription_id).json()["description"] == "first"
    assert client.post(URL, json=_body(subscription_id, "theirs", customer="globex")).status_code == 204  # another one


def test_unknown_subscription_is_404(client: TestClient) -> None:
    assert client.post(URL, json=_body(uuid.uuid4(), "nowhere")).status_code == 404


def test_update_as_the_ui_sends_it_and_versions(client: TestClient, subscription_id: uuid.UUID) -> None:
    client.post(URL, json=_body(subscription_id, "first"))
    first = _of(client, subscription_id).json()

    # orchestrator-ui's edit: id, customer, subscription and the text, no version
    edited = client.put(URL, json=_body(subscription_id, "second", id=first["id"]))
    assert edited.status_code == 204, edited.text
    second = _of(client, subscription_id).json()
    assert (second["id"], second["description"], second["version"]) == (first["id"], "second", 2)

    current = client.put(URL, json=_body(subscription_id, "third", id=first["id"], version=2))
    assert current.status_code == 204
    stale = client.put(URL, json=_body(subscription_id, "made on the first", id=first["id"], version=1))
    assert stale.status_code == 400
    assert "version 3" in stale.json()["detail"]
    assert _of(client, subscription_id).json()["description"] == "third"


def test_update_of_a_missing_description_is_404(client: TestClient, subscription_id: uuid.UUID) -> None:
    response = client.put(URL, json=_body(subscription_id, "never created", id=str(uuid.uuid4())))
    assert response.status_code == 404
    assert _of(client, subscription_id).status_code == 404


def test_delete_is_idempotent(client: TestClient, subscription_id: uuid.UUID) -> None:
    client.post(URL, json=_body(subscription_id, "short lived"))
    description_id = _of(client, subscription_id).json()["id"]
    assert client.delete(f"{URL}/{description_id}").status_code == 204
    assert client.get(f"{URL}/{description_id}").status_code == 404
    assert client.delete(f"{URL}/{description_id}").status_code == 204
    assert client.delete(f"{URL}/{uuid.uuid4()}").status_code == 204
    assert client.post(URL, json=_body(subscription_id, "again")).status_code == 204  # the customer may start over


def test_descriptions_go_with_their_subscription(
    client: TestClient, database: Database, subscription_id: uuid.UUID
) -> None:
    kept = add_subscription(database, load_product(database, "Described"))
    client.post(URL, json=_body(subscription_id, "goes"))
    client.post(URL, json=_body(subscription_id, "goes too", customer="globex"))
    client.post(URL, json=_body(kept, "stays"))
    gone = _of(client, subscription_id).json()["id"]

    assert client.delete(f"/api/subscriptions/{subscription_id}").status_code == 204
    assert client.get(f"{URL}/{gone}").status_code == 404
    assert _of(client, subscription_id, customer="globex").status_code == 404
    assert _of(client, kept).json()["description"] == "stays"


def test_bad_bodies_are_400(client: TestClient, subscription_id: uuid.UUID) -> None:
    assert client.post(URL, json={"customer_id": "acme", "description": "no subscription"}).status_code == 400
    assert client.post(URL, json=_body(subscription_id, "x" * 2001)).status_code == 400
    assert client.put(URL, json=_body(subscription_id, "no id")).status_code == 400
    assert client.get(f"{URL}/not-an-id").status_code == 400
