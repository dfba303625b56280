"""A subscription as database rows, so ``save()`` can compare what is stored with what the model holds.

``rows_of(model)`` turns a model into the rows it should have; a ``Snapshot`` keeps the rows as
they were last loaded or saved. The difference between the two is what ``save()`` writes. Only
this subscription's own blocks produce rows: a block owned by another subscription contributes
the relation that points at it, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

if TYPE_CHECKING:
    from orchestrion.domain.base import ProductBlockModel, SubscriptionModel

# (subscription_instance_id, resource type, order_id) and (in_use_by_id, domain_model_attr, order_id)
ValueKey = tuple[UUID, str, int]
SlotKey = tuple[UUID, str, int]

SUBSCRIPTION_COLUMNS = ("customer_id", "description", "status", "insync", "start_date", "end_date", "note")


class InstanceState(NamedTuple):
    block_name: str
    label: str | None
    domain_model_attr: str | None  # set for the subscription's top-level blocks only
    order_id: int | None


@dataclass
class Rows:
    subscription: dict[str, Any] = field(default_factory=dict)
    instances: dict[UUID, InstanceState] = field(default_factory=dict)
    values: dict[ValueKey, str | None] = field(default_factory=dict)
    relations: dict[SlotKey, UUID] = field(default_factory=dict)
    # Blocks of other subscriptions met on the way: instance -> (owner, block name). Not rows of this
    # subscription (so not compared); the history names the subscriptions this one refers to from them.
    foreign: dict[UUID, tuple[UUID, str]] = field(default_factory=dict, compare=False)


@dataclass
class Snapshot:
    """The stored rows of a subscription, plus catalogue ids already looked up for it."""

    rows: Rows = field(default_factory=Rows)
    stored: bool = False  # the subscriptions row exists
    version: int = 0
    block_ids: dict[str, UUID] = field(default_factory=dict)
    resource_type_ids: dict[str, UUID] = field(default_factory=dict)


def subscription_columns(model: SubscriptionModel) -> dict[str, Any]:
    columns = {name: getattr(model, name) for name in SUBSCRIPTION_COLUMNS}
    columns["status"] = model.status.value
    columns["product_id"] = model.product.product_id
    return columns


def rows_of(model: SubscriptionModel) -> Rows:
    """The rows ``model`` should be stored as."""
    owner = model.subscription_id
    rows = Rows(subscription=subscription_columns(model))
    top_level: dict[UUID, tuple[str, int]] = {}
    blocks: list[ProductBlockModel] = []
    for spec in type(model)._fields().blocks.values():
        for order, block in enumerate(spec.blocks(getattr(model, spec.name))):
            if block.owner_subscription_id != owner:
                raise ValueError(
                    f"{type(model).__name__}.{spec.name} holds block {block.subscription_instance_id} of subscription "
                    f"{block.owner_subscription_id}; a subscription's own fields hold its own blocks (refer to other "
                    f"subscriptions' blocks from inside a block)"
                )
            top_level.setdefault(block.subscription_instance_id, (spec.name, order))
            blocks.append(block)
    seen: set[UUID] = set()
    for block in blocks:
        _add_block(block, owner, top_level, rows, seen)
    return rows


def _add_block(
    block: ProductBlockModel, owner: UUID, top_level: dict[UUID, tuple[str, int]], rows: Rows, seen: set[UUID]
) -> None:
    # Blocks of other subscriptions are walked too (without writing them): one of this
    # subscription's blocks may sit below them.
    instance_id = block.subscription_instance_id
    if instance_id in seen:
        return
    seen.add(instance_id)
    own = block.owner_subscription_id == owner
    specs = type(block)._fields()
    if not own:
        rows.foreign[instance_id] = (block.owner_subscription_id, block.name)
    else:
        attr, order = top_level.get(instance_id, (None, None))
        rows.instances[instance_id] = InstanceState(block.name, block.label, attr, order)
        if specs.values:
            dumped = block.model_dump(mode="json", include=set(specs.values))
            for name, value_field in specs.values.items():
                for order_id, text in value_field.encode(dumped[name]):
                    rows.values[(instance_id, name, order_id)] = text
    for spec in specs.blocks.values():
        for order_id, child in enumerate(spec.blocks(getattr(block, spec.name))):
            if own:
                rows.relations[(instance_id, spec.name, order_id)] = child.subscription_instance_id
            _add_block(child, owner, top_level, rows, seen)
