"""A fake external inventory (an OSS) that the example workflows provision into and validate against.

Real workflows call a network inventory or controller over HTTP here; this one keeps its records in
memory, so the examples run anywhere. Each call is idempotent, as steps that touch other systems
should be: provisioning a record twice leaves one record.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Any

_lock = threading.Lock()
_records: dict[str, dict[str, Any]] = {}
_next_loopback = ipaddress.IPv4Address("10.255.0.1")
_next_circuit_id = 1000


def allocate_loopback(key: str) -> ipaddress.IPv4Address:
    """The loopback address for ``key``: the same one when asked again."""
    global _next_loopback
    with _lock:
        if key in _records and "loopback" in _records[key]:
            return ipaddress.IPv4Address(_records[key]["loopback"])
        address = _next_loopback
        _next_loopback += 1
        _records.setdefault(key, {})["loopback"] = str(address)
        return address


def allocate_circuit_id(key: str) -> int:
    """A circuit number for ``key``: the same one when asked again."""
    global _next_circuit_id
    with _lock:
        if key in _records and "circuit_id" in _records[key]:
            return int(_records[key]["circuit_id"])
        _next_circuit_id += 1
        _records.setdefault(key, {})["circuit_id"] = _next_circuit_id
        return _next_circuit_id


def provision(key: str, **attributes: Any) -> None:
    with _lock:
        _records.setdefault(key, {}).update(attributes, provisioned=True)


def deprovision(key: str) -> None:
    with _lock:
        _records.pop(key, None)


def lookup(key: str) -> dict[str, Any] | None:
    with _lock:
        found = _records.get(key)
        return dict(found) if found is not None else None


def reset() -> None:
    """Forget everything (tests)."""
    global _next_loopback, _next_circuit_id
    with _lock:
        _records.clear()
        _next_loopback = ipaddress.IPv4Address("10.255.0.1")
        _next_circuit_id = 1000
