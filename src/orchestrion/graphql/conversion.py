"""Domain models as their GraphQL types: what ``from_pydantic`` makes, with each type's fields resolved once.

``strawberry.experimental.pydantic``'s ``from_pydantic`` resolves every field's type annotation
again for each object it converts, which was a third of a page of 100 subscriptions' time. Here a
type's fields and how to convert each (as is, or as a nested type: optional, list, union) are
worked out the first time the type is met, and every later object only copies its values.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

from strawberry.types.base import StrawberryList, StrawberryOptional, has_object_definition
from strawberry.types.private import is_private
from strawberry.types.union import StrawberryUnion

_Convert = Callable[[Any], Any]


def from_model(cls: Any, model: Any) -> Any:
    """``cls.from_pydantic(model)``: an object of ``cls`` from the model's values, nested models as their types."""
    plan = _plan(cls)
    if plan is None:
        return cls.from_pydantic(model)
    obj = cls(**{name: convert(getattr(model, name, None)) for name, convert in plan})
    obj._original_model = model  # as from_pydantic keeps it
    return obj


def _as_is(value: Any) -> Any:
    return value


_Plan = tuple[tuple[str, _Convert], ...] | None
_plans: weakref.WeakKeyDictionary[type, _Plan] = weakref.WeakKeyDictionary()  # an app's types go with the app


def _plan(cls: Any) -> _Plan:
    """Each field the type's constructor takes, with how to convert the model's value; None: a type this module
    does not convert (private fields), left to strawberry."""
    if cls in _plans:
        return _plans[cls]
    plan: _Plan = None
    if not (dataclasses.is_dataclass(cls) and any(is_private(f.type) for f in dataclasses.fields(cls))):
        plan = tuple((f.python_name, _converter(f.type)) for f in cls.__strawberry_definition__.fields if f.init)
    _plans[cls] = plan
    return plan


def _converter(type_: Any) -> _Convert:
    if isinstance(type_, StrawberryOptional):
        inner = _converter(type_.of_type)
        return _as_is if inner is _as_is else partial(_optional, inner)
    if isinstance(type_, StrawberryList):
        inner = _converter(type_.of_type)
        return list if inner is _as_is else partial(_each, inner)
    if isinstance(type_, StrawberryUnion) or has_object_definition(type_):
        return partial(_nested, type_)
    return _as_is  # scalars and enums: the model's value


def _optional(convert: _Convert, value: Any) -> Any:
    return None if value is None else convert(value)


def _each(convert: _Convert, values: Any) -> list[Any]:
    return [convert(value) for value in values]


def _nested(type_: Any, data: Any) -> Any:
    """A nested model as the type made from its class (a block's concrete type rather than the field's), or the
    union member made from it; data no type was made from stays as it is."""
    target = getattr(type(data), "_strawberry_type", None)
    if target is None:
        if not isinstance(type_, StrawberryUnion):
            return from_model(type_, data)
        target = next((t for t in type_.types if isinstance(data, _made_from(t))), None)
        if target is None:
            return data
    return from_model(target, data)


def _made_from(member: Any) -> Any:
    """The class a union's member was made from (itself when it is not a model's type)."""
    return getattr(member, "_pydantic_type", member)
