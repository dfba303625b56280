"""Subscriptions as people and clients see them: a page of many, one with its product, its relations.

One read model for the REST API and the web UI (and the GraphQL API to come).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import ColumnElement, String, cast, func, or_, select, union

from orchestrion.db import get_database
from orchestrion.db.domain_models import (
    ProductTable,
    SubscriptionInstanceTable,
    SubscriptionInstanceValueTable,
    SubscriptionTable,
)
from orchestrion.db.listing import ListQuery, ListSpec, any_of, contains, in_order, truth
from orchestrion.domain.relations import depends_on_subscription_ids, in_use_by_subscription_ids
from orchestrion.errors import SubscriptionNotFoundError
from orchestrion.storage import process_queries

_S = SubscriptionTable
_PR = ProductTable
_SI = SubscriptionInstanceTable
_SIV = SubscriptionInstanceValueTable

SUBSCRIPTION_LIST = ListSpec(
    entity="subscriptions",
    sorts={
        "start_date": _S.start_date,
        "end_date": _S.end_date,
        "description": _S.description,
        "status": _S.status,
        "customer_id": _S.customer_id,
        "insync": _S.insync,
        "product": _PR.name,
        "tag": _PR.tag,
    },
    filters={
        "status": lambda v: _S.status.in_(any_of(v)),
        "insync": lambda v: _S.insync.is_(truth(v)),
        "customer_id": lambda v: contains(_S.customer_id, v),
        "customer": lambda v: contains(_S.customer_id, v),
        "product": lambda v: or_(_PR.name == v, _PR.product_type == v),
        "product_type": lambda v: _PR.product_type == v,
        "tag": lambda v: _PR.tag.in_(any_of(v)),
        "description": lambda v: contains(_S.description, v),
    },
    tiebreak=(_S.subscription_id,),
)

PROCESS_LIMIT = 100  # processes shown with a subscription's relations


def _subscription(s: SubscriptionTable) -> dict[str, Any]:
    return {
        "subscription_id": s.subscription_id,
        "description": s.description,
        "status": s.status,
        "insync": s.insync,
        "customer_id": s.customer_id,
        "product_id": s.product_id,
        "product": {
            "product_id": s.product.product_id,
            "name": s.product.name,
            "description": s.product.description,
            "product_type": s.product.product_type,
            "tag": s.product.tag,
            "status": s.product.status,
        },
        "start_date": s.start_date,
        "end_date": s.end_date,
        "note": s.note,
        "version": s.version,
    }


_HEX_ID = re.compile(r"[0-9a-f-]{4,36}")


def _id_matches(text: str) -> ColumnElement[bool] | None:
    """The subscription id is ``text``, or starts with it (the short ids the UI shows); None for no id.

    Compared without hyphens: SQLite stores UUIDs as 32 hex digits, PostgreSQL prints them hyphenated.
    """
    text = text.strip().lower()
    if not _HEX_ID.fullmatch(text):
        return None
    digits = func.replace(func.lower(cast(_S.subscription_id, String)), "-", "")
    return digits.startswith(text.replace("-", ""), autoescape=True)


def search(text: str) -> ColumnElement[bool]:
    """Free text, ignoring case: in the description, product name, customer or a resource value, or the id.

    One ``IN`` over a ``UNION`` of what each place matches, rather than an ``OR`` over the joined
    rows: each part is then read off its own index where there is one (PostgreSQL's trigram
    indexes, migration 0016) instead of testing every subscription.
    """
    own = [contains(c, text) for c in (_S.description, _S.customer_id)]
    if (by_id := _id_matches(text)) is not None:
        own.append(by_id)
    found = union(
        select(_S.subscription_id).where(or_(*own)),
        select(_S.subscription_id).join(_PR, _PR.product_id == _S.product_id).where(contains(_PR.name, text)),
        select(_SI.subscription_id)
        .join(_SIV, _SIV.subscription_instance_id == _SI.subscription_instance_id)
        .where(contains(_SIV.value, text)),
    )
    return _S.subscription_id.in_(found)


_ON_PRODUCT = frozenset({"product", "product_type", "tag"})  # the sorts and filters on the products table


def subscription_page(listing: ListQuery, text: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """A page of subscriptions (``text``: see ``search``), and the total.

    The page's ids first, then only those rows (a deferred join: a deep page off the primary key alone).
    """
    ids = select(_S.subscription_id)
    if {name for name, _ in (*listing.sort, *listing.filters)} & _ON_PRODUCT:
        ids = ids.join(_PR, _PR.product_id == _S.product_id)
    if text:
        ids = ids.where(search(text))
    with get_database().read() as session:
        page, total = SUBSCRIPTION_LIST.fetch_ids(session, ids, listing)
        rows = session.scalars(select(_S).where(_S.subscription_id.in_(page))).all() if page else []
        return [_subscription(s) for s in in_order(rows, page, lambda s: s.subscription_id)], total


def subscription_detail(subscription_id: uuid.UUID) -> dict[str, Any]:
    with get_database().read() as session:
        found = session.get(_S, subscription_id)
        if found is None:
            raise SubscriptionNotFoundError(subscription_id)
        return _subscription(found)


def _related(session: Any, ids: list[uuid.UUID]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = session.execute(
        select(_S.subscription_id, _S.description, _S.status, _S.insync, _PR.name)
        .join(_PR, _PR.product_id == _S.product_id)
        .where(_S.subscription_id.in_(ids))
        .order_by(_S.description)
    )
    return [
        {"subscription_id": sid, "description": text, "status": status, "insync": insync, "product_name": product}
        for sid, text, status, insync, product in rows
    ]


def subscription_relations(subscription_id: uuid.UUID) -> dict[str, Any]:
    """The subscriptions this one uses and that use it, the newest processes that worked on it, and the
    unfinished ones that hold its lock (``locked_by``: what to open when a workflow is refused as locked)."""
    depends_on_ids = depends_on_subscription_ids(subscription_id)
    in_use_by_ids = in_use_by_subscription_ids(subscription_id)
    with get_database().read() as session:
        if session.get(_S, subscription_id) is None:
            raise SubscriptionNotFoundError(subscription_id)
        processes, total = process_queries.processes_of_subscription(session, subscription_id, PROCESS_LIMIT)
        return {
            "depends_on": _related(session, depends_on_ids),
            "in_use_by": _related(session, in_use_by_ids),
            "processes": processes,
            "process_total": total,
            "locked_by": process_queries.unfinished_processes_of_subscription(session, subscription_id),
        }
