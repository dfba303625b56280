"""A network node (router): its name, location and loopback address."""

from __future__ import annotations

from ipaddress import IPv4Address

from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.types import SubscriptionLifecycle

PROVISIONING, ACTIVE = SubscriptionLifecycle.PROVISIONING, SubscriptionLifecycle.ACTIVE


class NodeBlockInactive(ProductBlockModel, product_block_name="Node"):
    node_name: str | None = None
    location: str | None = None
    loopback: IPv4Address | None = None


class NodeBlockProvisioning(NodeBlockInactive, lifecycle=[PROVISIONING]):
    node_name: str
    location: str
    loopback: IPv4Address | None = None


class NodeBlock(NodeBlockProvisioning, lifecycle=[ACTIVE]):
    loopback: IPv4Address


class NodeInactive(SubscriptionModel, is_base=True):
    node: NodeBlockInactive


class NodeProvisioning(NodeInactive, lifecycle=[PROVISIONING]):
    node: NodeBlockProvisioning


class Node(NodeProvisioning, lifecycle=[ACTIVE]):
    node: NodeBlock
