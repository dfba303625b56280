"""Domain models in workflows: typed step parameters loaded from the database, returned models saved."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from tests.domain_support import (
    ItemBlockInactive,
    Port,
    PortInactive,
    Widget,
    WidgetInactive,
    WidgetProvisioning,
    insert_catalogue,
)

from orchestrion.db import Database
from orchestrion.db.domain_models import SubscriptionTable
from orchestrion.domain.base import SubscriptionModel
from orchestrion.forms import FormPage
from orchestrion.targets import Target
from orchestrion.testing import (
    WorkflowInstanceForTests,
    assert_complete,
    assert_failed,
    extract_error,
    extract_state,
    run_workflow,
)
from orchestrion.types import State, SubscriptionLifecycle, UUIDstr
from orchestrion.workflow import StepList, done, init, step, workflow

L = SubscriptionLifecycle


def _create_form() -> type[FormPage]:
    class CreatePage(FormPage):
        product: UUIDstr
        customer_id: str

    return CreatePage


@step("Create subscription")
def create_subscription(product: UUIDstr, customer_id: str) -> State:
    subscription = WidgetInactive.from_product_id(product, customer_id)
    subscription.container.single.number = 1
    return {"subscription": subscription, "subscription_id": subscription.subscription_id}


@step("Change it behind the state's back")
def touch(subscription_id: uuid.UUID) -> State:
    subscription = WidgetInactive.from_subscription(subscription_id)
    subscription.note = "touched"
    subscription.save()
    return {}


@step("Inspect")
def inspect_subscription(subscription: WidgetInactive) -> State:
    return {"seen": {"type": type(subscription).__name__, "note": subscription.note, "version": subscription.version}}


@step("Provision")
def provision(subscription: WidgetInactive) -> State:
    subscription.container.items = [ItemBlockInactive.new(subscription.subscription_id, number=2)]
    return {"subscription": SubscriptionModel.from_other_lifecycle(subscription, L.PROVISIONING)}


@step("Receive the lifecycle class")
def receive_provisioning(subscription: WidgetProvisioning | Widget) -> State:
    return {"received": type(subscription).__name__}


@workflow("Create a widget", initial_input_form=_create_form, target=Target.CREATE)
def create_widget() -> StepList:
    return init >> create_subscription >> touch >> inspect_subscription >> provision >> receive_provisioning >> done


@pytest.fixture
def products(database: Database) -> dict[str, uuid.UUID]:
    return insert_catalogue(database)


def _subscriptions(database: Database) -> int:
    with database.read() as session:
        return session.execute(select(func.count()).select_from(SubscriptionTable)).scalar_one()


def test_steps_create_return_and_receive_subscriptions_typed_from_the_database(
    database: Database, products: dict[str, uuid.UUID]
) -> None:
    with WorkflowInstanceForTests(create_widget, "test_domain_create_widget"):
        result, _, log = run_workflow(
            "test_domain_create_widget", [{"product": str(products["Test Widget"]), "customer_id": "c1"}]
        )
    assert_complete(result)
    state = extract_state(result)
    # The state held version 1 and no note: the step saw the database, not the state.
    assert state["seen"] == {"type": "WidgetInactive", "note": "touched", "version": 2}
    assert state["received"] == "WidgetProvisioning"
    # The state keeps the JSON dump of the returned model, as saved.
    assert state["subscription"]["status"] == "provisioning"
    assert state["subscription"]["version"] == 3
    assert [item["number"] for item in state["subscription"]["container"]["items"]] == [2]
    assert log[1].state["subscription"]["status"] == "initial"  # the audit trail of the create step
    with database.read():
        stored = SubscriptionModel.from_subscription(state["subscription_id"])
    assert type(stored) is WidgetProvisioning
    assert (stored.version, stored.note, stored.customer_id) == (3, "touched", "c1")
    assert stored.model_dump(mode="json") == state["subscription"]


@step("Hand over ids")
def hand_over(ports: list[str]) -> State:
    active, initial = ports
    return {
        "as_uuid": uuid.UUID(active),
        "as_string": active,
        "as_dict": {"subscription_id": initial, "other": "ignored"},
        "several": ports,
        "nothing": None,
    }


@step("Receive them")
def receive(
    as_uuid: Port,
    as_string: PortInactive,
    as_dict: Port | PortInactive,
    several: list[PortInactive],
    nothing: PortInactive | None,
    absent: Port | None = None,
) -> State:
    return {
        "received": {
            "as_uuid": type(as_uuid).__name__,
            "as_string": type(as_string).__name__,
            "as_dict": type(as_dict).__name__,
            "several": [p.port.port_name for p in several],
            "nothing": nothing,
            "absent": absent,
        }
    }


def _ports_form() -> type[FormPage]:
    class PortsPage(FormPage):
        ports: list[str]

    return PortsPage


@workflow("Receive ports", initial_input_form=_ports_form, target=Target.SYSTEM)
def receive_ports() -> StepList:
    return init >> hand_over >> receive >> done


def test_parameters_accept_ids_strings_dicts_lists_and_none(database: Database, products: dict[str, uuid.UUID]) -> None:
    with database.write():
        initial = PortInactive.from_product_id(products["Test Port"], "c")
        initial.port.port_name = "p2"
        initial.save()
        draft = PortInactive.from_product_id(products["Test Port"], "c")
        draft.port.port_name = "p1"
        active = SubscriptionModel.from_other_lifecycle(draft, L.ACTIVE)
        active.save()
    ports = [str(active.subscription_id), str(initial.subscription_id)]
    with WorkflowInstanceForTests(receive_ports, "test_domain_receive_ports"):
        result, _, _ = run_workflow("test_domain_receive_ports", [{"ports": ports}])
    assert_complete(result)
    assert extract_state(result)["received"] == {
        "as_uuid": "Port",
        "as_string": "PortInactive",
        "as_dict": "PortInactive",  # initial: the lifecycle class refuses it, the base class takes it
        "several": ["p1", "p2"],
        "nothing": None,
        "absent": None,
    }


@step("Break it")
def break_it(subscription: WidgetInactive, product: UUIDstr) -> State:
    subscription.note = "half-written"
    subscription.container.single.number = 99
    subscription.save()
    another = WidgetInactive.from_product_id(product, "c2")
    another.save()
    raise RuntimeError("boom after saving")


@workflow("Create and fail", initial_input_form=_create_form, target=Target.CREATE)
def create_and_fail() -> StepList:
    return init >> create_subscription >> break_it >> done


def test_a_failing_step_leaves_no_half_written_subscription(database: Database, products: dict[str, uuid.UUID]) -> None:
    with WorkflowInstanceForTests(create_and_fail, "test_domain_create_and_fail"):
        result, _, _ = run_workflow(
            "test_domain_create_and_fail", [{"product": str(products["Test Widget"]), "customer_id": "c1"}]
        )
    assert_failed(result)
    assert extract_error(result) == "boom after saving"
    assert _subscriptions(database) == 1  # the subscription of the step before; not the failing step's
    with database.read() as session:
        subscription_id = session.execute(select(SubscriptionTable.subscription_id)).scalar_one()
        stored = WidgetInactive.from_subscription(subscription_id)
    assert (stored.note, stored.container.single.number, stored.version) == (None, 1, 1)


@step("Return several")
def return_several(product: UUIDstr) -> State:
    first = WidgetInactive.from_product_id(product, "nested-1")
    second = WidgetInactive.from_product_id(product, "nested-2")
    return {"created": [first, {"inner": second}, first]}


@workflow("Return nested models", initial_input_form=_create_form, target=Target.CREATE)
def return_nested() -> StepList:
    return init >> return_several >> done


def test_models_nested_in_the_returned_dict_are_saved_once(database: Database, products: dict[str, uuid.UUID]) -> None:
    with WorkflowInstanceForTests(return_nested, "test_domain_return_nested"):
        result, _, _ = run_workflow(
            "test_domain_return_nested", [{"product": str(products["Test Widget"]), "customer_id": "x"}]
        )
    assert_complete(result)
    created = extract_state(result)["created"]
    assert created[0]["version"] == 1 and created[1]["inner"]["customer_id"] == "nested-2"
    assert _subscriptions(database) == 2


@step("Inspect a bad id")
def inspect_bad(subscription: WidgetInactive) -> State:
    return {}


@step("Put a bad id")
def put_bad_id() -> State:
    return {"subscription": "not-a-uuid"}


@workflow("Bad id", target=Target.SYSTEM)
def bad_id() -> StepList:
    return init >> put_bad_id >> inspect_bad >> done


@step("Put an unknown id")
def put_unknown_id() -> State:
    return {"subscription": str(uuid.uuid4())}


@workflow("Unknown id", target=Target.SYSTEM)
def unknown_id() -> StepList:
    return init >> put_unknown_id >> inspect_bad >> done


def test_an_unusable_id_fails_the_step_naming_step_and_key(database: Database) -> None:
    with WorkflowInstanceForTests(bad_id, "test_domain_bad_id"):
        result, _, _ = run_workflow("test_domain_bad_id", [{}])
    assert_failed(result)
    error = extract_error(result) or ""
    assert "Step 'Inspect a bad id'" in error and "'subscription'" in error
    with WorkflowInstanceForTests(unknown_id, "test_domain_unknown_id"):
        result, _, _ = run_workflow("test_domain_unknown_id", [{}])
    assert_failed(result)
    assert "not found" in (extract_error(result) or "")
