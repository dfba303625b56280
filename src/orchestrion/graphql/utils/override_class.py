"""Change or add fields of a strawberry type (orchestrator-core's ``override_class``).

Applications use it to resolve fields of orchestrion's types their own way, e.g. a subscription's
``customer`` from their customer table, before the schema is built.
"""

from __future__ import annotations

from strawberry.types.field import StrawberryField


def override_class(strawberry_class: type, fields: list[StrawberryField]) -> type:
    """``strawberry_class`` with the resolvers of ``fields`` taking over fields of the same name and
    the other ``fields`` added; the class itself is changed (and returned)."""
    if not fields:
        return strawberry_class
    definition = getattr(strawberry_class, "__strawberry_definition__", None)
    if definition is None:
        raise TypeError(f"{strawberry_class.__name__} is not a strawberry type; it has no fields to override")
    given = {f.name: f for f in fields}
    existing = {f.name for f in definition.fields}
    for current in definition.fields:
        if (replacement := given.get(current.name)) is not None:
            current.base_resolver = replacement.base_resolver
    definition.fields = [*definition.fields, *(f for name, f in given.items() if name not in existing)]
    return strawberry_class
