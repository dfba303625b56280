"""State <-> JSON.

The state is persisted as JSON after every step and the next step receives the round-tripped value,
so a process behaves the same whether it continues in memory or after a restart. Datetimes keep
their microseconds and timezone (naive ones are taken as UTC); UUIDs, Decimals and IP addresses
become strings and are converted back by the step's parameter annotations.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

from orchestrion.errors import OrchestrionError

# Keys sorted at every level (dataclasses too: through ``_default`` as dicts), so a state whose keys are
# all text is written as canonical JSON, the very bytes the history's hash chain covers (``db.chain``).
_CANONICAL = orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS
_OPTIONS = _CANONICAL | orjson.OPT_NON_STR_KEYS

_IP_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


class StateSerializationError(OrchestrionError, TypeError):
    """A value in the state cannot be stored as JSON; ``cause`` is what its own code raised, if anything did.

    A domain model's computed field or serializer may query, compute and fail while the state is
    stored; that exception is the reason the step failed, so it is kept (and chained) rather than
    reported as "cannot be stored".
    """

    def __init__(self, key: str | None, value: Any, cause: BaseException | None = None) -> None:
        self.key = key
        self.cause = cause
        where = f"key {key!r}" if key is not None else "the state"
        if cause is None:
            message = f"{where} holds a value of type {type(value).__name__} that cannot be stored as JSON"
        else:
            message = f"{where}: serialising its {type(value).__name__} raised {type(cause).__name__}: {cause}"
        super().__init__(message)


class _NoJsonFormError(TypeError):
    """``_default`` has no JSON form for this type (as opposed to the type's own code failing)."""


def _json_form(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (Decimal, *_IP_TYPES)):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    for method in ("__json__", "to_dict"):
        if callable(fn := getattr(value, method, None)):
            return fn()
    raise _NoJsonFormError


# orjson chains what ``default`` raised but drops its traceback; the traceback is kept here (per
# thread) so the step's recorded failure shows where a computed field or serializer raised.
_raised = threading.local()


def _default(value: Any) -> Any:
    try:
        return _json_form(value)
    except _NoJsonFormError:
        raise
    except Exception as e:
        _raised.last = (e, e.__traceback__)
        raise


def _own_error(error: TypeError) -> BaseException | None:
    """What a value's own code raised inside ``_default`` (orjson chains it), None for "no JSON form"."""
    cause = error.__cause__
    if cause is None or isinstance(cause, _NoJsonFormError):
        return None
    last = getattr(_raised, "last", None)
    _raised.last = None
    if last is not None and last[0] is cause and cause.__traceback__ is None:
        cause = cause.with_traceback(last[1])
    return cause


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes, keys sorted; on failure name the top-level key that could not be stored, and why."""
    return canonical_dumps(value)[0]


def canonical_dumps(value: Any) -> tuple[bytes, bool]:
    """``dumps``, and whether the bytes are canonical JSON: what ``orjson.dumps(loads(them),
    option=OPT_SORT_KEYS)`` writes. They are unless a key is not text (``{1: ...}`` is written as
    ``{"1": ...}``, and two keys may then collide)."""
    try:
        return orjson.dumps(value, default=_default, option=_CANONICAL), True
    except TypeError:
        pass  # a key that is not text, or a value that cannot be stored: find out below
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS), False
    except TypeError as whole:
        if isinstance(value, dict):
            for key, item in value.items():
                try:
                    orjson.dumps(item, default=_default, option=_OPTIONS)
                except TypeError as e:
                    cause = _own_error(e)
                    raise StateSerializationError(str(key), item, cause) from cause
        cause = _own_error(whole)
        raise StateSerializationError(None, value, cause) from cause


loads = orjson.loads


def roundtrip(state: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The state exactly as a later step (or a restarted process) will see it, and its JSON."""
    parsed, raw, _ = canonical_roundtrip(state)
    return parsed, raw


def canonical_roundtrip(state: dict[str, Any]) -> tuple[dict[str, Any], bytes, bool]:
    """``roundtrip``, and whether the JSON is canonical (``canonical_dumps``)."""
    raw, canonical = canonical_dumps(state)
    return orjson.loads(raw), raw, canonical
