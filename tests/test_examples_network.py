"""The example network catalogue end to end through the test kit: create, modify, validate, terminate."""

from __future__ import annotations

import threading
import time
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from pydantic_forms.exceptions import FormValidationError
from sqlalchemy import select, text
from tests.example_support import create, finished, modify_port

import examples
from examples import inventory
from examples.products.circuit import Circuit
from examples.products.port import Port, PortMode
from orchestrion import db
from orchestrion.app import OrchestratorCore
from orchestrion.catalogue import ensure_catalogue, load_file
from orchestrion.db import Database
from orchestrion.db.domain_models import ProcessSubscriptionTable, ProductTable, SubscriptionTable
from orchestrion.domain import SubscriptionModel
from orchestrion.runtime import current
from orchestrion.testing import (
    assert_complete,
    assert_failed,
    assert_suspended,
    extract_error,
    extract_state,
    resume_workflow,
    run_workflow,
)


@pytest.fixture
def products(database: Database) -> dict[str, str]:
    ensure_catalogue(load_file(examples.CATALOGUE))
    with database.read() as session:
        return {p.name: str(p.product_id) for p in session.execute(select(ProductTable)).scalars()}


def _create(workflow: str, pages: list[dict[str, object]]) -> str:
    return create(workflow, pages)[0]


def _inventory(key: str) -> dict[str, object] | None:
    with db.get_database().write():
        return inventory.lookup(key)


def _load(subscription_id: str) -> SubscriptionModel:
    with db.get_database().write():
        return SubscriptionModel.from_subscription(subscription_id)


def _network(products: dict[str, str]) -> tuple[str, str, str, str]:
    node = _create("create_node", [{"product": products["Node"]}, {"node_name": "rt1", "location": "Amsterdam"}])
    port_a = _create("create_port", [{"product": products["Port 10G"]}, {"node": node, "port_name": "xe-0/0/1"}])
    port_b = _create(
        "create_port", [{"product": products["Port 100G"]}, {"node": node, "port_name": "et-0/0/2", "mode": "untagged"}]
    )
    circuit = _create(
        "create_circuit",
        [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_b}, {"bandwidth": 10}],
    )
    return node, port_a, port_b, circuit


def test_create_builds_active_subscriptions_that_reference_each_other(products: dict[str, str]) -> None:
    node, port_a, port_b, circuit_id = _network(products)
    port = _load(port_a)
    assert isinstance(port, Port)
    assert port.status == "active" and port.insync and port.start_date is not None
    assert port.speed == 10
    assert str(port.port.node.owner_subscription_id) == node  # a reference, not a copy
    circuit = _load(circuit_id)
    assert isinstance(circuit, Circuit)
    assert [str(p.owner_subscription_id) for p in circuit.circuit.ports] == [port_a, port_b]
    assert circuit.circuit.circuit_id > 1000
    assert _inventory(circuit_id) is not None
    with db.get_database().read() as session:
        linked = session.execute(
            select(ProcessSubscriptionTable.process_id).where(ProcessSubscriptionTable.subscription_id == UUID(port_a))
        ).all()
    assert len(linked) == 1


def test_modify_is_seen_through_the_referencing_subscription(products: dict[str, str]) -> None:
    _, port_a, _, circuit_id = _network(products)
    modify_port(port_a, "untagged")
    circuit = _load(circuit_id)
    assert isinstance(circuit, Circuit)
    assert circuit.circuit.ports[0].mode == PortMode.UNTAGGED
    assert _inventory(port_a) == {"kind": "port", "mode": "untagged", "provisioned": True, "answered_busy": True}
    port = _load(port_a)
    assert port.insync and port.version > 1


def test_terminate_is_refused_while_in_use_then_allowed(products: dict[str, str]) -> None:
    _, port_a, _, circuit_id = _network(products)
    with pytest.raises(FormValidationError) as refused:
        run_workflow("terminate_port", [{"subscription_id": port_a}])
    assert "used in other subscriptions" in str(refused.value)
    assert_complete(run_workflow("terminate_circuit", [{"subscription_id": circuit_id}])[0])
    assert _load(circuit_id).status == "terminated"
    assert_complete(run_workflow("terminate_port", [{"subscription_id": port_a}])[0])
    port = _load(port_a)
    assert port.status == "terminated" and port.end_date is not None
    assert _inventory(port_a) is None


def test_validate_finds_drift_in_the_inventory(products: dict[str, str]) -> None:
    _, port_a, _, _ = _network(products)
    assert_complete(run_workflow("validate_port", [{"subscription_id": port_a}])[0])
    with db.get_database().write():
        inventory.provision(port_a, mode="untagged")  # someone changed the port behind our back
    result, _, _ = run_workflow("validate_port", [{"subscription_id": port_a}])
    assert_failed(result)
    assert extract_error(result) == "Port mode differs from the inventory"
    with db.get_database().read() as session:
        insync = session.execute(
            select(SubscriptionTable.insync).where(SubscriptionTable.subscription_id == UUID(port_a))
        ).scalar_one()
    assert insync is False  # the failed validation holds the lock until it is retried or resolved


