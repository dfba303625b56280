"""A point-to-point circuit between two ports, each owned by its own port subscription."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from annotated_types import Len

from examples.products.port import PortBlock, PortBlockInactive, PortBlockProvisioning
from orchestrion.domain.base import ProductBlockModel, SubscriptionModel
from orchestrion.types import SubscriptionLifecycle

PROVISIONING, ACTIVE = SubscriptionLifecycle.PROVISIONING, SubscriptionLifecycle.ACTIVE


class CircuitBlockInactive(ProductBlockModel, product_block_name="Circuit"):
    circuit_id: int | None = None
    bandwidth: int | None = None
    ports: Annotated[Sequence[PortBlockInactive], Len(0, 2)] = ()


class CircuitBlockProvisioning(CircuitBlockInactive, lifecycle=[PROVISIONING]):
    bandwidth: int
    ports: Annotated[Sequence[PortBlockProvisioning], Len(2, 2)]


class CircuitBlock(CircuitBlockProvisioning, lifecycle=[ACTIVE]):
    circuit_id: int
    ports: Annotated[Sequence[PortBlock], Len(2, 2)]


class CircuitInactive(SubscriptionModel, is_base=True):
    circuit: CircuitBlockInactive


class CircuitProvisioning(CircuitInactive, lifecycle=[PROVISIONING]):
    circuit: CircuitBlockProvisioning


class Circuit(CircuitProvisioning, lifecycle=[ACTIVE]):
    circuit: CircuitBlock
