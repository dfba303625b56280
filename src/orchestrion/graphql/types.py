"""The GraphQL API's shared types: inputs, scalars, enums, the per-request context.

Names follow orchestrator-core's schema, so the operations orchestrator-ui sends validate: the
inputs ``GraphqlSort`` and ``GraphqlFilter``, the enum ``SortOrder``; enums serialise as their
member names (``COMPLETED``, ``ACTIVE``, ``CREATE``).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address, IPv6Interface, IPv6Network
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import strawberry
from graphql import GraphQLError
from nwastdlib.vlans import VlanRanges
from strawberry.fastapi import BaseContext
from strawberry.types import Info

from orchestrion.config.assignee import Assignee
from orchestrion.db.filters import Filter
from orchestrion.db.sorting import Sort, SortOrder
from orchestrion.domain.lifecycle import ProductLifecycle
from orchestrion.engine.status import ProcessStatus
from orchestrion.runtime import Runtime
from orchestrion.targets import Target
from orchestrion.types import SubscriptionLifecycle

if TYPE_CHECKING:
    JSON: TypeAlias = Any  # any JSON value; strawberry's scalar is a NewType mypy cannot match dicts to
else:
    from strawberry.scalars import JSON

__all__ = [
    "JSON",
    "SCALAR_OVERRIDES",
    "FormUserPermissionsType",
    "GraphqlFilter",
    "GraphqlSort",
    "MutationError",
    "NotFoundError",
    "OrchestratorContext",
    "OrchestratorInfo",
    "SortOrder",
    "StrawberryModelType",
]

# The enums of the schema, under orchestrator-core's type names.
for _enum in (ProcessStatus, SubscriptionLifecycle, ProductLifecycle, Target, Assignee):
    strawberry.enum(_enum)

StrawberryPydanticModel = TypeVar("StrawberryPydanticModel")
StrawberryModelType = dict[str, Any]  # type name -> strawberry type


def _text_scalar(name: str, python_type: type) -> Any:
    return strawberry.scalar(
        name=name,
        description=f"{python_type.__name__}, as text",
        serialize=str,
        parse_value=python_type,
    )


VlanRangesType = strawberry.scalar(
    name="VlanRangesType",
    description="VLAN ranges (nwastdlib's VlanRanges), as a list of [first, last] pairs",
    serialize=lambda ranges: ranges.to_list_of_tuples(),
    parse_value=VlanRanges,
)

SCALAR_OVERRIDES: dict[object, Any] = {
    dict: JSON,
    VlanRanges: VlanRangesType,
    IPv4Address: _text_scalar("IPv4AddressType", IPv4Address),
    IPv6Address: _text_scalar("IPv6AddressType", IPv6Address),
    IPv4Interface: _text_scalar("IPv4InterfaceType", IPv4Interface),
    IPv6Interface: _text_scalar("IPv6InterfaceType", IPv6Interface),
    IPv4Network: _text_scalar("IPv4NetworkType", IPv4Network),
    IPv6Network: _text_scalar("IPv6NetworkType", IPv6Network),
}


@strawberry.experimental.pydantic.input(model=Sort)
class GraphqlSort:
    field: str = strawberry.field(description="Field to sort on")
    order: SortOrder = strawberry.field(default=SortOrder.ASC, description="Sort order (ASC or DESC)")


@strawberry.experimental.pydantic.input(model=Filter)
class GraphqlFilter:
    field: str = strawberry.field(description="Field to filter on")
    value: str = strawberry.field(description="Value to filter on: alternatives separated by |, ! negates")


@strawberry.type(description="What the caller may do with a process")
class FormUserPermissionsType:
    retryAllowed: bool  # noqa: N815 - orchestrator-core's field names
    resumeAllowed: bool  # noqa: N815


@strawberry.type(description="Generic class to capture errors")
class MutationError:
    message: str = strawberry.field(description="Error message")
    details: str | None = strawberry.field(description="Details of error cause", default=None)


@strawberry.type(description="Error class if a resource couldn't be found (404)")
class NotFoundError(MutationError):
    pass


class OrchestratorContext(BaseContext):
    """One request's context: the caller, its application's runtime, the models, collected errors.

    ``errors`` are reported next to the data (a list that could only be partly applied, say);
    ``loaders`` are the request's data loaders, made on first use and shared by all its resolvers.
    """

    def __init__(self, runtime: Runtime, graphql_models: StrawberryModelType, user: Any = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.graphql_models = graphql_models
        self.user = user
        self.errors: list[GraphQLError] = []
        self.loaders: dict[str, Any] = {}


OrchestratorInfo = Info[OrchestratorContext, Any]
