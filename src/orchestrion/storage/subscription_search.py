"""The subscriptions a bare word of a search finds, for the GraphQL lists of subscriptions and of the
processes that worked on them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CompoundSelect, or_, select, union

from orchestrion.db.domain_models import ProductTable, SubscriptionTable
from orchestrion.db.filters.search_filters import text_contains
from orchestrion.db.search_query import Node

_S = SubscriptionTable
_PR = ProductTable


def matching_subscriptions(node: Node) -> CompoundSelect[Any]:
    """The ids of the subscriptions a bare word of a search finds: in the description, note or customer, or
    the product's name, tag or type.

    A ``UNION`` of what each table matches rather than an ``OR`` over the joined rows: the
    subscription's own texts are then read off their trigram indexes on PostgreSQL (migrations 0016
    and 0018) and the products' off that small table, instead of testing every subscription (a rare
    word among 100,000: 180 ms).
    """
    return union(
        select(_S.subscription_id).where(
            or_(*(text_contains(column)(node) for column in (_S.description, _S.note, _S.customer_id)))
        ),
        select(_S.subscription_id)
        .join(_PR, _PR.product_id == _S.product_id)
        .where(or_(*(text_contains(column)(node) for column in (_PR.name, _PR.tag, _PR.product_type)))),
    )
