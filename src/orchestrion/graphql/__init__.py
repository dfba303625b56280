"""The GraphQL API (strawberry), mounted at ``/api/graphql``: orchestrator-core's schema.

orchestrator-ui reads every page's data from it. Applications extend it as with orchestrator-core:
``app.register_graphql(query=..., graphql_models=..., subscription_interface=...)``, types of their
own in ``graphql_models``, resolvers of their own with ``orchestrion.graphql.utils.override_class``.
See docs/graphql.md.
"""

from orchestrion.graphql.autoregistration import (
    EnumDict,
    add_class_to_strawberry,
    graphql_subscription_name,
    register_domain_models,
)
from orchestrion.graphql.schema import (
    CustomerQuery,
    Mutation,
    OrchestratorGraphqlRouter,
    OrchestratorQuery,
    OrchestratorSchema,
    Query,
    create_graphql_router,
    default_context_getter,
)
from orchestrion.graphql.schemas import DEFAULT_GRAPHQL_MODELS
from orchestrion.graphql.types import SCALAR_OVERRIDES

__all__ = [
    "DEFAULT_GRAPHQL_MODELS",
    "SCALAR_OVERRIDES",
    "CustomerQuery",
    "EnumDict",
    "Mutation",
    "OrchestratorGraphqlRouter",
    "OrchestratorQuery",
    "OrchestratorSchema",
    "Query",
    "add_class_to_strawberry",
    "create_graphql_router",
    "default_context_getter",
    "graphql_subscription_name",
    "register_domain_models",
]
