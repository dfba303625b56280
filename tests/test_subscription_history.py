"""Every subscription's history: create, modify and terminate the example network through real processes,
read versions, points in time and diffs through the API, and check what a rolled back step leaves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.domain_support import counting_statements, data_statements
from tests.example_support import create, modify_port

import examples
from examples.products.circuit import Circuit
from examples.products.node import NodeInactive
from examples.products.port import Port, PortMode
from orchestrion import db
from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProductTable, SubscriptionVersionTable
from orchestrion.engine.steps import done, init, step
from orchestrion.engine.workflow import Workflow
from orchestrion.services import subscriptions
from orchestrion.testing import assert_complete, assert_failed, run_workflow
from orchestrion.types import State


@pytest.fixture
def products(database: Database) -> dict[str, str]:
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        return {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}


@pytest.fixture
def client(database: Database) -> TestClient:
    return TestClient(OrchestratorCore(database=db.get_database()))


def _create(workflow: str, pages: list[dict[str, object]]) -> tuple[str, str]:
    subscription_id, process = create(workflow, pages)
    return subscription_id, str(process.process_id)


def _network(products: dict[str, str]) -> dict[str, tuple[str, str]]:
    """(subscription, creating process) of a node, two ports on it and a circuit between them."""
    node = _create("create_node", [{"product": products["Node"]}, {"node_name": "rt1", "location": "Amsterdam"}])
    port_a = _create("create_port", [{"product": products["Port 10G"]}, {"node": node[0], "port_name": "xe-0/0/1"}])
    port_b = _create(
        "create_port",
        [{"product": products["Port 100G"]}, {"node": node[0], "port_name": "et-0/0/2", "mode": "untagged"}],
    )
    circuit = _create(
        "create_circuit",
        [{"product": products["Circuit"]}, {"port_a": port_a[0], "port_b": port_b[0]}, {"bandwidth": 10}],
    )
    return {"node": node, "port_a": port_a, "port_b": port_b, "circuit": circuit}


def _get(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get(f"/api/subscriptions/{path}")
    assert response.status_code == status, response.text
    return response.json()


def _versions(client: TestClient, subscription_id: str) -> list[dict[str, Any]]:
    """Oldest first (the API answers newest first)."""
    return list(reversed(_get(client, f"{subscription_id}/versions")))


def _port_block(snapshot: dict[str, Any]) -> dict[str, Any]:
    (block,) = (b for b in snapshot["blocks"].values() if b["name"] == "Port")
    return block


def test_create_modify_terminate_keep_numbered_versions_made_by_their_process_and_step(
    products: dict[str, str], client: TestClient
) -> None:
    network = _network(products)
    port_a, create_process = network["port_a"]
    created = _versions(client, port_a)
    assert [v["version"] for v in created] == list(range(1, len(created) + 1))
    assert {v["process_id"] for v in created} == {create_process}
    assert created[0]["step_name"] == "Construct port" and created[0]["summary"].startswith("created")
    assert [v["step_name"] for v in created[-2:]] == ["Set subscription to 'active'", "Unlock subscription"]
    first = _get(client, f"{port_a}/versions/1")["subscription"]
    assert first["status"] == "initial" and _port_block(first)["values"]["mode"] == ["tagged"]
    node_reference = {"subscription_id": network["node"][0], "block": "Node"}
    assert list(first["references"].values()) == [node_reference]  # the port holds the node's block

    modify = modify_port(port_a, PortMode.UNTAGGED)
    modified = _versions(client, port_a)[len(created) :]
    assert {v["process_id"] for v in modified} == {str(modify.process_id)}
    (change,) = (v for v in modified if v["step_name"] == "Change port mode")
    (block,) = change["changes"]["blocks"]["changed"]
    assert block["name"] == "Port" and block["values"] == {"mode": {"old": ["tagged"], "new": ["untagged"]}}
    assert change["summary"] == "1 value(s) changed"
    assert _get(client, f"{port_a}/versions/{change['version']}")["subscription"]["insync"] is False  # locked

    circuit = network["circuit"][0]
    result, terminate, _ = run_workflow("terminate_circuit", [{"subscription_id": circuit}])
    assert_complete(result)
    last = _versions(client, circuit)[-2:]
    assert {v["process_id"] for v in last} == {str(terminate.process_id)}
    assert last[0]["changes"]["fields"]["status"] == {"old": "active", "new": "terminated"}
    end = _get(client, f"{circuit}/versions/{last[-1]['version']}")["subscription"]
    assert end["status"] == "terminated" and end["end_date"] is not None and end["insync"] is True


def test_the_diff_names_resource_values_and_the_subscriptions_referred_to(
    products: dict[str, str], client: TestClient, register: Callable[..., Workflow]
) -> None:
    network = _network(products)
    circuit, port_a, port_b = network["circuit"][0], network["port_a"][0], network["port_b"][0]
    port_c, _ = _create(
        "create_port", [{"product": products["Port 10G"]}, {"node": network["node"][0], "port_name": "xe-0/0/3"}]
    )
    created = _get(client, f"{circuit}/diff?from=0&to=1")
    assert {r["subscription_id"] for r in created["references"]["added"]} == {port_a, port_b}
    assert created["fields"]["status"] == {"old": None, "new": "initial"}

    @step("Move port b")
    def move_port_b() -> State:
        model = Circuit.from_subscription(circuit)
        model.circuit.ports = [model.circuit.ports[0], Port.from_subscription(port_c).port]
        model.circuit.circuit_id += 1
        return {"subscription": model}

    register("move_circuit_port", init >> move_port_b >> done)
    assert_complete(run_workflow("move_circuit_port", [{}])[0])
    newest = _versions(client, circuit)[-1]
    assert newest["step_name"] == "Move port b"
    moved = _get(client, f"{circuit}/diff?from={newest['version'] - 1}&to={newest['version']}")
    assert [r["subscription_id"] for r in moved["references"]["added"]] == [port_c]
    assert [r["subscription_id"] for r in moved["references"]["removed"]] == [port_b]
    (block,) = moved["blocks"]["changed"]
    assert block["name"] == "Circuit" and list(block["holds"]) == ["ports"]
    (old_id,) = block["values"]["circuit_id"]["old"]
    assert block["values"]["circuit_id"]["new"] == [str(int(old_id) + 1)]
    assert moved["fields"] == {} and moved["blocks"]["added"] == moved["blocks"]["removed"] == []
    backwards = _get(client, f"{circuit}/diff?from={newest['version']}&to={newest['version'] - 1}")
    assert backwards["references"]["added"] == moved["references"]["removed"]
    assert "2 reference(s)" not in newest["summary"] and "1 reference(s) added" in newest["summary"]


def test_loading_a_subscription_does_not_read_its_history(products: dict[str, str], database: Database) -> None:
    circuit = _network(products)["circuit"][0]
    with counting_statements(database) as statements, database.read():
        Circuit.from_subscription(circuit)
    read = data_statements(statements)
    assert len(read) == 3 and not [s for s in read if "subscription_versions" in s]


def test_a_point_in_time_reads_the_version_current_then(products: dict[str, str], client: TestClient) -> None:
    node = _network(products)["node"][0]
    versions = _versions(client, node)
    first, second = (_get(client, f"{node}/versions/{n}") for n in (1, 2))
    assert first["subscription"] != second["subscription"]

    def at(moment: str) -> Any:
        return client.get(f"/api/subscriptions/{node}/versions", params={"at": moment})

    assert at(versions[0]["created_at"]).json() == first
    just_before_second = (second_time := datetime.fromisoformat(second["created_at"])) - timedelta(microseconds=1)
    assert at(just_before_second.isoformat()).json() == first
    assert at(second_time.isoformat()).json()["version"] == 2
    before = at((datetime.fromisoformat(first["created_at"]) - timedelta(seconds=1)).isoformat())
    assert before.status_code == 404
    naive = datetime.fromisoformat(versions[0]["created_at"]).replace(tzinfo=None).isoformat()
    assert "+" not in naive and at(naive).json() == first  # a time without an offset is UTC
    assert at("2999-01-01T00:00:00Z").json()["version"] == versions[-1]["version"]


def test_a_failed_step_that_saved_leaves_no_version(
    products: dict[str, str], client: TestClient, register: Callable[..., Workflow]
) -> None:
    port = _network(products)["port_a"][0]
    before = _versions(client, port)

    @step("Save then fail")
    def save_then_fail() -> State:
        model = Port.from_subscription(port)
        model.port.mode = PortMode.UNTAGGED
        model.save()
        raise RuntimeError("the device refused")

    register("save_then_fail", init >> save_then_fail >> done)
    assert_failed(run_workflow("save_then_fail", [{}])[0])
    assert _versions(client, port) == before
    assert Port.from_subscription(port).port.mode == PortMode.TAGGED


def test_set_in_sync_and_the_lock_make_versions_outside_a_step(
    products: dict[str, str], client: TestClient, database: Database
) -> None:
    node = _network(products)["node"][0]
    count = len(_versions(client, node))
    with database.write() as session:
        subscriptions.lock(session, UUID(node))
    response = client.put(f"/api/subscriptions/{node}/set_in_sync")
    assert response.status_code == 200, response.text
    locked, released = _versions(client, node)[count:]
    assert (locked["process_id"], locked["step_name"]) == (None, None)
    assert locked["changes"]["fields"] == {"insync": {"old": True, "new": False}}
    assert released["changes"]["fields"] == {"insync": {"old": False, "new": True}}
    assert released["version"] == count + 2


def test_versions_are_paged_and_go_with_their_subscription(
    products: dict[str, str], client: TestClient, database: Database
) -> None:
    node, _ = _create("create_node", [{"product": products["Node"]}, {"node_name": "rt9", "location": "Utrecht"}])
    response = client.get(f"/api/subscriptions/{node}/versions", params={"range": "1,3"})
    assert response.status_code == 200
    total = len(_versions(client, node))
    assert response.headers["Content-Range"] == f"versions 1-3/{total}"
    assert [v["version"] for v in response.json()] == [total - 1, total - 2]
    _get(client, f"{node}/versions/{total + 1}", 404)
    _get(client, f"{node}/diff?from=1&to={total + 1}", 404)
    _get(client, "00000000-0000-0000-0000-000000000000/versions", 404)
    with database.write():  # saved outside any process: a version no process made
        spare = NodeInactive.from_product_id(products["Node"], "customer")
        spare.save()
    spare_id = str(spare.subscription_id)
    assert [(v["process_id"], v["step_name"]) for v in _versions(client, spare_id)] == [(None, None)]
    assert client.delete(f"/api/subscriptions/{spare_id}").status_code == 204
    with database.read() as session:
        versions = SubscriptionVersionTable
        assert session.scalars(select(versions).where(versions.subscription_id == spare.subscription_id)).all() == []
