"""The ``subscription`` and ``subscriptions`` queries, and subscriptions reached from other types.

A page whose query asks only for the interface's fields is answered from the subscription rows
(one query); a query that asks for a product's own fields (``... on NodeSubscription { node {
... } }``) loads each subscription's domain model.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from strawberry.types.base import get_object_definition
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from orchestrion.db.domain_models import ProductTable, SubscriptionTable
from orchestrion.db.filters import QueryType
from orchestrion.db.filters.search_filters import (
    default_inferred_column_clauses,
    filter_exact,
    inferred_filter,
    through,
)
from orchestrion.db.listing import counted_alone, offset_page
from orchestrion.db.search_query import Node, WhereCondGenerator
from orchestrion.db.sorting import SortFunction, generic_column_sort
from orchestrion.domain.base import SubscriptionModel
from orchestrion.graphql.autoregistration import graphql_subscription_name
from orchestrion.graphql.conversion import from_model
from orchestrion.graphql.loaders import in_scope, load, load_many
from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.resolvers.helpers import ListSpec, read_page
from orchestrion.graphql.schemas.product import product_values
from orchestrion.graphql.schemas.subscription import SubscriptionInterface, base_model
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.names import to_camel
from orchestrion.storage.subscription_search import matching_subscriptions
from orchestrion.types import SubscriptionLifecycle

logger = structlog.get_logger(__name__)

_S = SubscriptionTable
_PR = ProductTable


def _of_products(clause: WhereCondGenerator) -> WhereCondGenerator:
    return through(_S.product_id, _PR.product_id, clause)


SUBSCRIPTION_CLAUSES: dict[str, WhereCondGenerator] = default_inferred_column_clauses(_S) | {
    "status": filter_exact(_S.status, SubscriptionLifecycle),
    "product": _of_products(inferred_filter(_PR.name)),
    "tag": _of_products(filter_exact(_PR.tag)),
    "type": _of_products(filter_exact(_PR.product_type)),
    "product_type": _of_products(filter_exact(_PR.product_type)),
}


def _free_text(node: Node) -> ColumnElement[bool]:
    return _S.subscription_id.in_(matching_subscriptions(node))


SUBSCRIPTION_SORTS: dict[str, SortFunction] = {
    **{to_camel(key): generic_column_sort(column) for key, column in _S.__table__.columns.items()},
    "tag": generic_column_sort(_PR.tag),
    **{
        f"product{to_camel('_' + key)}": generic_column_sort(column)
        for key, column in _PR.__table__.columns.items()
        if key != "product_id"
    },
}

SUBSCRIPTIONS = ListSpec(SUBSCRIPTION_CLAUSES, SUBSCRIPTION_SORTS, _free_text)

_INTERFACE_FIELDS = frozenset(
    f.graphql_name or to_camel(f.python_name) for f in get_object_definition(SubscriptionInterface, strict=True).fields
) | {"__typename"}


def _values(subscription: SubscriptionTable, product: ProductTable) -> dict[str, Any]:
    return {
        "subscription_id": subscription.subscription_id,
        "customer_id": subscription.customer_id,
        "description": subscription.description,
        "start_date": subscription.start_date,
        "end_date": subscription.end_date,
        "status": subscription.status,
        "insync": subscription.insync,
        "note": subscription.note,
        "version": subscription.version,
        "product": product_values(product),
    }


def _search() -> QueryType:
    return select(_S, _PR).join(_PR, _PR.product_id == _S.product_id)


def subscriptions_by_id(session: Session, ids: list[UUID]) -> dict[UUID, dict[str, Any]]:
    return {s.subscription_id: _values(s, p) for s, p in session.execute(_search().where(_S.subscription_id.in_(ids)))}


def _asks_for_model_fields(selections: list[Any]) -> bool:
    """Whether a selection reaches past the interface: a product's own type or fields."""
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            if selection.type_condition not in (None, "SubscriptionInterface", "Subscription"):
                return True
            if _asks_for_model_fields(selection.selections):
                return True
        elif isinstance(selection, SelectedField) and selection.name not in _INTERFACE_FIELDS:
            return True
    return False


def _page_selections(info: OrchestratorInfo) -> list[Any]:
    return [
        s
        for field in info.selected_fields
        for page in field.selections
        if getattr(page, "name", None) == "page"
        for s in page.selections
    ]


def _base_type(info: OrchestratorInfo) -> Any:
    return info.context.graphql_models["subscription"]


def as_base(info: OrchestratorInfo, values: dict[str, Any]) -> SubscriptionInterface:
    return from_model(_base_type(info), base_model(values))


async def _as_model(info: OrchestratorInfo, values: dict[str, Any]) -> SubscriptionInterface:
    model = await in_scope(info, SubscriptionModel.from_subscription, values["subscription_id"])
    base = type(model).__base_type__ or type(model)
    found = info.context.graphql_models.get(graphql_subscription_name(base.__name__))
    if found is None:
        logger.warning("No GraphQL type for a product's model; answering with the base type", model=base.__name__)
        return as_base(info, values)
    return from_model(found, model)


async def _items(info: OrchestratorInfo, rows: list[dict[str, Any]], detailed: bool) -> list[SubscriptionInterface]:
    if not detailed:
        return [as_base(info, values) for values in rows]
    return list(await asyncio.gather(*(_as_model(info, values) for values in rows)))


async def resolve_subscriptions(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[SubscriptionInterface]:
    rows, size, total = await read_page(
        info,
        SUBSCRIPTIONS,
        _search(),
        _fetch,
        filter_by=filter_by,
        sort_by=sort_by,
        first=first,
        after=after,
        search=query,
    )
    items = await _items(info, rows, _asks_for_model_fields(_page_selections(info)))
    return SUBSCRIPTIONS.connection(items, size, after, total)


def _fetch(session: Session, query: QueryType, size: int, after: int) -> tuple[list[dict[str, Any]], int]:
    ordered = query.order_by(_S.subscription_id)
    rows, total = offset_page(session, ordered, size, after, counted=counted_alone(query, _S.subscription_id))
    return [_values(s, p) for s, p in rows], total


async def resolve_subscription(info: OrchestratorInfo, id: UUID) -> SubscriptionInterface | None:
    values = await load(info, subscriptions_by_id, id)
    if values is None:
        return None
    detailed = _asks_for_model_fields([s for field in info.selected_fields for s in field.selections])
    return (await _items(info, [values], detailed))[0]


async def subscription_by_id(info: OrchestratorInfo, subscription_id: UUID) -> SubscriptionInterface | None:
    """A subscription (interface fields) reached from another type, batched with the others asked for."""
    values = await load(info, subscriptions_by_id, subscription_id)
    return as_base(info, values) if values is not None else None


async def subscriptions_of_ids(
    info: OrchestratorInfo, ids: list[UUID], first: int, after: int
) -> Connection[SubscriptionInterface]:
    """A page of the subscriptions ``ids`` name, in that order, batched with the others asked for."""
    found = [v for v in await load_many(info, subscriptions_by_id, ids[after : after + first + 1]) if v is not None]
    return SUBSCRIPTIONS.connection([as_base(info, v) for v in found], first, after, len(ids))
