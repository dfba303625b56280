"""Sorting of the GraphQL lists, as orchestrator-core writes it: ``sortBy: [{field, order}]``.

Each list names what it can be sorted on as ``field -> sort function`` (camelCase, as callers send
it); a sort function adds its ORDER BY to a select. Unknown fields are reported through the error
handler and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import strawberry
from pydantic import BaseModel
from sqlalchemy import func

from orchestrion.db.filters import CallableErrorHandler, QueryType
from orchestrion.db.filters.search_filters import python_type_of

__all__ = [
    "QueryType",
    "Sort",
    "SortOrder",
    "generic_apply_sorting",
    "generic_column_sort",
    "generic_sort",
    "generic_sorts_validate",
]


@strawberry.enum(description="Sort order (ASC or DESC)")
class SortOrder(Enum):
    ASC = "asc"
    DESC = "desc"


class Sort(BaseModel):
    field: str
    order: SortOrder = SortOrder.ASC


SortFunction = Callable[[QueryType, SortOrder], QueryType]


def generic_sorts_validate(
    sort_functions: Mapping[str, SortFunction],
) -> Callable[[list[Sort]], tuple[list[Sort], list[Sort]]]:
    """Split sorts into (invalid, valid) by whether their field has a sort function."""

    def validate(sort_by: list[Sort]) -> tuple[list[Sort], list[Sort]]:
        return [s for s in sort_by if s.field not in sort_functions], [s for s in sort_by if s.field in sort_functions]

    return validate


def generic_apply_sorting(
    sort_functions: Mapping[str, SortFunction],
) -> Callable[[QueryType, list[Sort], CallableErrorHandler], QueryType]:
    def apply(query: QueryType, sort_by: list[Sort], handle_sort_error: CallableErrorHandler) -> QueryType:
        for item in sort_by:
            query = sort_functions[item.field](query, item.order)
        return query

    return apply


def generic_sort(
    sort_functions: Mapping[str, SortFunction],
) -> Callable[[QueryType, list[Sort], CallableErrorHandler], QueryType]:
    """A function that applies ``sortBy`` to a select, with ``sort_functions`` as the valid fields."""
    validate = generic_sorts_validate(sort_functions)
    apply_sorting = generic_apply_sorting(sort_functions)

    def apply(query: QueryType, sort_by: list[Sort], handle_sort_error: CallableErrorHandler) -> QueryType:
        invalid, valid = validate(sort_by)
        if invalid:
            handle_sort_error(
                "Invalid sort arguments",
                invalid_sorting=[s.field for s in invalid],
                valid_sort_keys=sorted(sort_functions),
            )
        return apply_sorting(query, valid, handle_sort_error)

    return apply


def generic_column_sort(column: Any, base_table: Any = None) -> SortFunction:
    """Sort by a column; text ignoring case. (``base_table`` is accepted as orchestrator-core's
    signature has it; orchestrion's lists are plain selects.)"""
    key = func.lower(column) if python_type_of(column) is str else column

    def sort(query: QueryType, order: SortOrder) -> QueryType:
        return query.order_by(key.desc() if order == SortOrder.DESC else key.asc())

    return sort
