"""Form labels per locale: orchestrion's own for its built-in forms, the application's merged over them.

orchestrator-ui labels form fields with ``forms.fields`` of ``/api/translations/{locale}``. An
application ships ``<locale>.json`` files in ``TRANSLATIONS_DIR``; what they say wins, key by key,
so an application can relabel one field without repeating the rest. A locale nobody has a file
for is no error: its answer is empty and the UI falls back to its own labels.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from orchestrion.errors import ApplicationCodeError, InvalidInputError

LOCALE_PATTERN = r"^[a-z]+-[A-Z]+$"  # en-GB, nl-NL: also what keeps a locale from naming another file
_LOCALE = re.compile(LOCALE_PATTERN)


def _read(path: Traversable | Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ApplicationCodeError(f"The translations in {path} are not valid JSON: {e}") from e
    if not isinstance(found, dict):
        raise ApplicationCodeError(f"The translations in {path} must be a JSON object, not {type(found).__name__}")
    return found


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: nested objects are merged, anything else in ``over`` replaces."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def translations(locale: str, application_dir: Path | None = None) -> dict[str, Any]:
    """The labels for ``locale``: orchestrion's file for it, with ``application_dir/<locale>.json`` over it."""
    if not _LOCALE.fullmatch(locale):
        raise InvalidInputError(f"{locale!r} is not a locale like en-GB")
    own = _read(files("orchestrion.forms").joinpath("translations", f"{locale}.json"))
    return _merged(own, _read(application_dir / f"{locale}.json") if application_dir else {})
