"""State <-> JSON.

The state is persisted as JSON after every step and the next step receives the round-tripped value,
so a process behaves the same whether it continues in memory or after a restart. Datetimes keep
their microseconds and timezone (naive ones are taken as UTC); UUIDs, Decimals and IP addresses
become strings and are converted back by the step's parameter annotations.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel

_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY

_IP_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
)


class StateSerializationError(TypeError):
    """A value in the state cannot be stored as JSON."""

    def __init__(self, key: str | None, value: Any) -> None:
        self.key = key
        where = f"key {key!r}" if key is not None else "the state"
        super().__init__(f"{where} holds a value of type {type(value).__name__} that cannot be stored as JSON")


def _default(value: Any) -> Any:
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
    raise TypeError


def dumps(value: Any) -> bytes:
    """Serialise to JSON bytes; on failure name the top-level key that could not be stored."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except TypeError:
        if isinstance(value, dict):
            for key, item in value.items():
                try:
                    orjson.dumps(item, default=_default, option=_OPTIONS)
                except TypeError:
                    raise StateSerializationError(str(key), item) from None
        raise StateSerializationError(None, value) from None


loads = orjson.loads


def roundtrip(state: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The state exactly as a later step (or a restarted process) will see it, and its JSON."""
    raw = dumps(state)
    return orjson.loads(raw), raw
