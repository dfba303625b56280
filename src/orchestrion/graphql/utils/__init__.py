"""Helpers for resolvers, orchestrator-core's and applications' own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types.nodes import SelectedField

from orchestrion.db.filters import CallableErrorHandler
from orchestrion.graphql.pagination import to_graphql_result_page
from orchestrion.graphql.types import OrchestratorInfo
from orchestrion.graphql.utils.override_class import override_class

__all__ = [
    "create_resolver_error_handler",
    "from_values",
    "is_querying_page_data",
    "override_class",
    "to_graphql_result_page",
]

T = TypeVar("T")


def create_resolver_error_handler(info: OrchestratorInfo) -> CallableErrorHandler:
    """Report a problem next to the data (``errors`` of the answer): a filter that cannot be applied, say."""

    def handle(message: str, **details: Any) -> None:
        info.context.errors.append(
            GraphQLError(message, path=info.path.as_list(), extensions={"error_type": "bad_request", **details})
        )

    return handle


def is_querying_page_data(info: OrchestratorInfo) -> bool:
    """Whether the query selects ``page`` (and not only ``pageInfo``): a count needs no rows."""
    return any(
        isinstance(selection, SelectedField) and selection.name == "page"
        for field in info.selected_fields
        for selection in field.selections
    )


def from_values(cls: type[T], values: Mapping[str, Any], **extra: Any) -> T:
    """An instance of the strawberry type ``cls`` from a row's values: its fields by Python name."""
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    given = {**values, **extra}
    return cls(
        **{f.python_name: given.get(f.python_name) for f in definition.fields if f.init and f.base_resolver is None}
    )
