"""JSON as the state stores it, under orchestrator-core's names (``json_dumps``/``json_loads``).

Domain models, UUIDs, datetimes, IP addresses and enums serialise as they do in a process's state.
"""

from __future__ import annotations

from typing import Any

import orjson

from orchestrion.engine.serialization import dumps


def json_dumps(obj: Any, indent: bool = False, sort_keys: bool = False) -> str:
    """``obj`` as JSON text, serialised like the state (``indent``: two spaces; ``sort_keys``: sorted)."""
    if not indent and not sort_keys:
        return dumps(obj).decode()
    options = (orjson.OPT_INDENT_2 if indent else 0) | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(orjson.loads(dumps(obj)), option=options).decode()


def json_loads(s: str | bytes | bytearray) -> Any:
    return orjson.loads(s)


__all__ = ["json_dumps", "json_loads"]
