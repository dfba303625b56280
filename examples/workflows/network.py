"""Example workflows for the network catalogue: nodes, ports on nodes, circuits between two ports.

Each workflow keeps the fake inventory (``examples.inventory``) in line with the subscriptions:
create provisions, modify updates, terminate deprovisions, and ``validate_port`` checks that the
inventory still agrees with the subscription. A circuit above ``APPROVAL_ABOVE`` Gbit/s waits for an
operator's approval (an input step: the process is suspended until it is resumed through a form).
The inventory answers "busy" to the first change of each port (``modify_port`` fails; a retry
succeeds), and activates a circuit asynchronously: ``create_circuit`` waits for its callback.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import select

from examples import inventory
from examples.products.circuit import CircuitInactive, CircuitProvisioning
from examples.products.node import Node, NodeInactive, NodeProvisioning
from examples.products.port import Port, PortInactive, PortMode, PortProvisioning
from orchestrion.db import get_database
from orchestrion.db.domain_models import ProductTable, SubscriptionTable
from orchestrion.errors import InvalidInputError
from orchestrion.forms import FormPage, SubmitFormPage
from orchestrion.forms.validators import Choice, CustomerId, Label
from orchestrion.types import FormGenerator, State, SubscriptionLifecycle, UUIDstr
from orchestrion.utils.errors import ProcessFailureError
from orchestrion.workflow import StepList, begin, callback_step, conditional, inputstep, step
from orchestrion.workflows.steps import set_status, store_process_subscription
from orchestrion.workflows.utils import create_workflow, modify_workflow, terminate_workflow, validate_workflow

DEFAULT_CUSTOMER = "demo-customer"
PROVISIONING = SubscriptionLifecycle.PROVISIONING
MAX_BANDWIDTH = 100  # Gbit/s: the fastest port in the catalogue
APPROVAL_ABOVE = 10  # Gbit/s: a larger circuit waits for an operator's approval (an input step)
# Names as the inventory accepts them: forms refuse anything else before a process starts.
HostName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
InterfaceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9/:.-]*$")]


def _active_subscriptions(product_type: str) -> dict[str, tuple[str, str]]:
    """Choice options (id -> (id, description)) of the active subscriptions of a product type."""
    with get_database().read() as session:
        rows = session.execute(
            select(SubscriptionTable.subscription_id, SubscriptionTable.description)
            .join(ProductTable, ProductTable.product_id == SubscriptionTable.product_id)
            .where(ProductTable.product_type == product_type, SubscriptionTable.status == "active")
            .order_by(SubscriptionTable.description)
        ).all()
    if not rows:
        raise InvalidInputError(f"There is no active {product_type} yet; create one first")
    return {str(sid): (str(sid), description) for sid, description in rows}


def _choice(name: str, product_type: str) -> Any:
    return Choice.__call__(name, _active_subscriptions(product_type))


# --- nodes ---------------------------------------------------------------------------------------


def node_form() -> FormGenerator:
    class NodeForm(SubmitFormPage):
        customer_id: CustomerId = DEFAULT_CUSTOMER
        node_name: HostName
        location: Annotated[str, Field(min_length=1, max_length=64)]

    user_input = yield NodeForm
    return user_input.model_dump()


@step("Construct node")
def construct_node(product: UUIDstr, customer_id: str, node_name: str, location: str) -> State:
    node = NodeInactive.from_product_id(product, customer_id)
    node.node.node_name = node_name
    node.node.location = location
    node.description = f"Node {node_name} ({location})"
    return {"subscription": node, "subscription_id": node.subscription_id}


@step("Allocate loopback address")
def allocate_loopback(subscription: NodeProvisioning) -> State:
    subscription.node.loopback = inventory.allocate_loopback(str(subscription.subscription_id))
    return {"subscription": subscription}


@step("Provision node in the inventory")
def provision_node(subscription: NodeProvisioning) -> State:
    inventory.provision(str(subscription.subscription_id), kind="node", name=subscription.node.node_name)
    return {}


@create_workflow("Create node", initial_input_form=node_form)
def create_node() -> StepList:
    return (
        begin
        >> construct_node
        >> store_process_subscription()
        >> set_status(PROVISIONING)
        >> allocate_loopback
        >> provision_node
    )


# --- ports ---------------------------------------------------------------------------------------


def port_form() -> FormGenerator:
    node_choice: Any = _choice("NodeChoice", "Node")

    class PortForm(SubmitFormPage):
        customer_id: CustomerId = DEFAULT_CUSTOMER
        node: node_choice
        port_name: InterfaceName
        mode: PortMode = PortMode.TAGGED

    user_input = yield PortForm
    return {**user_input.model_dump(), "node": user_input.node.value}


@step("Construct port")
def construct_port(product: UUIDstr, customer_id: str, node: UUID, port_name: str, mode: PortMode) -> State:
    port = PortInactive.from_product_id(product, customer_id)
    port.port.node = Node.from_subscription(node).node
    port.port.port_name = port_name
    port.port.mode = mode
    port.description = f"Port {port_name} on {port.port.node.node_name} ({port.speed} Gbit/s)"
    return {"subscription": port, "subscription_id": port.subscription_id}


@step("Provision port in the inventory")
def provision_port(subscription: PortProvisioning) -> State:
    inventory.provision(str(subscription.subscription_id), kind="port", mode=subscription.port.mode.value)
    return {}


@create_workflow("Create port", initial_input_form=port_form)
def create_port() -> StepList:
    return begin >> construct_port >> store_process_subscription() >> set_status(PROVISIONING) >> provision_port


def modify_port_form(subscription_id: UUIDstr) -> FormGenerator:
    current = Port.from_subscription(subscription_id)

    class ModifyPortForm(SubmitFormPage):
        mode: PortMode = current.port.mode

    user_input = yield ModifyPortForm
    return user_input.model_dump()


@step("Change port mode")
def change_mode(subscription: Port, mode: PortMode) -> State:
    subscription.port.mode = mode
    return {"subscription": subscription}


@step("Update port in the inventory")
def update_port(subscription: Port) -> State:
    inventory.update(str(subscription.subscription_id), kind="port", mode=subscription.port.mode.value)
    return {}


@modify_workflow("Modify port", initial_input_form=modify_port_form)
def modify_port() -> StepList:
    return begin >> change_mode >> update_port


@step("Remove from the inventory")
def deprovision(subscription_id: UUIDstr) -> State:
    inventory.deprovision(str(subscription_id))
    return {}


@terminate_workflow("Terminate port")
def terminate_port() -> StepList:
    return begin >> deprovision


@step("Check port in the inventory")
def check_port(subscription: Port) -> State:
    record = inventory.lookup(str(subscription.subscription_id))
    if record is None:
        raise ProcessFailureError(
            "Port is missing from the inventory", {"subscription_id": str(subscription.subscription_id)}
        )
    if record.get("mode") != subscription.port.mode.value:
        raise ProcessFailureError(
            "Port mode differs from the inventory",
            {"subscription": subscription.port.mode.value, "inventory": record.get("mode")},
        )
    return {"inventory": record}


@validate_workflow("Validate port against the inventory")
def validate_port() -> StepList:
    return begin >> check_port


# --- circuits ------------------------------------------------------------------------------------


def circuit_form() -> FormGenerator:
    port_choice: Any = _choice("PortChoice", "Port")

    class CircuitPortsForm(FormPage):
        customer_id: CustomerId = DEFAULT_CUSTOMER
        port_a: port_choice
        port_b: port_choice

        @model_validator(mode="after")
        def two_ports(self) -> CircuitPortsForm:
            if self.port_a == self.port_b:
                raise PydanticCustomError("same_port", "A circuit needs two different ports")
            return self

    ports = yield CircuitPortsForm

    class CircuitForm(SubmitFormPage):
        bandwidth: Annotated[int, Field(gt=0, le=MAX_BANDWIDTH, description="Gbit/s")] = 1

    details = yield CircuitForm
    return {
        "customer_id": ports.customer_id,
        "port_ids": [ports.port_a.value, ports.port_b.value],
        "bandwidth": details.bandwidth,
    }


@step("Construct circuit")
def construct_circuit(product: UUIDstr, customer_id: str, port_ids: list[UUID], bandwidth: int) -> State:
    circuit = CircuitInactive.from_product_id(product, customer_id)
    circuit.circuit.ports = [Port.from_subscription(port_id).port for port_id in port_ids]
    circuit.circuit.bandwidth = bandwidth
    names = " <-> ".join(p.port_name or "?" for p in circuit.circuit.ports)
    circuit.description = f"Circuit {names} ({bandwidth} Gbit/s)"
    return {"subscription": circuit, "subscription_id": circuit.subscription_id}


@inputstep("Approve circuit")
def approve_circuit(bandwidth: int) -> Any:
    class ApproveCircuitForm(SubmitFormPage):
        intro: Label = f"A {bandwidth} Gbit/s circuit needs an operator's approval before it is provisioned."
        approved: bool = False

        @model_validator(mode="after")
        def must_approve(self) -> ApproveCircuitForm:
            if not self.approved:
                raise PydanticCustomError("not_approved", "Approve the circuit, or abort the process")
            return self

    return ApproveCircuitForm


@step("Reserve circuit id")
def reserve_circuit_id(subscription: CircuitProvisioning) -> State:
    subscription.circuit.circuit_id = inventory.allocate_circuit_id(str(subscription.subscription_id))
    return {"subscription": subscription}


@step("Provision circuit in the inventory")
def provision_circuit(subscription: CircuitProvisioning) -> State:
    ports = [str(p.owner_subscription_id) for p in subscription.circuit.ports]
    inventory.provision(str(subscription.subscription_id), kind="circuit", ports=ports)
    return {}


@step("Request activation")
def request_activation(subscription: CircuitProvisioning, callback_route: str) -> State:
    inventory.request_activation(str(subscription.subscription_id), callback_route)
    return {}


@step("Check activation")
def check_activation(subscription: CircuitProvisioning, callback_result: dict[str, Any]) -> State:
    if callback_result.get("activation") != "active":
        raise ProcessFailureError("The inventory did not activate the circuit", callback_result)
    return {"activation": callback_result}


@create_workflow("Create circuit", initial_input_form=circuit_form)
def create_circuit() -> StepList:
    return (
        begin
        >> construct_circuit
        >> store_process_subscription()
        >> set_status(PROVISIONING)
        >> conditional(lambda state: state["bandwidth"] > APPROVAL_ABOVE)(approve_circuit)
        >> reserve_circuit_id
        >> provision_circuit
        >> callback_step("Activate circuit", action_step=request_activation, validate_step=check_activation)
    )


@terminate_workflow("Terminate circuit")
def terminate_circuit() -> StepList:
    return begin >> deprovision
