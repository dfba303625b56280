"""The ``products``, ``productBlocks`` and ``resourceTypes`` queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from orchestrion.db.domain_models import (
    ProductBlockTable,
    ProductTable,
    ResourceTypeTable,
    product_block_resource_types,
    product_product_blocks,
)
from orchestrion.db.filters.search_filters import default_inferred_column_clauses, filter_exact, inferred_filter
from orchestrion.db.listing import offset_page
from orchestrion.db.search_query import Node, WhereCondGenerator
from orchestrion.db.sorting import SortFunction, generic_column_sort
from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.resolvers.helpers import ListSpec, read_page
from orchestrion.graphql.schemas.product import ProductType, product_values
from orchestrion.graphql.schemas.product_block import ProductBlock, block_values
from orchestrion.graphql.schemas.resource_type import ResourceType, resource_type_values
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.names import to_camel

_PR, _PB, _RT = ProductTable, ProductBlockTable, ResourceTypeTable
_PPB, _PBRT = product_product_blocks.c, product_block_resource_types.c


def _through(
    link_exists: Callable[[ColumnElement[bool]], ColumnElement[bool]], clause: WhereCondGenerator
) -> WhereCondGenerator:
    return lambda node: link_exists(clause(node))


def _product_has_block(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return (
        select(_PPB.product_id)
        .join(_PB, _PB.product_block_id == _PPB.product_block_id)
        .where(_PPB.product_id == _PR.product_id, condition)
        .exists()
    )


def _block_in_product(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return (
        select(_PPB.product_block_id)
        .join(_PR, _PR.product_id == _PPB.product_id)
        .where(_PPB.product_block_id == _PB.product_block_id, condition)
        .exists()
    )


def _block_has_type(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return (
        select(_PBRT.product_block_id)
        .join(_RT, _RT.resource_type_id == _PBRT.resource_type_id)
        .where(_PBRT.product_block_id == _PB.product_block_id, condition)
        .exists()
    )


def _type_in_block(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return (
        select(_PBRT.resource_type_id)
        .join(_PB, _PB.product_block_id == _PBRT.product_block_id)
        .where(_PBRT.resource_type_id == _RT.resource_type_id, condition)
        .exists()
    )


def _columns(table: Any) -> dict[str, SortFunction]:
    return {to_camel(key): generic_column_sort(column) for key, column in table.__table__.columns.items()}


PRODUCT_CLAUSES = default_inferred_column_clauses(_PR) | {
    "status": filter_exact(_PR.status),
    "tag": filter_exact(_PR.tag),
    "product_type": filter_exact(_PR.product_type),
    "product_block": _through(_product_has_block, inferred_filter(_PB.name)),
}
BLOCK_CLAUSES = default_inferred_column_clauses(_PB) | {
    "status": filter_exact(_PB.status),
    "tag": filter_exact(_PB.tag),
    "product": _through(_block_in_product, inferred_filter(_PR.name)),
    "resource_type": _through(_block_has_type, inferred_filter(_RT.resource_type)),
}
RESOURCE_TYPE_CLAUSES = default_inferred_column_clauses(_RT) | {
    "product_block": _through(_type_in_block, inferred_filter(_PB.name)),
}


def _any_of(clauses: dict[str, WhereCondGenerator], keys: tuple[str, ...]) -> WhereCondGenerator:
    def free_text(node: Node) -> ColumnElement[bool]:
        return or_(*(clauses[key](node) for key in keys))

    return free_text


def _spec(table: Any, clauses: dict[str, WhereCondGenerator], free_text_keys: tuple[str, ...]) -> ListSpec:
    return ListSpec(clauses, _columns(table), _any_of(clauses, free_text_keys))


PRODUCTS = _spec(_PR, PRODUCT_CLAUSES, ("name", "description", "tag", "product_type"))
BLOCKS = _spec(_PB, BLOCK_CLAUSES, ("name", "description", "tag"))
RESOURCE_TYPES = _spec(_RT, RESOURCE_TYPE_CLAUSES, ("resource_type", "description"))


async def _list(
    info: OrchestratorInfo,
    spec: ListSpec,
    table: Any,
    tiebreak: Any,
    to_item: Callable[[Any], Any],
    filter_by: list[GraphqlFilter] | None,
    sort_by: list[GraphqlSort] | None,
    first: int,
    after: int,
    query: str | None,
) -> Connection[Any]:
    def fetch(session: Session, shaped: Select[Any], size: int, after: int) -> tuple[list[Any], int]:
        rows, total = offset_page(session, shaped.order_by(tiebreak), size, after)
        return [to_item(row[0]) for row in rows], total

    items, size, total = await read_page(
        info, spec, select(table), fetch, filter_by=filter_by, sort_by=sort_by, first=first, after=after, search=query
    )
    return spec.connection(items, size, after, total)


async def resolve_products(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[ProductType]:
    def item(p: ProductTable) -> ProductType:
        return ProductType.of(product_values(p))

    return await _list(
        info,
        PRODUCTS,
        _PR,
        _PR.name,
        item,
        filter_by,
        sort_by,
        first,
        after,
        query,
    )


async def resolve_product_blocks(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[ProductBlock]:
    def item(b: ProductBlockTable) -> ProductBlock:
        return ProductBlock.of(block_values(b))

    return await _list(
        info,
        BLOCKS,
        _PB,
        _PB.name,
        item,
        filter_by,
        sort_by,
        first,
        after,
        query,
    )


async def resolve_resource_types(
    info: OrchestratorInfo,
    filter_by: list[GraphqlFilter] | None = None,
    sort_by: list[GraphqlSort] | None = None,
    first: int = 10,
    after: int = 0,
    query: str | None = None,
) -> Connection[ResourceType]:
    def item(r: ResourceTypeTable) -> ResourceType:
        return ResourceType.of(resource_type_values(r))

    return await _list(
        info,
        RESOURCE_TYPES,
        _RT,
        _RT.resource_type,
        item,
        filter_by,
        sort_by,
        first,
        after,
        query,
    )
