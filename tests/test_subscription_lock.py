"""The in-sync lock is a real lock: of two takers at the same moment exactly one wins."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import examples
from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable, SubscriptionTable
from orchestrion.services import subscriptions
from orchestrion.testing import assert_complete, extract_state, run_workflow


@pytest.fixture
def node_id(database: Database) -> str:
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        product = session.execute(select(ProductTable.product_id).where(ProductTable.name == "Node")).scalar_one()
    result, _, _ = run_workflow("create_node", [{"product": str(product)}, {"node_name": "rt9", "location": "Lab"}])
    assert_complete(result)
    return str(extract_state(result)["subscription_id"])


def _race(database: Database, subscription_id: UUID, takers: int) -> list[str]:
    """Each taker locks in its own transaction; all start together and hold their transaction briefly."""
    barrier = threading.Barrier(takers)
    outcomes: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        try:
            with database.write() as session:
                barrier.wait(timeout=10)
                subscriptions.lock(session, subscription_id)
                outcome = "locked"
        except subscriptions.SubscriptionLockedError:
            outcome = "refused"
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=take) for _ in range(takers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return sorted(outcomes)


def test_concurrent_lock_has_one_winner(database: Database, node_id: str) -> None:
    for _ in range(5):
        assert _race(database, UUID(node_id), 4) == ["locked", "refused", "refused", "refused"]
        with database.write() as session:
            session.get(SubscriptionTable, UUID(node_id)).insync = True  # type: ignore[union-attr]


def test_workflows_endpoint_lists_the_products_workflows(database: Database, node_id: str) -> None:
    with database.write() as session:
        subscriptions.lock(session, UUID(node_id))
    workflows = TestClient(OrchestratorCore(database=database)).get(f"/api/subscriptions/workflows/{node_id}").json()
    assert workflows["create"] == [
        {"name": "create_node", "description": "Create node", "reason": "subscription.not_in_sync"}
    ]
    with database.write() as session:
        session.get(SubscriptionTable, UUID(node_id)).insync = True  # type: ignore[union-attr]


def test_set_in_sync_refuses_while_a_process_is_open(database: Database, node_id: str) -> None:
    client = TestClient(OrchestratorCore(database=database))
    with database.write() as session:
        subscriptions.lock(session, UUID(node_id))
    assert client.get(f"/api/subscriptions/{node_id}").json()["insync"] is False
    assert client.put(f"/api/subscriptions/{node_id}/set_in_sync").status_code == 200
    assert client.get(f"/api/subscriptions/{node_id}").json()["insync"] is True
    model = client.get(f"/api/subscriptions/domain-model/{node_id}").json()
    assert model["node"]["node_name"] == "rt9"
    assert model["in_use_by_ids"] == []
    listing = client.get("/api/subscriptions/", params={"filter": "product,Node"})
    assert [s["subscription_id"] for s in listing.json()] == [node_id]
    assert client.get("/api/subscriptions/", params={"filter": "colour,red"}).status_code == 400
    assert client.delete(f"/api/subscriptions/{node_id}").status_code == 409  # processes refer to it


@pytest.mark.parametrize("expired", [False, True], ids=["loaded", "expired"])
def test_the_lock_shows_on_the_row_object_its_session_holds(database: Database, node_id: str, expired: bool) -> None:
    """As an update through the session would; an expired object reloads, and must not count the lock twice."""
    with database.write() as session:
        row = session.get(SubscriptionTable, UUID(node_id))
        assert row is not None and row.insync
        version = row.version
        if expired:
            session.expire(row)
        subscriptions.lock(session, UUID(node_id))
        assert (row.insync, row.version) == (False, version + 1)


def test_the_lock_keeps_a_change_the_session_has_not_written_yet(database: Database, node_id: str) -> None:
    with database.write() as session:
        row = session.get(SubscriptionTable, UUID(node_id))
        assert row is not None
        row.description = "changed meanwhile"
        subscriptions.lock(session, UUID(node_id))
        assert row.description == "changed meanwhile"
    with database.read() as session:
        stored = session.get(SubscriptionTable, UUID(node_id))
        assert stored is not None and stored.description == "changed meanwhile"
