"""Test products for the domain tests, the catalogue rows they need, and a statement counter.

Widget: one subscription with nested blocks and every kind of value. Port and Link: a link whose
block holds the port blocks of port subscriptions (references across subscriptions).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from enum import Enum
from ipaddress import IPv4Address, IPv6Interface
from typing import Annotated, Any

from annotated_types import Len
from pydantic import conlist
from sqlalchemy import event

from orchestrion.db import Database
from orchestrion.db.domain_models import (
    FixedInputTable,
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
)
from orchestrion.domain import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.domain.base import DomainModel, ProductBlockModel, SubscriptionModel
from orchestrion.types import SubscriptionLifecycle, strEnum

PROVISIONING, ACTIVE = SubscriptionLifecycle.PROVISIONING, SubscriptionLifecycle.ACTIVE


class Colour(strEnum):
    RED = "red"
    GREEN = "green"


class Level(Enum):
    LOW = 1
    HIGH = 2


class ItemBlockInactive(ProductBlockModel, product_block_name="Test Item"):
    number: int | None = None


class ItemBlock(ItemBlockInactive, lifecycle=[PROVISIONING, ACTIVE]):
    number: int


class TypedBlockInactive(ProductBlockModel, product_block_name="Test Typed"):
    count: int | None = None
    flag: bool | None = None
    colour: Colour | None = None
    level: Level | None = None
    address: IPv4Address | None = None
    interface: IPv6Interface | None = None
    reference: uuid.UUID | None = None
    moment: datetime | None = None
    text: str | None = "default text"
    numbers: list[int] = []
    names: list[str] = []
    maybe_numbers: list[int] | None = None


class ContainerBlockInactive(ProductBlockModel, product_block_name="Test Container"):
    single: ItemBlockInactive
    items: list[ItemBlockInactive] = []
    optional_item: ItemBlockInactive | None = None
    typed: TypedBlockInactive


class ContainerBlock(ContainerBlockInactive, lifecycle=[PROVISIONING, ACTIVE]):
    single: ItemBlock
    items: Annotated[list[ItemBlock], Len(1, 100)]  # type: ignore[assignment]


class WidgetInactive(SubscriptionModel, is_base=True):
    speed: int
    kind: str
    container: ContainerBlockInactive


class WidgetProvisioning(WidgetInactive, lifecycle=[PROVISIONING]):
    container: ContainerBlock


class Widget(WidgetProvisioning, lifecycle=[ACTIVE]):
    pass


class PortBlockInactive(ProductBlockModel, product_block_name="Test Port"):
    port_name: str | None = None


class PortBlock(PortBlockInactive, lifecycle=[PROVISIONING, ACTIVE]):
    port_name: str


class PortInactive(SubscriptionModel, is_base=True):
    port: PortBlockInactive


class Port(PortInactive, lifecycle=[PROVISIONING, ACTIVE]):
    port: PortBlock


class LinkBlockInactive(ProductBlockModel, product_block_name="Test Link"):
    vlan: int | None = None
    ports: conlist(PortBlockInactive, max_length=2) = []  # type: ignore[valid-type]


class LinkBlock(LinkBlockInactive, lifecycle=[PROVISIONING, ACTIVE]):
    vlan: int
    ports: conlist(PortBlock, min_length=2, max_length=2)  # type: ignore[valid-type]


class LinkInactive(SubscriptionModel, is_base=True):
    link: LinkBlockInactive


class Link(LinkInactive, lifecycle=[PROVISIONING, ACTIVE]):
    link: LinkBlock


SUBSCRIPTION_MODEL_REGISTRY.update({"Test Widget": WidgetInactive, "Test Port": Port, "Test Link": Link})

_BLOCKS: list[type[ProductBlockModel]] = [
    ItemBlockInactive,
    ItemBlock,
    TypedBlockInactive,
    ContainerBlockInactive,
    ContainerBlock,
    PortBlockInactive,
    PortBlock,
    LinkBlockInactive,
    LinkBlock,
]
_PRODUCTS: dict[str, tuple[str, dict[str, str]]] = {
    "Test Widget": ("Widget product", {"speed": "1000", "kind": "blue"}),
    "Test Port": ("Port product", {}),
    "Test Link": ("Link product", {}),
}


def insert_catalogue(database: Database) -> dict[str, uuid.UUID]:
    """Products, blocks and resource types for the test models; product name -> product_id."""
    with database.write() as session:
        types: dict[str, ResourceTypeTable] = {}
        blocks: dict[str, ProductBlockTable] = {}
        for cls in _BLOCKS:
            name = cls.__product_block_name__
            block = blocks.setdefault(name, ProductBlockTable(name=name, description=f"{name} block", tag="T"))
            for field in cls._fields().values:
                resource_type = types.setdefault(field, ResourceTypeTable(resource_type=field, description=field))
                if resource_type not in block.resource_types:
                    block.resource_types.append(resource_type)
        session.add_all(blocks.values())
        ids = {}
        for name, (description, fixed_inputs) in _PRODUCTS.items():
            product = ProductTable(
                name=name,
                description=description,
                product_type=name.split()[-1],
                tag=name.split()[-1].upper(),
                status="active",
                product_blocks=list(blocks.values()),
                fixed_inputs=[FixedInputTable(name=k, value=v) for k, v in fixed_inputs.items()],
            )
            session.add(product)
            session.flush()
            ids[name] = product.product_id
    return ids


@contextmanager
def engine_events(database: Database, name: str, take: Callable[..., Any] = lambda *args: args) -> Iterator[list[Any]]:
    """What ``take`` makes of each ``name`` event of the database's (read) engine inside the block."""
    seen: list[Any] = []

    def record(*args: Any) -> None:
        seen.append(take(*args))

    event.listen(database.engine, name, record)
    try:
        yield seen
    finally:
        event.remove(database.engine, name, record)


def counting_statements(database: Database) -> AbstractContextManager[list[str]]:
    """The SQL statements run on ``database`` inside the block (an executemany counts once)."""
    return engine_events(database, "before_cursor_execute", lambda _conn, _cursor, statement, *_: statement)


def data_statements(statements: list[str]) -> list[str]:
    """Statements that read or write tables (not transaction control)."""
    verbs = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
    return [s for s in statements if s.lstrip().upper().startswith(verbs)]


def blocks_of(model: DomainModel) -> list[ProductBlockModel]:
    """Every block in a model, depth first."""
    found = []
    for name, spec in type(model)._fields().blocks.items():
        for block in spec.blocks(getattr(model, name)):
            found.append(block)
            found.extend(blocks_of(block))
    return found
