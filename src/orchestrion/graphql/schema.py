"""The schema and its router: orchestrator-core's root fields, orchestrion's data.

``create_graphql_router`` builds the schema when an application registers its GraphQL
(``OrchestratorCore.register_graphql``; the app registers the default one at startup otherwise),
so every domain model imported by then gets its type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from fastapi import Request
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.fastapi import GraphQLRouter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from orchestrion.domain.base import SubscriptionModel
from orchestrion.graphql.autoregistration import create_subscription_strawberry_type, register_domain_models
from orchestrion.graphql.extensions import ErrorCollector
from orchestrion.graphql.mutations import Mutation
from orchestrion.graphql.pagination import Connection
from orchestrion.graphql.resolvers import (
    resolve_customer,
    resolve_process,
    resolve_processes,
    resolve_product_blocks,
    resolve_products,
    resolve_resource_types,
    resolve_scheduled_tasks,
    resolve_settings,
    resolve_subscription,
    resolve_subscriptions,
    resolve_version,
    resolve_workflows,
)
from orchestrion.graphql.schemas import DEFAULT_GRAPHQL_MODELS
from orchestrion.graphql.schemas.customer import CustomerType
from orchestrion.graphql.schemas.process import ProcessType
from orchestrion.graphql.schemas.product import ProductType
from orchestrion.graphql.schemas.product_block import ProductBlock
from orchestrion.graphql.schemas.resource_type import ResourceType
from orchestrion.graphql.schemas.scheduled_task import ScheduledTaskGraphql
from orchestrion.graphql.schemas.settings import StatusType
from orchestrion.graphql.schemas.subscription import SubscriptionInterface
from orchestrion.graphql.schemas.version import VersionType
from orchestrion.graphql.schemas.workflow import Workflow
from orchestrion.graphql.types import SCALAR_OVERRIDES, OrchestratorContext, StrawberryModelType

__all__ = [
    "CustomerQuery",
    "Mutation",
    "OrchestratorGraphqlRouter",
    "OrchestratorQuery",
    "OrchestratorSchema",
    "Query",
    "create_graphql_router",
    "default_context_getter",
]


@strawberry.federation.type(description="Orchestrator queries")
class OrchestratorQuery:
    process: ProcessType | None = strawberry.field(resolver=resolve_process, description="A process")
    processes: Connection[ProcessType] = strawberry.field(resolver=resolve_processes, description="Processes")
    products: Connection[ProductType] = strawberry.field(resolver=resolve_products, description="Products")
    product_blocks: Connection[ProductBlock] = strawberry.field(
        resolver=resolve_product_blocks, description="Product blocks"
    )
    resource_types: Connection[ResourceType] = strawberry.field(
        resolver=resolve_resource_types, description="Resource types"
    )
    workflows: Connection[Workflow] = strawberry.field(resolver=resolve_workflows, description="Workflows")
    subscription: SubscriptionInterface | None = strawberry.field(
        resolver=resolve_subscription, description="A subscription"
    )
    subscriptions: Connection[SubscriptionInterface] = strawberry.field(
        resolver=resolve_subscriptions, description="Subscriptions"
    )
    settings: StatusType = strawberry.field(resolver=resolve_settings, description="The engine and its workers")
    version: VersionType = strawberry.field(resolver=resolve_version, description="Versions")
    scheduled_tasks: Connection[ScheduledTaskGraphql] = strawberry.field(
        resolver=resolve_scheduled_tasks, description="Scheduled tasks"
    )


@strawberry.federation.type(description="Customers")
class CustomerQuery:
    customers: Connection[CustomerType] = strawberry.field(resolver=resolve_customer, description="Customers")


Query: type = merge_types("Query", (OrchestratorQuery, CustomerQuery))

OrchestratorGraphqlRouter = GraphQLRouter
OrchestratorSchema = strawberry.federation.Schema

ContextGetter = Callable[..., Awaitable[OrchestratorContext]]


def default_context_getter(graphql_models: StrawberryModelType) -> ContextGetter:
    """The context of each request: its application's runtime, the caller, the models."""

    async def context_getter(request: Request) -> OrchestratorContext:
        return OrchestratorContext(
            runtime=request.app.runtime,
            graphql_models=graphql_models,
            user=getattr(request.state, "principal", None),
        )

    return context_getter


def create_graphql_router(
    query: Any = Query,
    mutation: Any = Mutation,
    register_models: bool = True,
    subscription_interface: type = SubscriptionInterface,
    graphql_models: StrawberryModelType | None = None,
    scalar_overrides: dict[object, Any] | None = None,
    extensions: list[Any] | None = None,
    custom_context_getter: Callable[[StrawberryModelType], ContextGetter] | None = None,
    graphql_ide: str | None = "graphiql",
) -> GraphQLRouter[OrchestratorContext, None]:
    """The router serving the schema of ``query`` and ``mutation`` with a type per domain model.

    ``extensions`` run before strawberry's ``ParserCache`` and ``ValidationCache``, so a validation rule
    one adds is checked too. A document's validation is kept per query text and set of rules: a rule
    whose verdict depends on who asks belongs in a resolver or in ``on_execute``, not in validation.
    """
    models = dict(graphql_models if graphql_models is not None else DEFAULT_GRAPHQL_MODELS)
    models["subscription"] = create_subscription_strawberry_type(
        "Subscription", SubscriptionModel, subscription_interface
    )
    if register_models:
        models = register_domain_models(subscription_interface, existing_models=models)
    schema = OrchestratorSchema(
        query=query,
        mutation=mutation,
        types=tuple(models.values()),
        extensions=[ErrorCollector, *(extensions or []), ParserCache, ValidationCache],
        config=StrawberryConfig(scalar_map=dict(scalar_overrides or SCALAR_OVERRIDES)),
    )
    context_getter = (custom_context_getter or default_context_getter)(models)
    return GraphQLRouter(schema, context_getter=context_getter, graphql_ide=graphql_ide)  # type: ignore[arg-type]