def test_modify_refuses_a_locked_subscription_and_an_unknown_one(products: dict[str, str]) -> None:
    _, port_a, _, circuit = _network(products)
    with db.get_database().write():
        inventory.deprovision(port_a)
    assert_failed(run_workflow("validate_port", [{"subscription_id": port_a}])[0])
    with pytest.raises(FormValidationError) as locked:
        run_workflow("modify_port", [{"subscription_id": port_a}, {"mode": "tagged"}])
    assert "This workflow cannot be started: Subscription already has a running process or task" in str(locked.value)
    with pytest.raises(FormValidationError) as related:  # the circuit uses the locked port: orchestrator-core's words
        run_workflow("terminate_circuit", [{"subscription_id": circuit}])
    assert "This workflow cannot be started: related subscriptions are not insync" in str(related.value)
    with pytest.raises(FormValidationError) as unknown:
        run_workflow("modify_port", [{"subscription_id": "00000000-0000-0000-0000-000000000000"}])
    assert "Subscription not found" in str(unknown.value)


def test_process_list_filters_by_subscription_data(products: dict[str, str]) -> None:
    _, port_a, _, _ = _network(products)
    client = TestClient(OrchestratorCore(database=db.get_database()))
    by_product = client.get("/api/processes/", params={"filter": "product,Circuit"}).json()
    assert [p["workflow_name"] for p in by_product] == ["create_circuit"]
    assert by_product[0]["subscriptions"][0]["product"]["name"] == "Circuit"
    by_subscription = client.get("/api/processes/", params={"filter": f"subscription_id,{port_a}"}).json()
    assert [p["workflow_name"] for p in by_subscription] == ["create_port"]
    by_customer = client.get("/api/processes/", params={"filter": "customer,demo-customer,tag,PORT"}).json()
    assert sorted(p["workflow_name"] for p in by_customer) == ["create_port", "create_port"]
    assert client.get("/api/processes/", params={"filter": "customer,nobody"}).json() == []
    by_text = client.get("/api/processes/", params={"filter": "q,et-0/0/2"}).json()  # a subscription's description
    assert sorted(p["workflow_name"] for p in by_text) == ["create_circuit", "create_port"]
    detail = client.get(f"/api/processes/{by_subscription[0]['process_id']}").json()
    assert detail["subscriptions"][0]["subscription_id"] == port_a


def test_circuit_form_refuses_the_same_port_twice(products: dict[str, str]) -> None:
    _, port_a, _, _ = _network(products)
    with pytest.raises(FormValidationError) as refused:
        run_workflow("create_circuit", [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_a}])
    assert "A circuit needs two different ports" in str(refused.value)


def test_workflows_api_lists_linked_products_and_the_catalogue_description(products: dict[str, str]) -> None:
    client = TestClient(OrchestratorCore(database=db.get_database()))
    create_port = client.get("/api/workflows/create_port").json()
    assert [p["name"] for p in create_port["products"]] == ["Port 100G", "Port 10G"]
    assert create_port["description"] == "Create port"
    by_id = client.get(f"/api/workflows/{create_port['workflow_id']}").json()
    assert by_id["name"] == "create_port"


def test_the_inventory_is_kept_in_the_database_across_a_restart(products: dict[str, str], database: Database) -> None:
    """A new connection (as after a restart) sees what the steps provisioned: validate_port still passes."""
    _, port_a, _, circuit_id = _network(products)
    restarted = Database(database.uri)
    try:
        with restarted.read() as session:
            record = session.get(inventory.InventoryRecord, port_a)
            assert record is not None and record.attributes == {"kind": "port", "mode": "tagged", "provisioned": True}
            assert session.get(inventory.InventoryRecord, circuit_id).circuit_id == 1001  # type: ignore[union-attr]
    finally:
        restarted.dispose()
    assert_complete(run_workflow("validate_port", [{"subscription_id": port_a}])[0])


@pytest.mark.parametrize(
    ("page", "field"),
    [
        ({"bandwidth": -5}, "bandwidth"),
        ({"bandwidth": 0}, "bandwidth"),
        ({"bandwidth": 101}, "bandwidth"),
    ],
)
def test_circuit_form_refuses_a_bandwidth_out_of_bounds(
    products: dict[str, str], page: dict[str, object], field: str
) -> None:
    _, port_a, port_b, _ = _network(products)
    with pytest.raises(FormValidationError) as refused:
        run_workflow("create_circuit", [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_b}, page])
    assert field in str(refused.value)


@pytest.mark.parametrize(
    "page",
    [
        {"node_name": "", "location": "Amsterdam"},
        {"node_name": "rt 1; drop", "location": "Amsterdam"},
        {"node_name": "rt1", "location": ""},
    ],
)
def test_node_form_refuses_names_the_inventory_would_not_take(
    products: dict[str, str], page: dict[str, object]
) -> None:
    with pytest.raises(FormValidationError):
        run_workflow("create_node", [{"product": products["Node"]}, page])


