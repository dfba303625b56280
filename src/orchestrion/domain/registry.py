"""Which class models a product, and which class of a model serves which lifecycle status.

``SUBSCRIPTION_MODEL_REGISTRY`` maps a product *name* to its domain model class (the base class
or any of its lifecycle classes: the product's whole family is reachable from either). Lifecycle
classes are registered by their class keywords (``is_base=True``, ``product_block_name=...``,
``lifecycle=[...]``) when they are defined.
"""

from __future__ import annotations

from typing import Any

from orchestrion.types import SubscriptionLifecycle

SUBSCRIPTION_MODEL_REGISTRY: dict[str, Any] = {}
# product block name -> the base class of its family (``product_block_name=...``)
BLOCK_MODEL_REGISTRY: dict[str, type] = {}

# (base class, status) -> the class for that status; (base class, None) -> the base class itself
_LIFECYCLE_CLASSES: dict[tuple[type, SubscriptionLifecycle | None], type] = {}


def register_base(base: type) -> None:
    _LIFECYCLE_CLASSES[(base, None)] = base


def register_lifecycles(base: type, cls: type, statuses: list[SubscriptionLifecycle]) -> None:
    for status in statuses:
        _LIFECYCLE_CLASSES[(base, SubscriptionLifecycle(status))] = cls


def class_for_lifecycle(base: type, status: SubscriptionLifecycle | str) -> type:
    """The class registered for ``status`` in the family of ``base``; the base class otherwise."""
    found = _LIFECYCLE_CLASSES.get((base, SubscriptionLifecycle(status)))
    return found if found is not None else _LIFECYCLE_CLASSES.get((base, None), base)
