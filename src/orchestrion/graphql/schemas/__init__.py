"""The GraphQL types. ``DEFAULT_GRAPHQL_MODELS`` are the types every schema starts from;
applications add theirs (``app.register_graphql(graphql_models=DEFAULT_GRAPHQL_MODELS | {...})``)."""

from orchestrion.graphql.schemas.product import ProductModelGraphql
from orchestrion.graphql.types import StrawberryModelType

DEFAULT_GRAPHQL_MODELS: StrawberryModelType = {"ProductModelGraphql": ProductModelGraphql}

__all__ = ["DEFAULT_GRAPHQL_MODELS"]
