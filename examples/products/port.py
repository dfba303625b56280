"""A port on a node. Its block holds the node's block, owned by the node's subscription (a reference)."""

from __future__ import annotations

from examples.products.node import NodeBlock, NodeBlockInactive, NodeBlockProvisioning
from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.types import SubscriptionLifecycle, strEnum

PROVISIONING, ACTIVE = SubscriptionLifecycle.PROVISIONING, SubscriptionLifecycle.ACTIVE


class PortMode(strEnum):
    TAGGED = "tagged"
    UNTAGGED = "untagged"


class PortBlockInactive(ProductBlockModel, product_block_name="Port"):
    port_name: str | None = None
    mode: PortMode | None = None
    node: NodeBlockInactive | None = None


class PortBlockProvisioning(PortBlockInactive, lifecycle=[PROVISIONING]):
    port_name: str
    mode: PortMode
    node: NodeBlockProvisioning


class PortBlock(PortBlockProvisioning, lifecycle=[ACTIVE]):
    node: NodeBlock


class PortInactive(SubscriptionModel, is_base=True):
    speed: int  # a fixed input: 10 or 100 (Gbit/s), from the product
    port: PortBlockInactive


class PortProvisioning(PortInactive, lifecycle=[PROVISIONING]):
    port: PortBlockProvisioning


class Port(PortProvisioning, lifecycle=[ACTIVE]):
    port: PortBlock