def test_a_large_circuit_waits_for_approval_then_is_provisioned(products: dict[str, str]) -> None:
    _, port_a, port_b, _ = _network(products)  # its 10 Gbit/s circuit needed no approval
    pages = [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_b}, {"bandwidth": 40}]
    result, process, step_log = run_workflow("create_circuit", pages)
    assert_suspended(result)
    assert step_log[-1].name == "Approve circuit"
    with pytest.raises(FormValidationError) as refused:
        resume_workflow(process, step_log, [{"approved": False}])
    assert "Approve the circuit, or abort the process" in str(refused.value)
    resume_workflow(process, step_log, [{"approved": True}])  # awaits the inventory's call (or has had it)
    result = finished(process)
    circuit_id = str(extract_state(result)["subscription_id"])
    circuit = _load(circuit_id)
    assert isinstance(circuit, Circuit) and circuit.status == "active" and circuit.circuit.bandwidth == 40
    assert _inventory(circuit_id) is not None


def test_the_first_change_of_a_port_is_answered_busy_and_a_retry_succeeds(
    products: dict[str, str], database: Database
) -> None:
    _, port_a, port_b, _ = _network(products)
    result, process, step_log = run_workflow("modify_port", [{"subscription_id": port_a}, {"mode": "untagged"}])
    assert_failed(result)
    assert extract_error(result) == "The inventory is busy with another change of this record; retry"
    assert step_log[-1].name == "Update port in the inventory"
    assert _inventory(port_a) == {"kind": "port", "mode": "tagged", "provisioned": True, "answered_busy": True}
    assert _load(port_a).insync is False  # the failed process holds the port until it is retried
    restarted = Database(database.uri)  # the inventory remembers having answered: a restart changes nothing
    try:
        with restarted.read() as session:
            record = session.get(inventory.InventoryRecord, port_a)
            assert record is not None and record.attributes["answered_busy"] is True
    finally:
        restarted.dispose()
    result, step_log = resume_workflow(process, step_log, [{}])  # what an operator's "Retry" does
    assert_complete(result)
    assert _inventory(port_a) == {"kind": "port", "mode": "untagged", "provisioned": True, "answered_busy": True}
    port = _load(port_a)
    assert isinstance(port, Port) and port.port.mode == PortMode.UNTAGGED and port.insync
    assert_complete(run_workflow("modify_port", [{"subscription_id": port_a}, {"mode": "tagged"}])[0])  # once only
    assert_failed(run_workflow("modify_port", [{"subscription_id": port_b}, {"mode": "tagged"}])[0])  # per port


def test_the_inventory_activates_a_circuit_by_calling_the_process_back(products: dict[str, str]) -> None:
    _, port_a, port_b, _ = _network(products)
    pages = [{"product": products["Circuit"]}, {"port_a": port_a, "port_b": port_b}, {"bandwidth": 5}]
    result, process, _ = run_workflow("create_circuit", pages)
    # the inventory answers from a thread of its own once the request committed: by now, or soon
    route = extract_state(result)["callback_route"]
    assert route.startswith(f"/api/processes/{process.process_id}/callback/")
    result = finished(process)
    assert "Activate circuit" in [name for name, _status, _state in current().store.history(process.process_id)]
    circuit_id = str(extract_state(result)["subscription_id"])
    circuit = _load(circuit_id)
    assert isinstance(circuit, Circuit) and circuit.status == "active"
    answer = {"activation": "active", "circuit_id": circuit.circuit.circuit_id}
    assert extract_state(result)["callback_result"] == answer == extract_state(result)["activation"]
    assert _inventory(circuit_id) == {
        "kind": "circuit",
        "ports": [port_a, port_b],
        "provisioned": True,
        "activation": "active",
        "circuit_id": circuit.circuit.circuit_id,
    }
    history = [(name, status) for name, status, _ in current().store.history(process.process_id)]
    assert ("Activate circuit", "success") in history and history[-1] == ("Done", "complete")


@pytest.mark.postgres
def test_two_transactions_creating_the_inventory_table_at_once_both_succeed(postgres_db: Database) -> None:
    """Two processes' first steps on a fresh PostgreSQL database: the second waits for the first's table."""
    with postgres_db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS example_inventory"))
    first_holds_it, release_first = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def create(then_wait: bool) -> None:
        try:
            with postgres_db.write():
                inventory.provision(str(uuid4()), kind="test")
                if then_wait:
                    first_holds_it.set()
                    assert release_first.wait(60)
        except BaseException as e:  # reported by the test below
            errors.append(e)

    first = threading.Thread(target=create, args=(True,))
    first.start()
    assert first_holds_it.wait(60)
    second = threading.Thread(target=create, args=(False,))
    second.start()
    deadline = time.monotonic() + 60
    with postgres_db.engine.connect() as watcher:  # until the second waits for the first
        while not watcher.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND (query LIKE '%pg_advisory_xact_lock%' OR query LIKE '%CREATE TABLE example_inventory%')"
            )
        ).scalar():
            assert time.monotonic() < deadline, "the second transaction never waited for the first"
            watcher.rollback()
            threading.Event().wait(0.01)
    release_first.set()
    first.join(60)
    second.join(60)
    assert errors == []
    with postgres_db.read() as session:
        assert len(session.execute(select(inventory.InventoryRecord)).all()) == 2
