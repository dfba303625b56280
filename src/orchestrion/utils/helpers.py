"""Small helpers orchestrator-core applications import."""

from __future__ import annotations


def to_camel(s: str) -> str:
    """``snake_case`` to ``camelCase`` (``customer_id`` -> ``customerId``), as GraphQL field names are."""
    first, *rest = s.split("_")
    return first + "".join(word.title() for word in rest)
