"""The domain model JSON of the REST API: the model's JSON dump plus who uses its blocks.

``in_use_by_ids`` is not part of the model itself (it would go stale in a process state, which
holds model dumps), so it is added here, from one query, when the API asks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any
from uuid import UUID

from sqlalchemy import select

from orchestrion.db import get_database
from orchestrion.db.domain_models import SubscriptionInstanceRelationTable, SubscriptionInstanceTable
from orchestrion.db.sessions import reading
from orchestrion.domain.base import DomainModel, ProductBlockModel, SubscriptionModel

Visit = Callable[[ProductBlockModel, dict[str, Any]], None]


def _walk(model: DomainModel, dumped: dict[str, Any], visit: Visit) -> None:
    for name, spec in type(model)._fields().blocks.items():
        value: Any = dumped.get(name)
        if not spec.is_list:
            value = [] if value is None else [value]
        for block, dumped_block in zip(spec.blocks(getattr(model, name)), value, strict=True):
            visit(block, dumped_block)
            _walk(block, dumped_block, visit)


def block_users(instance_ids: list[UUID]) -> dict[UUID, list[tuple[UUID, UUID]]]:
    """For each block instance, the instances holding it and their subscriptions: (instance, subscription)."""
    users: dict[UUID, list[tuple[UUID, UUID]]] = defaultdict(list)
    if not instance_ids:
        return users
    relation, user = SubscriptionInstanceRelationTable, SubscriptionInstanceTable
    with reading(get_database()) as session:
        rows = session.execute(
            select(relation.depends_on_id, relation.in_use_by_id, user.subscription_id)
            .join(user, user.subscription_instance_id == relation.in_use_by_id)
            .where(relation.depends_on_id.in_(set(instance_ids)))
        ).all()
    for used, user_id, user_subscription in rows:
        users[used].append((user_id, user_subscription))
    return users


def domain_model_json(subscription: SubscriptionModel | UUID | str, *, relations: bool = False) -> dict[str, Any]:
    """``model_dump(mode="json")`` with ``in_use_by_ids`` on the subscription and on every block.

    A block's ``in_use_by_ids`` lists every block holding it; the subscription's lists the blocks
    of *other* subscriptions that hold one of its own blocks. With ``relations``, every block also
    has ``in_use_by_relations``: ``{"subscription_instance_id", "subscription_id"}`` of each holder.
    """
    model = (
        subscription
        if isinstance(subscription, SubscriptionModel)
        else SubscriptionModel.from_subscription(subscription)
    )
    data = model.model_dump(mode="json")
    blocks: list[tuple[ProductBlockModel, dict[str, Any]]] = []
    _walk(model, data, lambda block, dumped: blocks.append((block, dumped)))
    users = block_users([block.subscription_instance_id for block, _ in blocks])
    outside: set[UUID] = set()
    for block, dumped in blocks:
        found = users.get(block.subscription_instance_id, [])
        dumped["in_use_by_ids"] = sorted({str(user_id) for user_id, _ in found})
        if relations:
            dumped["in_use_by_relations"] = [
                {"subscription_instance_id": str(user_id), "subscription_id": str(owner)} for user_id, owner in found
            ]
        if block.owner_subscription_id == model.subscription_id:
            outside.update(user_id for user_id, owner in found if owner != model.subscription_id)
    data["in_use_by_ids"] = sorted(map(str, outside))
    return data
