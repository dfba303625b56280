"""Domain models become GraphQL types: one per product, one per product block, as in orchestrator-core.

The model ``NodeInactive`` (the base of a product's lifecycle classes) becomes ``NodeSubscription``,
implementing ``SubscriptionInterface`` with the model's own fields; each block class it holds
becomes a type of its own name, implementing ``BaseProductBlockType``. An application may bring
its own type for a model, under the name it would get (``graphql_models={"NodeBlock": ...}``); it
is used instead, wherever the model appears.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any
from uuid import UUID

import strawberry
import structlog
from strawberry import UNSET
from strawberry.federation.schema_directives import Key
from strawberry.federation.types import FieldSet

from orchestrion.domain.base import DomainModel
from orchestrion.domain.registry import SUBSCRIPTION_MODEL_REGISTRY
from orchestrion.graphql.schemas.subscription import SubscriptionInterface, owner_subscription_resolver
from orchestrion.graphql.types import StrawberryModelType
from orchestrion.names import to_camel

logger = structlog.get_logger(__name__)

EnumDict = dict[str, type[enum.Enum]]

# Type name -> whether its fields take the model's aliases (orchestrator-core's switch; default yes).
USE_PYDANTIC_ALIAS_MODEL_MAPPING: dict[str, bool] = {}


@strawberry.interface(description="What every product block has")
class BaseProductBlockType:
    subscription_instance_id: UUID
    owner_subscription_id: UUID
    name: str | None = None
    label: str | None = None
    subscription: SubscriptionInterface | None = strawberry.field(
        description="The subscription that owns the block", resolver=owner_subscription_resolver
    )


def graphql_name(name: str) -> str:
    return to_camel(name.replace(" ", "_"))


def graphql_subscription_name(name: str) -> str:
    """``NodeInactive`` -> ``NodeSubscription``: a product's type, named after its base model."""
    return f"{graphql_name(name).replace('Initial', '').replace('Inactive', '')}Subscription"


def _enums_in(annotation: Any) -> list[type[enum.Enum]]:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [annotation]
    return [e for arg in typing.get_args(annotation) for e in _enums_in(arg)]


def _register_enums(model: type[DomainModel], strawberry_enums: EnumDict) -> None:
    """GraphQL needs every enum a model's fields use to be a strawberry enum (done once per enum)."""
    for field in model.model_fields.values():
        for found in _enums_in(field.annotation):
            if found.__name__ not in strawberry_enums:
                if not hasattr(found, "_enum_definition") and not hasattr(found, "__strawberry_definition__"):
                    strawberry.enum(found)
                strawberry_enums[found.__name__] = found


def _keys(name: str) -> list[Key]:
    return [Key(fields=FieldSet(name), resolvable=UNSET)]


def create_block_strawberry_type(strawberry_name: str, model: type[DomainModel]) -> type:
    base = types.new_class(strawberry_name, (BaseProductBlockType,))
    return strawberry.experimental.pydantic.type(
        model,
        all_fields=True,
        directives=_keys("subscriptionInstanceId"),
        description=f"{strawberry_name} Type",
        use_pydantic_alias=USE_PYDANTIC_ALIAS_MODEL_MAPPING.get(strawberry_name, True),
    )(base)


def create_subscription_strawberry_type(strawberry_name: str, model: type[DomainModel], interface: type) -> type:
    base = types.new_class(strawberry_name, (interface,))
    return strawberry.experimental.pydantic.type(
        model,
        all_fields=True,
        directives=_keys("subscriptionId"),
        description=f"{strawberry_name} Type",
        use_pydantic_alias=USE_PYDANTIC_ALIAS_MODEL_MAPPING.get(strawberry_name, True),
    )(base)


def _block_classes(model: type[DomainModel]) -> list[type[DomainModel]]:
    return [c for spec in model._fields().blocks.values() for c in spec.candidates]


def _free_name(model_name: str, model: type[DomainModel], strawberry_models: StrawberryModelType) -> str | None:
    """The name ``model``'s type gets: ``None`` if it has one; ``Name2``, ... if another model took the name.

    A type under the name that was not made from a model is the application's own for it.
    """
    candidate, number = model_name, 1
    while candidate in strawberry_models:
        if getattr(strawberry_models[candidate], "_pydantic_type", model) is model:
            return None
        number += 1
        candidate = f"{model_name}{number}"
    return candidate


def add_class_to_strawberry(
    model_name: str,
    model: type[DomainModel],
    strawberry_models: StrawberryModelType,
    strawberry_enums: EnumDict,
    interface: type | None = None,
) -> None:
    """Make the type of ``model`` (and first those of the blocks it holds), unless it has one."""
    free_name = _free_name(model_name, model, strawberry_models)
    if free_name is None:
        return
    if free_name != model_name:
        logger.warning("Two domain models share a GraphQL type name", model=model.__qualname__, name=free_name)
        model_name = free_name
    _register_enums(model, strawberry_enums)
    for block in _block_classes(model):
        block_name = graphql_name(block.__name__)
        if block_name != model_name:
            add_class_to_strawberry(block_name, block, strawberry_models, strawberry_enums)
    if interface is None:
        strawberry_models[model_name] = create_block_strawberry_type(model_name, model)
    else:
        strawberry_models[model_name] = create_subscription_strawberry_type(model_name, model, interface)
    logger.debug("GraphQL type made for a domain model", model=model.__name__, name=model_name)


def register_domain_models(
    interface: type | None, existing_models: StrawberryModelType | None = None
) -> StrawberryModelType:
    """The types of every product's model (and its blocks), added to ``existing_models``."""
    strawberry_models = existing_models if existing_models is not None else {}
    strawberry_enums: EnumDict = {}
    bases = {
        model.__base_type__.__name__: model.__base_type__
        for model in SUBSCRIPTION_MODEL_REGISTRY.values()
        if getattr(model, "__base_type__", None) is not None
    }
    for name, base in bases.items():
        add_class_to_strawberry(graphql_subscription_name(name), base, strawberry_models, strawberry_enums, interface)
    return strawberry_models
