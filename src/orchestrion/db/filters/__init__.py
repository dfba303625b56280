"""Filters of the GraphQL lists, as orchestrator-core writes them: ``filterBy: [{field, value}]``.

A filter's value is one value, or alternatives separated by ``|`` (or ``-``, except for fields
whose name holds ``date`` or ends in ``id``, so dates and UUIDs stay whole); a leading ``!``
negates it. Each list names the fields it can be filtered on as ``field -> clause``
(``orchestrion.db.search_query.WhereCondGenerator``), in snake_case; callers send camelCase.
Filters are ANDed. What cannot be applied is reported through the error handler (a GraphQL error
next to the data) and matches nothing, as in orchestrator-core.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any, Protocol, TypeAlias

from pydantic import BaseModel
from sqlalchemy import Select, and_, false, true

from orchestrion.db.search_query import Node, WhereCondGenerator, negated
from orchestrion.errors import InvalidInputError
from orchestrion.names import camel_to_snake, to_camel

__all__ = [
    "CallableErrorHandler",
    "Filter",
    "QueryType",
    "create_memoized_field_list",
    "filter_node",
    "generic_filter_from_clauses",
    "generic_filters_validate",
]

QueryType: TypeAlias = "Select[*tuple[Any, ...]]"  # a select of any columns
ColumnMappings = Mapping[str, WhereCondGenerator]


class CallableErrorHandler(Protocol):
    def __call__(self, message: str, **kwargs: Any) -> None: ...


class Filter(BaseModel):
    field: str
    value: str


_ALTERNATIVES = re.compile("[-|]")


def filter_node(item: Filter) -> Node:
    """The value of a filter as a search-query node: a word, a group of alternatives, or a negation."""
    if item.value.startswith("!"):
        return "Negation", filter_node(Filter(field=item.field, value=item.value[1:]))
    name = item.field.lower()
    whole = "date" in name or name.endswith("id")
    values = [v for v in (item.value.split("|") if whole else _ALTERNATIVES.split(item.value)) if v]
    if not values:
        raise InvalidInputError(f"filter {item.field!r} needs a value")
    return ("ValueGroup", [("Word", v) for v in values]) if len(values) > 1 else ("Word", values[0])


def generic_filters_validate(
    valid_columns: Iterable[str],
) -> Callable[[list[Filter]], tuple[list[Filter], list[Filter]]]:
    """Split filters into (invalid, valid) by whether their field is one of ``valid_columns``."""
    valid = frozenset(valid_columns)

    def validate(filter_by: list[Filter]) -> tuple[list[Filter], list[Filter]]:
        invalid = [f for f in filter_by if camel_to_snake(f.field) not in valid]
        return invalid, [f for f in filter_by if camel_to_snake(f.field) in valid]

    return validate


def _condition(clauses: ColumnMappings, item: Filter) -> Any:
    node = filter_node(item)
    clause = clauses[camel_to_snake(item.field)]
    if node[0] == "Negation":
        return negated(clause(node[1]))
    return clause(node)


def generic_filter_from_clauses(
    column_mappings: ColumnMappings,
) -> Callable[[QueryType, list[Filter], CallableErrorHandler], QueryType]:
    """A function that applies ``filterBy`` to a select, with ``column_mappings`` as the valid fields."""
    validate = generic_filters_validate(column_mappings.keys())

    def apply(query: QueryType, filter_by: list[Filter], handle_filter_error: CallableErrorHandler) -> QueryType:
        invalid, valid = validate(filter_by)
        if invalid:
            handle_filter_error(
                "Invalid filter arguments",
                invalid_filters=[f.field for f in invalid],
                valid_filter_keys=sorted(to_camel(k) for k in column_mappings),
            )
        try:
            return query.where(and_(true(), *(_condition(column_mappings, item) for item in valid)))
        except (InvalidInputError, ValueError) as error:
            handle_filter_error(str(error))
            return query.where(false())

    return apply


def create_memoized_field_list(column_mappings: Mapping[str, Any]) -> Callable[[], list[str]]:
    """The sorted keys of ``column_mappings``, read on first call (so entries added while modules
    import still count)."""

    @cache
    def fields() -> list[str]:
        return sorted(column_mappings)

    return fields
