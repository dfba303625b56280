"""What every list resolver does: apply ``filterBy``, ``query`` and ``sortBy`` to a select, then page it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, false
from sqlalchemy.orm import Session

from orchestrion.db.filters import generic_filter_from_clauses
from orchestrion.db.search_query import WhereCondGenerator, parse, where
from orchestrion.db.sorting import Sort, SortFunction, generic_sort
from orchestrion.errors import InvalidInputError
from orchestrion.graphql.loaders import in_thread
from orchestrion.graphql.pagination import MAX_PAGE_SIZE, Connection, to_graphql_result_page
from orchestrion.graphql.types import GraphqlFilter, GraphqlSort, OrchestratorInfo
from orchestrion.graphql.utils import create_resolver_error_handler, is_querying_page_data
from orchestrion.names import camel_to_snake, to_camel


def shape_list(
    info: OrchestratorInfo,
    query: Select[Any],
    *,
    clauses: Mapping[str, WhereCondGenerator],
    sorts: Mapping[str, SortFunction],
    free_text: WhereCondGenerator | None,
    filter_by: list[GraphqlFilter] | None,
    sort_by: list[GraphqlSort] | None,
    search: str | None,
) -> Select[Any]:
    """``query`` filtered, searched and sorted as asked; what cannot be applied is reported next to the data."""
    handle_error = create_resolver_error_handler(info)
    filters = [item.to_pydantic() for item in filter_by or []]
    query = generic_filter_from_clauses(clauses)(query, filters, handle_error)
    if search:
        try:
            query = query.where(where(parse(search), clauses, free_text))
        except InvalidInputError as error:
            handle_error(str(error), query=search)
            query = query.where(false())
    # Sort fields are camelCase; snake_case ones are taken too.
    order = [Sort(field=to_camel(camel_to_snake(item.field)), order=item.order) for item in sort_by or []]
    return generic_sort(sorts)(query, order, handle_error)


def page_size(info: OrchestratorInfo, first: int) -> int:
    """How many items to fetch: none when only ``pageInfo`` is asked for (a count needs no rows)."""
    if first < 0:
        raise InvalidInputError("first must not be negative")
    return min(first, MAX_PAGE_SIZE) if is_querying_page_data(info) else 0


def field_names(clauses: Mapping[str, Any]) -> list[str]:
    """The camelCase names clients filter (or sort) on."""
    return sorted({to_camel(name) for name in clauses})


T = TypeVar("T")


@dataclass(frozen=True)
class ListSpec:
    """What a list can be filtered (``clauses``), searched (``free_text``) and sorted (``sorts``) on."""

    clauses: Mapping[str, WhereCondGenerator]
    sorts: Mapping[str, SortFunction]
    free_text: WhereCondGenerator | None

    def connection(self, items: list[Any], size: int, after: int, total: int) -> Connection[Any]:
        return to_graphql_result_page(items, size, after, total, sorted(self.sorts), field_names(self.clauses))


async def read_page(
    info: OrchestratorInfo,
    spec: ListSpec,
    query: Select[Any],
    fetch: Callable[[Session, Select[Any], int, int], tuple[list[T], int]],
    *,
    filter_by: list[GraphqlFilter] | None,
    sort_by: list[GraphqlSort] | None,
    first: int,
    after: int,
    search: str | None,
) -> tuple[list[T], int, int]:
    """One page of ``query`` shaped as asked, read by ``fetch`` off the event loop: (items, size, total)."""
    shaped = shape_list(
        info,
        query,
        clauses=spec.clauses,
        sorts=spec.sorts,
        free_text=spec.free_text,
        filter_by=filter_by,
        sort_by=sort_by,
        search=search,
    )
    size = page_size(info, first)
    items, total = await in_thread(info, lambda session: fetch(session, shaped, size, after))
    return items, size, total
