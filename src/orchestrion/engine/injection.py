"""Typed state: fill a function's parameters from the state by name.

Each parameter is converted to its annotation with a pydantic ``TypeAdapter`` built once per
function (on first call, so forward references resolve). A parameter named ``state`` receives the
whole state. Other packages (the domain layer) plug in loaders for types that live in the
database rather than in the state, through ``register_loader``.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from orchestrion.errors import OrchestrionError
from orchestrion.types import State

# A loader factory looks at an annotation and returns a function that turns the state's value into
# the annotated object, or None when it does not handle that annotation.
LoaderFactory = Callable[[Any], Callable[[Any], Any] | None]
_LOADER_FACTORIES: list[LoaderFactory] = []
# Result hooks see every dict a step returns, inside the step's transaction (the domain layer saves
# the subscription models in it there).
ResultHook = Callable[[dict[str, Any]], None]
_RESULT_HOOKS: list[ResultHook] = []

_MISSING = inspect.Parameter.empty
_PASSTHROUGH = frozenset({Any, object, State, dict, inspect.Parameter.empty})
_EXACT = frozenset({str, int, float, bool, list, dict})


class StepArgumentError(OrchestrionError, KeyError):
    """A step's parameter could not be filled from the state."""

    def __str__(self) -> str:
        return str(self.args[0])


def register_loader(factory: LoaderFactory) -> None:
    """Let a package convert some annotations itself (e.g. load a domain model by its id)."""
    if factory not in _LOADER_FACTORIES:
        _LOADER_FACTORIES.append(factory)


def register_result_hook(hook: ResultHook) -> None:
    """Call ``hook`` with each step's returned dict, before it is merged into the state."""
    if hook not in _RESULT_HOOKS:
        _RESULT_HOOKS.append(hook)


def process_result(result: dict[str, Any]) -> None:
    for hook in _RESULT_HOOKS:
        hook(result)


def _is_optional(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(annotation)


def _describe_error(err: ErrorDetails) -> str:
    """A pydantic error with where it is, so a nested model's message says which field is wrong."""
    where = ".".join(str(part) for part in err["loc"])
    return f"{where}: {err['msg']}" if where else err["msg"]


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


@dataclass(slots=True)
class _Param:
    name: str
    annotation: Any
    default: Any
    optional: bool
    convert: Callable[[Any], Any] | None  # None: hand the value over as it is


def _converter(annotation: Any) -> Callable[[Any], Any] | None:
    if annotation in _PASSTHROUGH:
        return None
    for factory in _LOADER_FACTORIES:
        if (loader := factory(annotation)) is not None:
            return loader
    adapter = TypeAdapter(annotation)
    if annotation in _EXACT:
        validate = adapter.validate_python
        return lambda value: value if type(value) is annotation else validate(value)
    return adapter.validate_python


class Injector:
    """Builds the keyword arguments of ``func`` from a state."""

    __slots__ = ("_func", "_label", "_params", "_takes_state")

    def __init__(self, func: Callable[..., Any], label: str) -> None:
        self._func = func
        self._label = label
        self._params: list[_Param] | None = None
        self._takes_state = False

    def _build(self) -> list[_Param]:
        try:
            hints = typing.get_type_hints(self._func)
        except Exception:  # unresolvable forward reference: fall back to the raw annotations
            hints = {}
        params = []
        for p in inspect.signature(self._func).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if p.name == "state":
                self._takes_state = True
                continue
            annotation = hints.get(p.name, p.annotation)
            params.append(_Param(p.name, annotation, p.default, _is_optional(annotation), _converter(annotation)))
        return params

    def __call__(self, state: State) -> dict[str, Any]:
        params = self._params
        if params is None:
            params = self._params = self._build()
        kwargs: dict[str, Any] = {"state": state} if self._takes_state else {}
        for p in params:
            if p.name in state:
                value = state[p.name]
                if p.convert is not None and not (value is None and p.optional):
                    try:
                        value = p.convert(value)
                    except ValidationError as e:
                        reason = "; ".join(_describe_error(err) for err in e.errors())
                        raise StepArgumentError(
                            f"{self._label}: key {p.name!r} cannot be read as {_type_name(p.annotation)}: {reason}"
                        ) from None
                    except (ValueError, TypeError, LookupError) as e:
                        raise StepArgumentError(
                            f"{self._label}: key {p.name!r} cannot be read as {_type_name(p.annotation)}: {e}"
                        ) from e
                kwargs[p.name] = value
            elif p.default is not _MISSING:
                kwargs[p.name] = p.default
            elif p.optional:
                kwargs[p.name] = None
            else:
                raise StepArgumentError(
                    f"{self._label}: the state has no key {p.name!r} (expected {_type_name(p.annotation)})"
                )
        return kwargs
