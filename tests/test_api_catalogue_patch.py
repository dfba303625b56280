"""orchestrator-ui's metadata pages list the catalogue and edit descriptions (and a product's status) with PATCH;
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.subscription_support import add_subscription

from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductBlockTable, ProductTable, ResourceTypeTable, SubscriptionTable
from orchestrion.db.models import WorkflowTable
from orchestrion.testing import WorkflowInstanceForTests
from orchestrion.workflow import StepList, done, init, workflow

CATALOGUE: dict[str, Any] = {
    "product_blocks": {
        "Patch Port": {"description": "A port on a patch panel", "tag": "PP", "resources": {"port_no": "Port number"}},
        "Patch Panel": {
            "description": "A patch panel",
            "tag": "PANEL",
            "resources": {"rack": "Rack position"},
            "depends_on_block_relations": ["Patch Port"],
        },
    },
    "products": {
        "Patch 1G": {
            "product_type": "Patch",
            "description": "One gigabit patch",
            "tag": "PATCH",
            "product_blocks": ["Patch Port"],
        },
    },
    "workflows": {
        "patch_test_create": {"name": "patch_test_create", "target": "CREATE", "description": "Create a patch"},
    },
}


@workflow("Create a patch (code)")
def patch_test_create() -> StepList:
    return init >> done


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    ensure_catalogue(CATALOGUE, database)
    with (
        WorkflowInstanceForTests(patch_test_create, "patch_test_create"),
        TestClient(OrchestratorCore(database=database)) as c,
    ):
        yield c


@pytest.fixture
def ids(database: Database) -> dict[str, uuid.UUID]:
    with database.read() as s:
        return {
            "product": s.execute(select(ProductTable.product_id)).scalar_one(),
            "block": s.execute(
                select(ProductBlockTable.product_block_id).where(ProductBlockTable.name == "Patch Port")
            ).scalar_one(),
            "resource_type": s.execute(
                select(ResourceTypeTable.resource_type_id).where(ResourceTypeTable.resource_type == "port_no")
            ).scalar_one(),
            "workflow": s.execute(
                select(WorkflowTable.workflow_id).where(WorkflowTable.name == "patch_test_create")
            ).scalar_one(),
        }


def test_product_description_and_status(client: TestClient, ids: dict[str, uuid.UUID]) -> None:
    url = f"/api/products/{ids['product']}"
    changed = client.patch(url, json={"description": "1G patch, single mode"})
    assert changed.status_code == 201, changed.text
    assert (changed.json()["description"], changed.json()["status"]) == ("1G patch, single mode", "active")

    phased = client.patch(url, json={"status": "phase out"})
    assert (phased.json()["description"], phased.json()["status"]) == ("1G patch, single mode", "phase out")
    assert client.get(url).json()["status"] == "phase out"

    assert client.patch(url, json={"status": "retired"}).status_code == 400
    assert client.patch(url, json={}).json()["description"] == "1G patch, single mode"  # nothing given: unchanged


def test_end_of_life_waits_for_every_subscription_to_be_terminated(
    client: TestClient, database: Database, ids: dict[str, uuid.UUID]
) -> None:
    url = f"/api/products/{ids['product']}"
    living = add_subscription(database, ids["product"], status="active")
    add_subscription(database, ids["product"], status="terminated")

    refused = client.patch(url, json={"status": "end of life", "description": "going away"})
    assert refused.status_code == 400
    assert "1 subscription(s) are not terminated" in refused.json()["detail"]
    after = client.get(url).json()
    assert (after["status"], after["description"]) == ("active", "One gigabit patch")  # nothing of it was kept

    with database.write() as s:
        row = s.get(SubscriptionTable, living)
        assert row is not None
        row.status = "terminated"
    assert client.patch(url, json={"status": "end of life"}).json()["status"] == "end of life"


def test_product_block_and_resource_type_descriptions(client: TestClient, ids: dict[str, uuid.UUID]) -> None:
    block = client.patch(f"/api/product_blocks/{ids['block']}", json={"description": "Patch panel port"})
    assert block.status_code == 201, block.text
    assert block.json()["description"] == "Patch panel port"
    assert client.get(f"/api/product_blocks/{ids['block']}").json()["description"] == "Patch panel port"

    resource = client.patch(f"/api/resource_types/{ids['resource_type']}", json={"description": "Front port number"})
    assert resource.status_code == 201, resource.text
    assert resource.json()["description"] == "Front port number"
    assert client.get(f"/api/resource_types/{ids['resource_type']}").json()["description"] == "Front port number"
    shown = client.get(f"/api/product_blocks/{ids['block']}").json()["resource_types"]
    assert [r["description"] for r in shown] == ["Front port number"]


def test_workflow_description_is_the_rows_and_wins_over_the_code(client: TestClient, ids: dict[str, uuid.UUID]) -> None:
    changed = client.patch(f"/api/workflows/{ids['workflow']}", json={"description": "Patch two ports together"})
    assert changed.status_code == 201, changed.text
    assert (changed.json()["name"], changed.json()["description"]) == ("patch_test_create", "Patch two ports together")
    assert client.get("/api/workflows/patch_test_create").json()["description"] == "Patch two ports together"
    assert (
        client.patch(f"/api/workflows/{ids['workflow']}", json={}).json()["description"] == "Patch two ports together"
    )


@pytest.mark.parametrize("path", ["products", "product_blocks", "resource_types", "workflows"])
def test_unknown_ids_and_bad_bodies(client: TestClient, path: str) -> None:
    missing = client.patch(f"/api/{path}/{uuid.uuid4()}", json={"description": "nobody"})
    assert missing.status_code == 404
    assert client.patch(f"/api/{path}/not-an-id", json={"description": "x"}).status_code == 400
    too_long = client.patch(f"/api/{path}/{uuid.uuid4()}", json={"description": "x" * 2001})
    assert too_long.status_code == 400


def test_product_blocks_and_resource_types_are_listed(client: TestClient, ids: dict[str, uuid.UUID]) -> None:
    blocks = client.get("/api/product_blocks/").json()
    assert [(b["name"], [r["resource_type"] for r in b["resource_types"]]) for b in blocks] == [
        ("Patch Panel", ["rack"]),
        ("Patch Port", ["port_no"]),
    ]
    assert blocks[0]["depends_on"] == [{"product_block_id": str(ids["block"]), "name": "Patch Port"}]
    resource_types = client.get("/api/resource_types/").json()
    assert [(r["resource_type"], r["description"]) for r in resource_types] == [
        ("port_no", "Port number"),
        ("rack", "Rack position"),
    ]
