"""Domain models in steps: parameters loaded from the database, returned models saved.

A step parameter annotated with a subscription model class (or Optional/list of one, or a union of
lifecycle classes of one product) is loaded by the subscription id found under its name in the
state: a UUID, a UUID string, or a dict with ``subscription_id`` (the dump a returned model left
there). The database is the source of truth, so what the state holds beyond the id is ignored.
Every subscription model a step returns (anywhere in the returned dict) is saved inside the
step's transaction, so a step that fails leaves none of its subscription changes behind.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from orchestrion.db.types import as_uuid
from orchestrion.domain.base import IncompatibleModelError, SubscriptionModel
from orchestrion.domain.loading import stored_status
from orchestrion.domain.registry import class_for_lifecycle


def subscription_id_of(value: Any) -> UUID:
    if isinstance(value, SubscriptionModel):
        return value.subscription_id
    if isinstance(value, dict):
        if "subscription_id" not in value:
            raise LookupError("the value is a dict without a 'subscription_id'")
        value = value["subscription_id"]
    if not isinstance(value, UUID | str):
        raise TypeError(f"expected a subscription id, got {type(value).__name__}")
    return as_uuid(value)


def _model_classes(annotation: Any) -> list[type[SubscriptionModel]] | None:
    """The model classes of a (union) annotation, None unless every member but None is one."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = annotation.__origin__
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
    else:
        members = [annotation]
    if all(isinstance(m, type) and issubclass(m, SubscriptionModel) for m in members):
        return members
    return None


def _loader_for(classes: list[type[SubscriptionModel]]) -> Callable[[Any], SubscriptionModel]:
    if len(classes) == 1:
        (cls,) = classes
        return lambda value: cls.from_subscription(subscription_id_of(value))

    def load(value: Any) -> SubscriptionModel:
        # The class registered for the subscription's status first, then any other that serves it.
        subscription_id = subscription_id_of(value)
        status = stored_status(subscription_id)
        ordered = sorted(classes, key=lambda c: class_for_lifecycle(c._family(), status) is not c)
        refusals = []
        for cls in ordered:
            try:
                return cls.from_subscription(subscription_id)
            except (IncompatibleModelError, ValidationError) as e:
                refusals.append(str(e))
        raise IncompatibleModelError("; ".join(refusals))

    return load


def subscription_loader(annotation: Any) -> Callable[[Any], Any] | None:
    """Loader factory for ``orchestrion.engine.injection``."""
    stripped = annotation
    while typing.get_origin(stripped) is typing.Annotated:
        stripped = stripped.__origin__
    members = [m for m in typing.get_args(stripped) if m is not type(None)]
    if typing.get_origin(stripped) in (typing.Union, types.UnionType) and len(members) == 1:
        stripped = members[0]  # Optional[list[X]]: the injector passes None through itself
    if typing.get_origin(stripped) is list:
        (item,) = typing.get_args(stripped) or (Any,)
        if (classes := _model_classes(item)) is None:
            return None
        load_one = _loader_for(classes)
        return lambda values: [load_one(value) for value in values]
    if (classes := _model_classes(annotation)) is None:
        return None
    return _loader_for(classes)


def save_returned_models(result: dict[str, Any]) -> None:
    """Result hook: save each subscription model in a step's returned dict (nested too), once."""
    saved: set[int] = set()

    def visit(value: Any) -> None:
        if isinstance(value, SubscriptionModel):
            if id(value) not in saved:
                saved.add(id(value))
                value.save()
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                visit(item)

    visit(result)
