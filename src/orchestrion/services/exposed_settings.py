"""The settings an application runs with, as its settings page shows them: secrets never leave the server.

A ``SecretStr`` (``DATABASE_URI``) and any URL with a password (``CELERY_BROKER_URL`` pointing at a
broker with credentials) show without the password; ``API_TOKENS`` shows only whether it is set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings

MASK = "**********"
SECRET_FIELDS = frozenset({"API_TOKENS"})  # plain strings that hold credentials


def _without_password(text: str) -> str:
    """A URL with its password replaced by ``***``; anything else as it is."""
    try:
        password = urlsplit(text).password
    except ValueError:
        return text
    return text.replace(f":{password}@", ":***@", 1) if password else text


def _shown(name: str, value: Any) -> Any:
    if name in SECRET_FIELDS:
        return MASK if value else ""
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        return _without_password(secret) if "://" in secret else MASK  # a URL is shown, its password not
    if isinstance(value, str):
        return _without_password(value)
    if isinstance(value, Path):
        return str(value)
    return value


def exposed_settings(settings: BaseSettings, name: str = "app_settings") -> list[dict[str, Any]]:
    """``[{name, variables: [{env_name, env_value}]}]``, the variables by name, secrets masked."""
    variables = [
        {"env_name": field, "env_value": _shown(field, getattr(settings, field))}
        for field in sorted(type(settings).model_fields)
    ]
    return [{"name": name, "variables": variables}]
