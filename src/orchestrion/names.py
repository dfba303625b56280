"""Field names between Python (``snake_case``) and GraphQL or JSON (``camelCase``)."""

from __future__ import annotations

import re

_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def to_camel(s: str) -> str:
    """``customer_id`` -> ``customerId``."""
    first, *rest = s.split("_")
    return first + "".join(word.title() for word in rest)


def camel_to_snake(s: str) -> str:
    """``lastStatus`` -> ``last_status``."""
    return _WORD_START.sub("_", s).lower()
